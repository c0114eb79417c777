//! Reading and writing images safely.
//!
//! Every image the app or a loader opens goes through [`load_rgb`] / [`load_label`], so that a
//! corrupt file, a misleading extension or a decompression bomb fails the same way everywhere,
//! with an error that names the file and what was expected. Writes go through
//! [`save_png_atomic`] so that a crash never leaves a half-written PNG where a user's file was.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// Largest accepted side, in pixels. Cityscapes frames are 2048 wide; 16384 leaves room for
/// panoramas while refusing headers that claim absurd sizes.
pub const MAX_SIDE: u32 = 16384;

/// The file extensions taken for images wherever a folder is listed or a file dialog filters
/// (lower case, no dot). The decoder itself goes by content, not by name.
pub const IMAGE_EXTENSIONS: [&str; 10] = ["png", "jpg", "jpeg", "jfif", "webp", "bmp", "tif", "tiff", "gif", "ppm"];

/// Whether `p`'s extension is one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
/// Largest accepted pixel count (100 Mpx): about 300 MB as RGB8, the most we agree to allocate.
pub const MAX_PIXELS: u64 = 100_000_000;

/// What went wrong with a file, naming the file and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: empty file (0 bytes); expected an image")]
    Empty { path: PathBuf },
    #[error("{path}: not a recognised image (expected PNG, JPEG, WebP, BMP or TIFF content)")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: corrupt or truncated image: {source}")]
    Decode { path: PathBuf, source: image::ImageError },
    #[error(
        "{path}: image claims {width}x{height} px; refused (at most {MAX_SIDE} px a side and \
         {MAX_PIXELS} px in all)"
    )]
    TooLarge { path: PathBuf, width: u32, height: u32 },
    #[error("{path}: decoding it would need more memory than an image may take: {source}")]
    OverMemoryLimit { path: PathBuf, source: image::ImageError },
    #[error("{path}: an image variant this reader does not support: {source}")]
    Unsupported { path: PathBuf, source: image::ImageError },
    #[error("{path}: a label must be an 8-bit single-channel PNG of class ids (trainIds), found {found}")]
    LabelNotGrey { path: PathBuf, found: String },
    #[error(
        "{path}: label value {value} is not a class id (0..={max}) nor 255 (ignore); \
         {count} pixel(s) have out-of-range values"
    )]
    LabelValue { path: PathBuf, value: u8, max: u32, count: u64 },
    #[error("{path}: {count} pixel(s) have colours outside the label palette, e.g. {color:?}")]
    LabelColor { path: PathBuf, color: [u8; 3], count: u64 },
    #[error("{image} is {image_size:?} (w, h) but its label {label} is {label_size:?}")]
    SizeMismatch { image: PathBuf, label: PathBuf, image_size: (u32, u32), label_size: (u32, u32) },
    #[error("{path}: cannot write PNG: {source}")]
    Encode { path: PathBuf, source: image::ImageError },
}

impl DataError {
    /// The file the error is about (the image for a size mismatch).
    pub fn path(&self) -> &Path {
        match self {
            DataError::Io { path, .. }
            | DataError::Empty { path }
            | DataError::UnknownFormat { path }
            | DataError::Decode { path, .. }
            | DataError::TooLarge { path, .. }
            | DataError::Unsupported { path, .. }
            | DataError::OverMemoryLimit { path, .. }
            | DataError::LabelNotGrey { path, .. }
            | DataError::LabelValue { path, .. }
            | DataError::LabelColor { path, .. }
            | DataError::Encode { path, .. } => path,
            DataError::SizeMismatch { image, .. } => image,
        }
    }
}

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    // 100 Mpx of 16-bit RGBA is 800 MB; the header check below already bounds pixel count.
    l.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    l
}

/// Decodes a file by its content (the extension is ignored), refusing oversized headers before
/// any pixel buffer is allocated, and applying EXIF orientation.
pub fn load_dynamic(path: &Path) -> Result<DynamicImage, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    decode_bytes(&bytes, path)
}

/// [`load_dynamic`] on bytes already in memory; `path` only names the source in errors.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<DynamicImage, DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    let reader = |limits: Limits| -> Result<ImageReader<Cursor<&[u8]>>, DataError> {
        let mut r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|source| DataError::Io { path: path.into(), source })?;
        if r.format().is_none() {
            return Err(DataError::UnknownFormat { path: path.into() });
        }
        r.limits(limits);
        Ok(r)
    };
    let err = |source: image::ImageError, dims: Option<(u32, u32)>| match (source, dims) {
        (image::ImageError::Limits(_), Some((width, height))) => {
            DataError::TooLarge { path: path.into(), width, height }
        }
        (source @ image::ImageError::Limits(_), None) => DataError::OverMemoryLimit { path: path.into(), source },
        (source @ image::ImageError::Unsupported(_), _) => DataError::Unsupported { path: path.into(), source },
        (source, _) => DataError::Decode { path: path.into(), source },
    };
    // Probe the header with no size limits, so that a bomb is reported with its size, but with
    // the memory limit, so that a header cannot make the probe itself allocate without bound.
    let mut probe = limits();
    (probe.max_image_width, probe.max_image_height) = (None, None);
    let (width, height) = reader(probe)?.into_dimensions().map_err(|e| err(e, None))?;
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DataError::TooLarge { path: path.into(), width, height });
    }
    let dims = Some((width, height));
    let mut decoder = reader(limits())?.into_decoder().map_err(|e| err(e, dims))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| err(e, dims))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Loads any PNG/JPEG/WebP/BMP/TIFF (8 or 16 bit, grey, RGB, RGBA, palette) as 8-bit RGB.
