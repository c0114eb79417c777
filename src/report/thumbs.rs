//! An image's pictures for the report, made from what the evaluation pass already computed
//! (no second run): the photo, the label, every exit, full Auto-DeepLab and the EDM-maps, each
//! scaled down when made, so a candidate costs a few hundred kB however large the image. Only
//! the images that end up in the report are encoded as PNG.

use std::path::Path;

use image::DynamicImage;

use crate::data::image_io::{PngSpeed, SaveOptions, save_png_atomic_with};
use crate::engine::RunEvent;
use crate::eval::collect::Seen;
use crate::export::render::{classes_image, gray_image, palette_image, thumbnail};
use crate::network::ArchCard;

/// Thumbnail width in pixels (the page shows them 240 px wide; the rest is for sharp screens).
const WIDTH: u32 = 320;

/// One image's thumbnails: (file name under images/, caption, picture).
pub struct Pictures(Vec<(String, String, DynamicImage)>);

/// The thumbnails of the image `seen` (its events must come from an analysis run with EDM-maps).
pub fn pictures(seen: &Seen<'_>, card: &ArchCard) -> Pictures {
    let i = seen.index;
    let mut out = Vec::new();
    let mut add = |img: DynamicImage, what: &str, caption: String| {
        out.push((format!("{i:05}_{what}.png"), caption, thumbnail(&img, WIDTH)));
    };
    let (w, h) = (seen.image.width() as usize, seen.image.height() as usize);
    add(DynamicImage::ImageRgb8(seen.image.clone()), "photo", "photo".into());
    let l = seen.label;
    add(classes_image(l.width, l.height, &l.classes, card), "label", "label".into());
    let exits: Vec<_> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Exit(r) => Some(r),
            _ => None,
        })
        .collect();
    for r in &exits {
        if let Some(m) = &r.maps {
            add(
                palette_image(m, card),
                &format!("exit{}", r.exit + 1),
                format!("exit {} (cell {})", r.exit + 1, r.cell),
            );
        }
    }
    let full = seen.baseline.iter().rev().find_map(|e| match e {
        RunEvent::Exit(r) => r.maps.as_ref(),
        _ => None,
    });
    if let Some(m) = full {
        add(palette_image(m, card), "baseline", "full Auto-DeepLab".into());
    }
    // the decision maker's view last: where it expects each early exit to be unsure
    for r in &exits {
        if let Some(map) = &r.edm_map {
            add(
                gray_image(w, h, map),
                &format!("edm{}", r.exit + 1),
                format!("EDM-map at exit {} (white: unsure)", r.exit + 1),
            );
        }
    }
    Pictures(out)
}

impl Pictures {
    /// Writes the thumbnails into `dir` as fast-compressed PNGs, without a flush each: the
    /// folder is a temp one, moved into place whole. Returns (file name, caption) for the page.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
        let opts = SaveOptions { speed: PngSpeed::Fast, durable: false };
        self.0
            .iter()
            .map(|(name, caption, img)| {
                save_png_atomic_with(img, &dir.join(name), opts)?;
                Ok((name.clone(), caption.clone()))
            })
            .collect()
    }
}
