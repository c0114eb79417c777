//! Maps as pictures: a class map in the card's palette, a [0, 1] map as grey, a thumbnail.

use image::{DynamicImage, GrayImage, RgbImage};

use crate::engine::ExitMaps;
use crate::network::ArchCard;

/// A class map in the card's palette (unknown and unlabelled classes black).
pub fn palette_image(m: &ExitMaps, card: &ArchCard) -> DynamicImage {
    classes_image(m.width, m.height, &m.classes, card)
}

/// Class ids (row-major) in the card's palette; ids outside the card black.
pub fn classes_image(w: usize, h: usize, classes: &[u8], card: &ArchCard) -> DynamicImage {
    let img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let c = classes[y as usize * w + x as usize] as usize;
        image::Rgb(card.classes.get(c).map_or([0, 0, 0], |ci| ci.color))
    });
    DynamicImage::ImageRgb8(img)
}

/// A [0,1] map as 8-bit grey.
pub fn gray_image(w: usize, h: usize, v: &[f32]) -> DynamicImage {
    let img = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        image::Luma([(v[y as usize * w + x as usize].clamp(0.0, 1.0) * 255.0).round() as u8])
    });
    DynamicImage::ImageLuma8(img)
}

/// `img` scaled to `width` pixels wide (aspect kept; nearest neighbour, so classes stay crisp).
pub fn thumbnail(img: &DynamicImage, width: u32) -> DynamicImage {
    let h = (img.height() as u64 * width as u64 / img.width().max(1) as u64).max(1) as u32;
    img.resize_exact(width, h, image::imageops::FilterType::Nearest)
}