/// Alpha is dropped, 16-bit samples are scaled down. Any size from 1 px is accepted (the
/// engine pads small images).
pub fn load_rgb(path: &Path) -> Result<image::RgbImage, DataError> {
    Ok(load_dynamic(path)?.into_rgb8())
}

/// Loads an 8-bit single-channel label mask of class ids (Cityscapes `labelTrainIds`): values
/// must be `< num_classes` or 255 (ignore). Colour masks are refused rather than guessed.
pub fn load_label(path: &Path, num_classes: u32) -> Result<image::GrayImage, DataError> {
    let img = load_dynamic(path)?;
    let grey = match img {
        DynamicImage::ImageLuma8(g) => g,
        other => {
            return Err(DataError::LabelNotGrey { path: path.into(), found: describe(&other) });
        }
    };
    check_label_values(&grey, num_classes, path)?;
    Ok(grey)
}

/// Checks that every value is a class id below `num_classes` or 255.
pub fn check_label_values(label: &image::GrayImage, num_classes: u32, path: &Path) -> Result<(), DataError> {
    let mut count = 0u64;
    let mut first = None;
    for &v in label.as_raw() {
        if u32::from(v) >= num_classes && v != 255 {
            count += 1;
            first.get_or_insert(v);
        }
    }
    match first {
        None => Ok(()),
        Some(value) => {
            Err(DataError::LabelValue { path: path.into(), value, max: num_classes.saturating_sub(1), count })
        }
    }
}

fn describe(img: &DynamicImage) -> String {
    let kind = match img {
        DynamicImage::ImageLuma8(_) => "8-bit grey",
        DynamicImage::ImageLumaA8(_) => "8-bit grey with alpha",
        DynamicImage::ImageRgb8(_) => "8-bit RGB (a colour or palette mask?)",
        DynamicImage::ImageRgba8(_) => "8-bit RGBA (a colour or palette mask?)",
        DynamicImage::ImageLuma16(_) => "16-bit grey",
        DynamicImage::ImageLumaA16(_) => "16-bit grey with alpha",
        DynamicImage::ImageRgb16(_) => "16-bit RGB",
        DynamicImage::ImageRgba16(_) => "16-bit RGBA",
        _ => "floating-point or other image",
    };
    kind.to_string()
}

/// How hard to compress a PNG: `Fast` for bulk generated data, `Small` for files kept in git.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PngSpeed {
    #[default]
    Fast,
    Small,
}

/// How to save: compression, and whether to fsync before the rename (`durable`), which
/// protects against power loss but costs a disk flush per file; regenerable bulk data skips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOptions {
    pub speed: PngSpeed,
    pub durable: bool,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions { speed: PngSpeed::Fast, durable: true }
    }
}

/// Encodes `img` as PNG in memory.
pub fn encode_png(img: &DynamicImage, speed: PngSpeed, path: &Path) -> Result<Vec<u8>, DataError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut buf = Vec::new();
    let (compression, filter) = match speed {
        PngSpeed::Fast => (CompressionType::Fast, FilterType::Adaptive),
        PngSpeed::Small => (CompressionType::Best, FilterType::Adaptive),
    };
    let enc = PngEncoder::new_with_quality(&mut buf, compression, filter);
    img.write_with_encoder(enc).map_err(|source| DataError::Encode { path: path.into(), source })?;
    Ok(buf)
}

/// Writes `img` as a PNG to `path` through a temporary file in the same folder and a rename,
/// so `path` is either the old file or the complete new one, never half-written. Creates the
/// parent folders.
pub fn save_png_atomic(img: &DynamicImage, path: &Path) -> Result<(), DataError> {
    save_png_atomic_with(img, path, SaveOptions::default())
}

/// [`save_png_atomic`] with a choice of compression and durability.
pub fn save_png_atomic_with(img: &DynamicImage, path: &Path, opts: SaveOptions) -> Result<(), DataError> {
    let bytes = encode_png(img, opts.speed, path)?;
    write_atomic_with(path, &bytes, opts.durable)
}

