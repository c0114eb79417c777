//! Training augmentation as pure functions of (image, label, rng): random scale, crop with
//! ignore padding, horizontal flip, colour jitter. The label is always resampled with nearest
//! neighbour and padded with 255, so it never invents classes or mixes them at borders.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::Rng;

/// Augmentation settings (the reference recipe: scale 0.5..2, crop, flip, mild jitter).
#[derive(Debug, Clone, Copy)]
pub struct AugmentParams {
    pub scale: (f32, f32),
    /// Output (height, width).
    pub crop: (u32, u32),
    pub flip: bool,
    /// Strength of brightness / contrast / saturation jitter (0 = none).
    pub jitter: f32,
    /// Image fill where the crop leaves the scaled image.
    pub fill: [u8; 3],
}

impl Default for AugmentParams {
    fn default() -> Self {
        AugmentParams { scale: (0.5, 2.0), crop: (257, 513), flip: true, jitter: 0.2, fill: [0, 0, 0] }
    }
}

/// Scales image (bilinear) and label (nearest) by `factor`.
pub fn scale(img: &RgbImage, label: &GrayImage, factor: f32) -> (RgbImage, GrayImage) {
    let w = ((img.width() as f32 * factor).round() as u32).max(1);
    let h = ((img.height() as f32 * factor).round() as u32).max(1);
    (imageops::resize(img, w, h, FilterType::Triangle), imageops::resize(label, w, h, FilterType::Nearest))
}

/// Cuts the (h, w) window at (x0, y0), which may reach outside: outside pixels become `fill`
/// in the image and 255 (ignore) in the label.
pub fn crop_pad(
    img: &RgbImage,
    label: &GrayImage,
    x0: i64,
    y0: i64,
    h: u32,
    w: u32,
    fill: [u8; 3],
) -> (RgbImage, GrayImage) {
    let mut oi = RgbImage::from_pixel(w, h, Rgb(fill));
    let mut ol = GrayImage::from_pixel(w, h, Luma([255]));
    for y in 0..h {
        let sy = y0 + i64::from(y);
        if sy < 0 || sy >= i64::from(img.height()) {
            continue;
        }
        for x in 0..w {
            let sx = x0 + i64::from(x);
            if sx < 0 || sx >= i64::from(img.width()) {
                continue;
            }
            oi.put_pixel(x, y, *img.get_pixel(sx as u32, sy as u32));
            ol.put_pixel(x, y, *label.get_pixel(sx as u32, sy as u32));
        }
    }
    (oi, ol)
}

/// Mirrors both left to right.
pub fn hflip(img: &RgbImage, label: &GrayImage) -> (RgbImage, GrayImage) {
    (imageops::flip_horizontal(img), imageops::flip_horizontal(label))
}

/// Multiplies brightness by `b`, scales contrast around the mean by `c` and saturation by `s`.
pub fn color_jitter(img: &RgbImage, b: f32, c: f32, s: f32) -> RgbImage {
    let n = (img.width() * img.height()).max(1) as f32;
    let mean = img.pixels().map(|p| luma(p)).sum::<f32>() / n;
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let l = luma(p);
        for ch in p.0.iter_mut() {
            let v = f32::from(*ch);
            let v = l + (v - l) * s; // saturation
            let v = mean + (v - mean) * c; // contrast
            *ch = (v * b).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
}

/// One random training view: scale, crop (padding with ignore), flip, jitter.
pub fn augment(img: &RgbImage, label: &GrayImage, p: &AugmentParams, rng: &mut impl Rng) -> (RgbImage, GrayImage) {
    let f = if p.scale.0 < p.scale.1 { rng.random_range(p.scale.0..p.scale.1) } else { p.scale.0 };
    let (si, sl) = scale(img, label, f);
    let (ch, cw) = p.crop;
    let x0 = if si.width() > cw { rng.random_range(0..=si.width() - cw) } else { 0 };
    let y0 = if si.height() > ch { rng.random_range(0..=si.height() - ch) } else { 0 };
    let (mut oi, mut ol) = crop_pad(&si, &sl, i64::from(x0), i64::from(y0), ch, cw, p.fill);
    if p.flip && rng.random::<bool>() {
        (oi, ol) = hflip(&oi, &ol);
    }
    if p.jitter > 0.0 {
        let j = p.jitter;
        let mut k = || rng.random_range(1.0 - j..1.0 + j);
        let (b, c, s) = (k(), k(), k());
        oi = color_jitter(&oi, b, c, s);
    }
    (oi, ol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn pair() -> (RgbImage, GrayImage) {
        let img = RgbImage::from_fn(40, 20, |x, y| Rgb([x as u8 * 6, y as u8 * 12, 90]));
        let label = GrayImage::from_fn(40, 20, |x, _| Luma([if x < 20 { 0 } else { 13 }]));
        (img, label)
    }

    #[test]
    fn labels_keep_their_class_set_and_pad_with_ignore() {
        let (img, label) = pair();
        let p = AugmentParams { crop: (32, 64), ..AugmentParams::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let (oi, ol) = augment(&img, &label, &p, &mut rng);
            assert_eq!(oi.dimensions(), (64, 32));
            assert_eq!(ol.dimensions(), (64, 32));
            assert!(ol.pixels().all(|l| [0, 13, 255].contains(&l[0])));
        }
        let (_, ol) = crop_pad(&img, &label, -5, 0, 20, 10, [0; 3]);
        assert_eq!(ol.get_pixel(0, 0)[0], 255);
        assert_eq!(ol.get_pixel(5, 0)[0], 0);
    }

    #[test]
    fn same_seed_same_view_and_flip_mirrors_both() {
        let (img, label) = pair();
        let p = AugmentParams { crop: (16, 16), ..AugmentParams::default() };
        let a = augment(&img, &label, &p, &mut ChaCha8Rng::seed_from_u64(9));
        let b = augment(&img, &label, &p, &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        let (fi, fl) = hflip(&img, &label);
        assert_eq!(fi.get_pixel(0, 3), img.get_pixel(39, 3));
        assert_eq!(fl.get_pixel(0, 3)[0], 13);
    }

    #[test]
    fn scale_uses_nearest_for_labels() {
        let (img, label) = pair();
        let (si, sl) = scale(&img, &label, 1.7);
        assert_eq!(si.dimensions(), sl.dimensions());
        assert!(sl.pixels().all(|l| l[0] == 0 || l[0] == 13));
        let j = color_jitter(&img, 1.0, 1.0, 1.0);
        assert_eq!(j, img);
    }
}
