//! Any bytes through the image loader: an error or an RGB image, never a panic, a hang or a
//! huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.img");
    if let Ok(img) = add_studio::data::image_io::decode_bytes(data, path) {
        let rgb = img.into_rgb8();
        assert!(u64::from(rgb.width()) * u64::from(rgb.height()) <= add_studio::data::image_io::MAX_PIXELS);
    }
});
