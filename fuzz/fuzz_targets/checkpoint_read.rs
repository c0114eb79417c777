//! Any bytes as a weights file (safetensors, or a PyTorch zip with its pickle): an error or
//! tensors, never a panic that escapes, a hang or a huge allocation. candle's pickle reader
//! panics on some malformed records; the loader catches those, so the fuzzer's abort-on-panic
//! hook is replaced by the default one and only panics that escape the loader count.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Once;

static HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
    });
    let path = std::env::temp_dir().join(format!("add-studio-fuzz-{}.bin", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let _ = add_studio::network::checkpoint::TensorFile::read(&path);
});
