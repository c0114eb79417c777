//! COCO JSON for semantic masks: every image, every class as a category (ids from 1), and per
//! image one annotation per class present, its segmentation an RLE in pycocotools' compressed
//! form (`{"size": [h, w], "counts": "..."}`), with its area and bounding box. Unlabelled
//! pixels belong to no annotation.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Mask, UNLABELLED, rle};
use crate::network::card::ClassInfo;

#[derive(Serialize)]
struct Image {
    id: usize,
    file_name: String,
    width: usize,
    height: usize,
}

#[derive(Serialize)]
struct Category {
    id: usize,
    name: String,
    supercategory: String,
}

#[derive(Serialize)]
struct Segmentation {
    size: [usize; 2],
    counts: String,
}

#[derive(Serialize)]
struct Annotation {
    id: usize,
    image_id: usize,
    category_id: usize,
    segmentation: Segmentation,
    area: u64,
    bbox: [usize; 4],
    iscrowd: u8,
}

#[derive(Serialize)]
struct Document<'a> {
    info: serde_json::Value,
    licenses: Vec<serde_json::Value>,
    images: &'a [Image],
    categories: &'a [Category],
    annotations: &'a [Annotation],
}

/// A COCO file being collected (RLE strings only), written on [`CocoJson::finish`].
pub struct CocoJson {
    path: PathBuf,
    categories: Vec<Category>,
    images: Vec<Image>,
    annotations: Vec<Annotation>,
}

impl CocoJson {
    pub fn new(path: &Path, classes: &[ClassInfo]) -> CocoJson {
        let categories = classes
            .iter()
            .enumerate()
            .map(|(k, c)| Category { id: k + 1, name: c.name.clone(), supercategory: String::new() })
            .collect();
        CocoJson { path: path.to_path_buf(), categories, images: Vec::new(), annotations: Vec::new() }
    }

    pub fn add(&mut self, m: &Mask) -> anyhow::Result<()> {
        let image_id = self.images.len() + 1;
        self.images.push(Image { id: image_id, file_name: m.file_name.into(), width: m.width, height: m.height });
        for class in 0..self.categories.len() {
            let Some(bbox) = bounding_box(m, class as u8) else { continue };
            let binary: Vec<bool> = m.classes.iter().map(|&c| c == class as u8).collect();
            let counts = rle::encode_counts(&binary, m.width, m.height);
            let area = counts.iter().skip(1).step_by(2).sum();
            self.annotations.push(Annotation {
                id: self.annotations.len() + 1,
                image_id,
                category_id: class + 1,
                segmentation: Segmentation { size: [m.height, m.width], counts: rle::counts_to_string(&counts) },
                area,
                bbox,
                iscrowd: 0,
            });
        }
        let unknown = m.classes.iter().find(|&&c| c != UNLABELLED && usize::from(c) >= self.categories.len());
        anyhow::ensure!(unknown.is_none(), "{}: class {} is not in the card", m.name, unknown.copied().unwrap_or(0));
        Ok(())
    }

    pub fn finish(self) -> anyhow::Result<PathBuf> {
        let doc = Document {
            info: serde_json::json!({ "description": "masks exported by ADD Studio", "version": "1.0" }),
            licenses: Vec::new(),
            images: &self.images,
            categories: &self.categories,
            annotations: &self.annotations,
        };
        crate::fsutil::atomic_write(&self.path, serde_json::to_string(&doc)?.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", self.path.display()))?;
        Ok(self.path)
    }
}

/// [x, y, width, height] of the pixels of `class`, as pycocotools' `toBbox`; None if absent.
fn bounding_box(m: &Mask, class: u8) -> Option<[usize; 4]> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (i, &c) in m.classes.iter().enumerate() {
        if c == class {
            let (x, y) = (i % m.width, i / m.width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    (x0 != usize::MAX).then(|| [x0, y0, x1 - x0 + 1, y1 - y0 + 1])
}
