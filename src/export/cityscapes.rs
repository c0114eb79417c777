//! The Cityscapes ground-truth layout: per image `<name>_gtFine_labelTrainIds.png` (train ids,
//! 255 where unlabelled), `<name>_gtFine_color.png` (the card's palette, black where
//! unlabelled) and, when the card's classes are Cityscapes' 19, `<name>_gtFine_labelIds.png`
//! (the official label ids, 0 "unlabeled" where unlabelled), which the official scripts read.

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage};

use super::{Mask, UNLABELLED};
use crate::data::image_io::save_png_atomic;
use crate::network::card::ClassInfo;

/// Official label id of each of Cityscapes' 19 train ids.
const TRAIN_TO_ID: [u8; 19] = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33];
const NAMES: [&str; 19] = [
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
];

/// Cityscapes files being written into one folder.
pub struct CityscapesFiles {
    dir: PathBuf,
    colors: Vec<[u8; 3]>,
    label_ids: bool,
}

impl CityscapesFiles {
    pub fn new(dir: &Path, classes: &[ClassInfo]) -> anyhow::Result<CityscapesFiles> {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
        let label_ids = classes.len() == 19 && classes.iter().zip(NAMES).all(|(c, n)| c.name == n);
        Ok(CityscapesFiles { dir: dir.to_path_buf(), colors: classes.iter().map(|c| c.color).collect(), label_ids })
    }

    pub fn add(&mut self, m: &Mask) -> anyhow::Result<()> {
        let (w, h) = (m.width as u32, m.height as u32);
        let at = |x: u32, y: u32| m.classes[y as usize * m.width + x as usize];
        let train = GrayImage::from_fn(w, h, |x, y| image::Luma([at(x, y)]));
        let color = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb(self.colors.get(usize::from(at(x, y))).copied().unwrap_or([0; 3]))
        });
        let save = |img: DynamicImage, suffix: &str| {
            let path = self.dir.join(format!("{}_gtFine_{suffix}.png", m.name));
            save_png_atomic(&img, &path).map_err(|e| anyhow::anyhow!("{e}"))
        };
        save(DynamicImage::ImageLuma8(train), "labelTrainIds")?;
        save(DynamicImage::ImageRgb8(color), "color")?;
        if self.label_ids {
            let ids = GrayImage::from_fn(w, h, |x, y| {
                let c = at(x, y);
                image::Luma([if c == UNLABELLED { 0 } else { TRAIN_TO_ID.get(usize::from(c)).copied().unwrap_or(0) }])
            });
            save(DynamicImage::ImageLuma8(ids), "labelIds")?;
        }
        Ok(())
    }

    pub fn finish(self) -> anyhow::Result<PathBuf> {
        if !self.label_ids {
            eprintln!("note: the card's classes are not Cityscapes' 19: no *_gtFine_labelIds.png written");
        }
        Ok(self.dir)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn train_ids_map_to_the_official_ids_and_back() {
        for (train, &id) in super::TRAIN_TO_ID.iter().enumerate() {
            assert_eq!(crate::data::datasets::decode::CITYSCAPES_ID_TO_TRAIN[usize::from(id)], train as u8);
        }
    }
}
