//! From a picture to the network's input, and from the network's output back to the picture.
//!
//! The rule for sizes: an image whose longer side exceeds `max_side` is scaled down (keeping
//! its aspect ratio, triangle filter) until it fits; the normalised image is then zero-padded on
//! the right and bottom to the next size of the form 32k+1 (as the reference pads Cityscapes to
//! 1025x2049), which keeps every level of the trellis aligned, and at least to [`MIN_SIDE`], so
//! that a thumbnail or a 3x900 strip runs like any other picture. Outputs are cropped back to
//! the scaled image and, if it was scaled, resized bilinearly to the original size.

use candle_core::{Device, Result, Tensor};
use image::RgbImage;

use crate::network::card::Normalization;

/// The smallest side the network runs at (the stride-32 level needs a few pixels); smaller
/// images are padded up to it.
pub const MIN_SIDE: u32 = 65;

/// An image ready for the network.
pub struct Prepared {
    /// (N=1, 3, H, W) normalised and padded.
    pub tensor: Tensor,
    /// Original size (width, height).
    pub image_size: (usize, usize),
    /// Size after scaling, before padding (width, height).
    pub scaled_size: (usize, usize),
    /// Padded size the network runs at (width, height).
    pub input_size: (usize, usize),
}

/// The next size of the form 32k+1 at or above `d`.
pub fn padded_dim(d: usize) -> usize {
    d.saturating_sub(1).div_ceil(32) * 32 + 1
}

/// Size after the scaling rule (width, height).
pub fn scaled_dims(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= max_side {
        return (w, h);
    }
    let s = max_side as f64 / long as f64;
    (((w as f64 * s).round() as u32).max(1), ((h as f64 * s).round() as u32).max(1))
}

/// Normalises, scales and pads `image` for the network.
pub fn prepare(
    image: &RgbImage,
    norm: &Normalization,
    max_side: u32,
    device: &Device,
) -> std::result::Result<Prepared, String> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(format!("image is {w}x{h}: it has no pixels"));
    }
    let (sw, sh) = scaled_dims(w, h, max_side.max(MIN_SIDE));
    let scaled;
    let img = if (sw, sh) != (w, h) {
        scaled = image::imageops::resize(image, sw, sh, image::imageops::FilterType::Triangle);
        &scaled
    } else {
        image
    };
    let min = MIN_SIDE as usize;
    let (pw, ph) = (padded_dim((sw as usize).max(min)), padded_dim((sh as usize).max(min)));
    let plane = ph * pw;
    let mut data = vec![0f32; 3 * plane];
    for (x, y, p) in img.enumerate_pixels() {
        for c in 0..3 {
            data[c * plane + y as usize * pw + x as usize] = (p[c] as f32 / 255.0 - norm.mean[c]) / norm.std[c];
        }
    }
    let tensor = Tensor::from_vec(data, (1, 3, ph, pw), device).map_err(|e| e.to_string())?;
    Ok(Prepared {
        tensor,
        image_size: (w as usize, h as usize),
        scaled_size: (sw as usize, sh as usize),
        input_size: (pw, ph),
    })
}

impl Prepared {
    /// Crops network-sized maps (N,C,H,W) to the image and resizes them to its original size.
    pub fn to_image(&self, x: &Tensor) -> Result<Tensor> {
        let (sw, sh) = self.scaled_size;
        let x = x.narrow(2, 0, sh)?.narrow(3, 0, sw)?;
        let (w, h) = self.image_size;
        if (w, h) == (sw, sh) { Ok(x) } else { crate::network::layers::resize(&x.contiguous()?, h, w) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_rule() {
        assert_eq!(padded_dim(1024), 1025);
        assert_eq!(padded_dim(1025), 1025);
        assert_eq!(padded_dim(65), 65);
        assert_eq!(padded_dim(66), 97);
        assert_eq!(scaled_dims(4000, 3000, 2049), (2049, 1537));
        assert_eq!(scaled_dims(500, 300, 2049), (500, 300));
    }

    #[test]
    fn pads_with_zeros_after_normalising() {
        let img = RgbImage::from_pixel(70, 66, image::Rgb([255, 0, 128]));
        let p = prepare(&img, &Normalization::default(), 2049, &Device::Cpu).unwrap();
        assert_eq!(p.input_size, (97, 97));
        let t = p.tensor.squeeze(0).unwrap();
        let v: Vec<Vec<Vec<f32>>> = t.to_vec3().unwrap();
        let n = Normalization::default();
        assert!((v[0][0][0] - (1.0 - n.mean[0]) / n.std[0]).abs() < 1e-6);
        assert_eq!(v[0][96][96], 0.0);
        assert_eq!(v[1][66][0], 0.0);
        assert!(v[1][65][69] != 0.0);
        assert_eq!(v[2][0][70], 0.0);
        // tiny images are padded up to the smallest size the network runs at
        let p = prepare(&RgbImage::new(3, 900), &n, 2049, &Device::Cpu).unwrap();
        assert_eq!((p.input_size, p.scaled_size), ((65, 929), (3, 900)));
        let p = prepare(&RgbImage::new(1, 1), &n, 2049, &Device::Cpu).unwrap();
        assert_eq!(p.input_size, (65, 65));
        assert!(prepare(&RgbImage::new(0, 5), &n, 2049, &Device::Cpu).is_err());
    }
}
