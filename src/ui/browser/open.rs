//! Opening a dataset folder for the browser: recognise the layout (Cityscapes tree, which is
//! also what `add synth` writes; PASCAL VOC; images/ + masks/; or images with `_label` masks
//! side by side), list it with the project's loaders, and read the difficulty of generated
//! scenes when their manifest is there. Runs on a helper thread; errors name the folder.

use crate::data::datasets::{Dataset, OnBad, cityscapes, folder, voc};
use crate::network::ClassInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A listed dataset, ready to run.
#[derive(Debug)]
pub struct OpenedSet {
    pub dataset: Dataset,
    /// What kind of layout was recognised, for the status line.
    pub kind: String,
    /// Difficulty of each sample when known (generated sets), by index.
    pub difficulty: Vec<Option<f32>>,
}

/// Lists the dataset at `root`. Unreadable or unpaired files are left out and counted in
/// `dataset.skipped`; a folder with no images is an error naming it.
pub fn open_dataset(root: &Path, classes: &[ClassInfo]) -> Result<OpenedSet, String> {
    if !root.is_dir() {
        return Err(format!("{}: not a folder", root.display()));
    }
    let (dataset, kind) = if root.join("leftImg8bit").is_dir() {
        let split = ["val", "test", "train"]
            .into_iter()
            .find(|s| root.join("leftImg8bit").join(s).is_dir())
            .ok_or_else(|| format!("{}: leftImg8bit/ has no val, test or train folder", root.display()))?;
        let ds = cityscapes::open(root, split, OnBad::Skip).map_err(|e| e.to_string())?;
        let what = if root.join("manifest.jsonl").is_file() { "generated scenes" } else { "Cityscapes" };
        (ds, format!("{what}, split {split}"))
    } else if root.join("JPEGImages").is_dir() {
        (voc::open(root, None, OnBad::Skip).map_err(|e| e.to_string())?, "PASCAL VOC".to_string())
    } else {
        let palette: Vec<[u8; 3]> = classes.iter().map(|c| c.color).collect();
        let (images, masks) = (root.join("images"), root.join("masks"));
        let ds = if images.is_dir() && masks.is_dir() {
            folder::open(&images, Some(&masks), &palette, false, OnBad::Skip)
        } else {
            folder::open(root, None, &palette, false, OnBad::Skip)
        };
        let ds = ds.map_err(|e| match e {
            crate::data::datasets::DatasetError::Empty { .. } => {
                format!("{}: no images found (expected PNG, JPEG, WebP, BMP or TIFF files)", root.display())
            }
            e => e.to_string(),
        })?;
        (ds, "images and masks".to_string())
    };
    if dataset.is_empty() {
        return Err(format!("{}: no images found", root.display()));
    }
    let known = difficulties(root);
    let difficulty = dataset.samples.iter().map(|s| known.get(&s.image).copied()).collect();
    Ok(OpenedSet { dataset, kind, difficulty })
}

/// Difficulty by image path, from `manifest.jsonl` (generated sets) or `samples.json` (the
/// sample gallery); empty when neither is there or the manifest cannot be read.
pub fn difficulties(root: &Path) -> HashMap<PathBuf, f32> {
    crate::eval::difficulty::load(root).unwrap_or_default()
}
