//! Images: for each format, a good file and its damaged copies (empty, header only, half,
//! noise), lying extensions, headers that claim absurd sizes, tiny and odd colour types.

use super::{Corpus, Expect, noise};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage, Rgba};
use std::io::Cursor;
use std::path::Path;

pub const W: u32 = 40;
pub const H: u32 = 30;

fn base() -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(W, H, |x, y| Rgb([(x * 6) as u8, (y * 8) as u8, 128])))
}

pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut c = Cursor::new(Vec::new());
    img.write_to(&mut c, format).unwrap();
    c.into_inner()
}

/// What a file cut short (or with a header the decoder rejects) is refused as.
const TRUNCATED: &str = "corrupt or truncated image";

pub const FORMATS: [(ImageFormat, &str); 6] = [
    (ImageFormat::Png, "png"),
    (ImageFormat::Jpeg, "jpg"),
    (ImageFormat::Tiff, "tiff"),
    (ImageFormat::WebP, "webp"),
    (ImageFormat::Bmp, "bmp"),
    (ImageFormat::Gif, "gif"),
];

/// Writes the image corpus into `dir`.
pub fn corpus(dir: &Path) -> Corpus {
    let mut c = Corpus::new(dir);
    let good = base();
    for (i, (format, ext)) in FORMATS.into_iter().enumerate() {
        let bytes = encode(&good, format);
        c.add(&format!("{ext}_ok.{ext}"), &bytes, Expect::Loads(W, H));
        c.add(&format!("{ext}_empty.{ext}"), &[], Expect::Fails("empty file"));
        c.add(&format!("{ext}_header_only.{ext}"), &bytes[..20], Expect::Fails(TRUNCATED));
        c.add(&format!("{ext}_half.{ext}"), &bytes[..bytes.len() / 2], Expect::Fails(TRUNCATED));
        c.add(&format!("{ext}_noise.{ext}"), &noise(bytes.len(), i as u64), Expect::Fails("not a recognised image"));
    }
    // extensions that lie: the content decides
    for (from, to) in [("png", "jpg"), ("jpg", "png"), ("webp", "tiff"), ("tiff", "webp"), ("bmp", "gif")] {
        let bytes = std::fs::read(dir.join(format!("{from}_ok.{from}"))).unwrap();
        c.add(&format!("{from}_named.{to}"), &bytes, Expect::Loads(W, H));
    }
    c.add("text_named.png", b"just some notes, not a picture\n", Expect::Fails("not a recognised image"));
    bombs(&mut c);
    odd_but_fine(&mut c);
    c
}

/// Small files whose headers claim gigapixels: refused by size before any pixel is allocated.
fn bombs(c: &mut Corpus) {
    let one = DynamicImage::ImageRgb8(RgbImage::new(1, 1));
    let mut png = encode(&one, ImageFormat::Png);
    set_png_size(&mut png, 100_000, 100_000);
    c.add("bomb.png", &png, Expect::Fails("100000x100000"));
    let mut zero = encode(&one, ImageFormat::Png);
    set_png_size(&mut zero, 0, 7);
    c.add("zero_width.png", &zero, Expect::Fails(TRUNCATED));

    let mut jpg = encode(&one, ImageFormat::Jpeg);
    let sof = jpg.windows(2).position(|w| w == [0xff, 0xc0]).expect("baseline JPEG");
    jpg[sof + 5..sof + 9].copy_from_slice(&[0xff, 0xdc, 0xff, 0xdc]); // 65500 x 65500
    c.add("bomb.jpg", &jpg, Expect::Fails("65500x65500"));

    let mut tiff = encode(&one, ImageFormat::Tiff);
    set_tiff_size(&mut tiff, 65_535);
    c.add("bomb.tiff", &tiff, Expect::Fails("65535x65535"));

    let mut webp = encode(&one, ImageFormat::WebP);
    assert_eq!(&webp[12..16], b"VP8L", "lossless WebP");
    let bits = u32::from_le_bytes(webp[21..25].try_into().unwrap());
    let bits = (bits & !0x0fff_ffff) | 16_382 | (16_382 << 14); // 16383 x 16383, the most VP8L can say
    webp[21..25].copy_from_slice(&bits.to_le_bytes());
    c.add("bomb.webp", &webp, Expect::Fails("16383x16383"));

    for (name, side, words) in [("bomb.bmp", 60_000, "60000x60000"), ("beyond_bmp_limit.bmp", 100_000, "too large")] {
        let mut bmp = encode(&one, ImageFormat::Bmp);
        bmp[18..22].copy_from_slice(&(side as i32).to_le_bytes());
        bmp[22..26].copy_from_slice(&(side as i32).to_le_bytes());
        c.add(name, &bmp, Expect::Fails(words));
    }

    let mut gif = encode(&one, ImageFormat::Gif);
    gif[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]); // logical screen 65535 x 65535
    c.add("bomb.gif", &gif, Expect::Fails("65535x65535"));
}