/// Writes bytes to `path` via a temporary sibling file, an fsync and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    write_atomic_with(path, bytes, true)
}

/// [`write_atomic`], with the fsync optional.
pub fn write_atomic_with(path: &Path, bytes: &[u8], durable: bool) -> Result<(), DataError> {
    crate::fsutil::atomic_write_with(path, durable, |f| f.write_all(bytes))
        .map_err(|source| DataError::Io { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba};

    fn tiny_rgb() -> RgbImage {
        RgbImage::from_fn(7, 5, |x, y| Rgb([x as u8 * 30, y as u8 * 40, 200]))
    }

    #[test]
    fn lying_extension_is_read_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("photo.jpg"); // really a PNG
        DynamicImage::ImageRgb8(tiny_rgb()).save_with_format(&p, image::ImageFormat::Png).unwrap();
        assert_eq!(load_rgb(&p).unwrap(), tiny_rgb());
        let b = dir.path().join("noext");
        DynamicImage::ImageRgb8(tiny_rgb()).save_with_format(&b, image::ImageFormat::Bmp).unwrap();
        assert_eq!(load_rgb(&b).unwrap(), tiny_rgb());
    }

    #[test]
    fn sixteen_bit_grey_and_rgba_become_rgb8() {
        let dir = tempfile::tempdir().unwrap();
        let p16 = dir.path().join("a.png");
        let img16: ImageBuffer<Rgb<u16>, Vec<u16>> =
            ImageBuffer::from_fn(4, 3, |x, _| Rgb([x as u16 * 0x4000, 0xffff, 0]));
        DynamicImage::ImageRgb16(img16).save(&p16).unwrap();
        let got = load_rgb(&p16).unwrap();
        assert_eq!(got.get_pixel(1, 0), &Rgb([64, 255, 0]));

        let pg = dir.path().join("g.tiff");
        DynamicImage::ImageLuma8(GrayImage::from_pixel(3, 3, Luma([77]))).save(&pg).unwrap();
        assert_eq!(load_rgb(&pg).unwrap().get_pixel(2, 2), &Rgb([77, 77, 77]));

        let pa = dir.path().join("a.webp");
        let rgba = image::RgbaImage::from_pixel(3, 2, Rgba([10, 20, 30, 128]));
        DynamicImage::ImageRgba8(rgba).save_with_format(&pa, image::ImageFormat::WebP).unwrap();
        assert_eq!(load_rgb(&pa).unwrap().get_pixel(0, 0), &Rgb([10, 20, 30]));
    }

    #[test]
    fn corrupt_and_truncated_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"this is not an image at all").unwrap();
        let e = load_rgb(&junk).unwrap_err();
        assert!(matches!(e, DataError::UnknownFormat { .. }), "{e}");
        assert!(e.to_string().contains("junk.png"));

        let full = dir.path().join("full.png");
        DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8, y as u8, 3]))).save(&full).unwrap();
        let bytes = std::fs::read(&full).unwrap();
        let cut = dir.path().join("cut.png");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_rgb(&cut).unwrap_err();
        assert!(matches!(e, DataError::Decode { .. }), "{e}");
        assert!(e.to_string().contains("cut.png"));

        let missing = dir.path().join("missing.png");
        assert!(matches!(load_rgb(&missing).unwrap_err(), DataError::Io { .. }));
    }

    #[test]
    fn labels_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.png");
        let mut g = GrayImage::from_fn(6, 4, |x, _| Luma([x as u8]));
        g.put_pixel(0, 0, Luma([255]));
        save_png_atomic(&DynamicImage::ImageLuma8(g.clone()), &good).unwrap();
        assert_eq!(load_label(&good, 19).unwrap(), g);

        let bad = dir.path().join("bad.png");
        let mut b = g.clone();
        b.put_pixel(1, 1, Luma([33]));
        b.put_pixel(2, 1, Luma([40]));
        save_png_atomic(&DynamicImage::ImageLuma8(b), &bad).unwrap();
        match load_label(&bad, 19).unwrap_err() {
            DataError::LabelValue { path, value, count, .. } => {
                assert_eq!(path, bad);
                assert_eq!(value, 33);
                assert_eq!(count, 2);
            }
            e => panic!("unexpected {e}"),
        }

        let colour = dir.path().join("colour.png");
        DynamicImage::ImageRgb8(tiny_rgb()).save(&colour).unwrap();
        assert!(matches!(load_label(&colour, 19).unwrap_err(), DataError::LabelNotGrey { .. }));
    }

    #[test]
    fn atomic_save_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/out.png");
        save_png_atomic(&DynamicImage::ImageRgb8(tiny_rgb()), &p).unwrap();
        save_png_atomic(&DynamicImage::ImageRgb8(RgbImage::new(2, 2)), &p).unwrap();
        assert_eq!(load_rgb(&p).unwrap().dimensions(), (2, 2));
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
