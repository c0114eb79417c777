//! Masks handed to annotation tools: CVAT's "Segmentation mask 1.1" zip, COCO JSON with one
//! RLE segment per class and image (pycocotools' encoding, [`rle`]), and the Cityscapes layout
//! (`*_labelTrainIds.png`, `*_labelIds.png`, `*_color.png`). Pixels a caller marks unsure
//! (class [`UNLABELLED`]) are written as background / ignore / left out, so annotators see
//! first what to check.
//!
//! An [`Exporter`] takes one image's mask at a time and writes as it goes (the zip and the
//! Cityscapes files stream; COCO keeps only the short RLE strings), so memory stays flat over
//! any number of images; everything lands under its final name only when complete.

pub mod cityscapes;
pub mod coco;
pub mod cvat;
pub mod render;
pub mod rle;

use std::path::{Path, PathBuf};

use crate::network::card::ClassInfo;

/// Class id of a pixel left unlabelled (unsure, or outside every class).
pub const UNLABELLED: u8 = 255;

/// Which format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// CVAT "Segmentation mask 1.1": masks_cvat.zip
    Cvat,
    /// COCO JSON, one RLE segment per class per image: masks_coco.json
    Coco,
    /// Cityscapes gtFine files: cityscapes/<name>_gtFine_{labelTrainIds,labelIds,color}.png
    Cityscapes,
}

/// One image's mask: a class id per pixel, row-major, [`UNLABELLED`] where unsure.
pub struct Mask<'a> {
    /// The image's name without extension (unique within an export).
    pub name: &'a str,
    /// The image's file name as the annotation tool will know it (COCO `file_name`).
    pub file_name: &'a str,
    pub width: usize,
    pub height: usize,
    pub classes: &'a [u8],
}

/// Writes masks in one format into a folder.
pub enum Exporter {
    Cvat(cvat::CvatZip),
    Coco(coco::CocoJson),
    Cityscapes(cityscapes::CityscapesFiles),
}

impl Exporter {
    /// Starts an export of `format` into `out` for a model whose classes are `classes`.
    pub fn new(format: ExportFormat, out: &Path, classes: &[ClassInfo]) -> anyhow::Result<Exporter> {
        std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", out.display()))?;
        Ok(match format {
            ExportFormat::Cvat => Exporter::Cvat(cvat::CvatZip::new(&out.join("masks_cvat.zip"), classes)?),
            ExportFormat::Coco => Exporter::Coco(coco::CocoJson::new(&out.join("masks_coco.json"), classes)),
            ExportFormat::Cityscapes => {
                Exporter::Cityscapes(cityscapes::CityscapesFiles::new(&out.join("cityscapes"), classes)?)
            }
        })
    }

    /// Adds one image's mask.
    pub fn add(&mut self, mask: &Mask) -> anyhow::Result<()> {
        anyhow::ensure!(mask.classes.len() == mask.width * mask.height, "{}: mask size", mask.name);
        match self {
            Exporter::Cvat(x) => x.add(mask),
            Exporter::Coco(x) => x.add(mask),
            Exporter::Cityscapes(x) => x.add(mask),
        }
    }

    /// Finishes the files; returns what was written.
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        match self {
            Exporter::Cvat(x) => x.finish(),
            Exporter::Coco(x) => x.finish(),
            Exporter::Cityscapes(x) => x.finish(),
        }
    }
}

/// `class_map` with every pixel whose max-probability is below `min_prob` set to [`UNLABELLED`].
pub fn drop_unsure(class_map: &[u8], max_prob: &[f32], min_prob: f32) -> Vec<u8> {
    class_map.iter().zip(max_prob).map(|(&c, &p)| if p < min_prob { UNLABELLED } else { c }).collect()
}