/// Unusual but valid images: all must load as RGB of their own size.
fn odd_but_fine(c: &mut Corpus) {
    let png = |img: DynamicImage| encode(&img, ImageFormat::Png);
    c.add("tiny_1x1.png", &png(DynamicImage::ImageRgb8(RgbImage::new(1, 1))), Expect::Loads(1, 1));
    let strip = RgbImage::from_fn(3, 900, |x, y| Rgb([x as u8 * 80, (y % 256) as u8, 9]));
    c.add("strip_3x900.png", &png(DynamicImage::ImageRgb8(strip)), Expect::Loads(3, 900));
    let grey = ImageBuffer::from_fn(W, H, |x, _| Luma([x as u8 * 6]));
    c.add("grey8.png", &png(DynamicImage::ImageLuma8(grey.clone())), Expect::Loads(W, H));
    c.add("grey8.jpg", &encode(&DynamicImage::ImageLuma8(grey), ImageFormat::Jpeg), Expect::Loads(W, H));
    let grey16 = ImageBuffer::from_fn(W, H, |x, _| Luma([x as u16 * 1500]));
    c.add("grey16.png", &png(DynamicImage::ImageLuma16(grey16)), Expect::Loads(W, H));
    let ga = ImageBuffer::from_fn(W, H, |x, y| LumaA([x as u8, y as u8]));
    c.add("grey_alpha.png", &png(DynamicImage::ImageLumaA8(ga)), Expect::Loads(W, H));
    let rgb16 = ImageBuffer::from_fn(W, H, |x, y| Rgb([x as u16 * 1000, y as u16 * 2000, 7]));
    let rgb16 = DynamicImage::ImageRgb16(rgb16);
    c.add("rgb16.png", &png(rgb16.clone()), Expect::Loads(W, H));
    c.add("rgb16.tiff", &encode(&rgb16, ImageFormat::Tiff), Expect::Loads(W, H));
    let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_fn(W, H, |x, y| Rgba([x as u8, y as u8, 3, 100])));
    c.add("rgba.png", &png(rgba.clone()), Expect::Loads(W, H));
    c.add("rgba.webp", &encode(&rgba, ImageFormat::WebP), Expect::Loads(W, H));
    c.add("rgba.tiff", &encode(&rgba, ImageFormat::Tiff), Expect::Loads(W, H));
    c.add("palette.png", &palette_png(W, H), Expect::Loads(W, H));
    for name in ["cmyk.jpg", "cmyk.tiff"] {
        c.add(name, &std::fs::read(super::fixture(name)).unwrap(), Expect::Loads(8, 6));
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Rewrites a PNG's IHDR size (and its CRC, so only the size is wrong).
pub fn set_png_size(png: &mut [u8], w: u32, h: u32) {
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
}

/// Rewrites the width and height tags of a little-endian TIFF's first directory.
fn set_tiff_size(tiff: &mut [u8], side: u32) {
    assert_eq!(&tiff[..2], b"II");
    let ifd = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let n = u16::from_le_bytes(tiff[ifd..ifd + 2].try_into().unwrap()) as usize;
    for e in (0..n).map(|i| ifd + 2 + 12 * i) {
        let tag = u16::from_le_bytes(tiff[e..e + 2].try_into().unwrap());
        if tag == 256 || tag == 257 {
            let kind = u16::from_le_bytes(tiff[e + 2..e + 4].try_into().unwrap());
            match kind {
                3 => tiff[e + 8..e + 10].copy_from_slice(&(side.min(65_535) as u16).to_le_bytes()),
                4 => tiff[e + 8..e + 12].copy_from_slice(&side.to_le_bytes()),
                other => panic!("TIFF size tag of type {other}"),
            }
        }
    }
}

/// An 8-bit palette PNG (the image crate writes none), zlib with stored blocks.
fn palette_png(w: u32, h: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0); // filter: none
        raw.extend((0..w).map(|x| ((x + y) % 3) as u8));
    }
    let mut z = vec![0x78, 0x01];
    for (i, block) in raw.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= raw.len();
        z.push(u8::from(last));
        z.extend_from_slice(&(block.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(block.len() as u16)).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &v in &raw {
        a = (a + u32::from(v)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"PLTE", &[255, 0, 0, 0, 255, 0, 0, 0, 255]);
    png_chunk(&mut png, b"IDAT", &z);
    png_chunk(&mut png, b"IEND", &[]);
    png
}
