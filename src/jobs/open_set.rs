//! Opening a dataset folder for a dataset run (the app's browser): the layout is recognised by
//! [`crate::data::datasets::detect`] (as for every command), the difficulty of generated scenes
//! is read from their manifest. Runs on a helper thread; errors name the folder.

use crate::data::datasets::detect::{self, Detected};
use crate::data::datasets::{Dataset, DatasetError, OnBad};
use crate::network::ClassInfo;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A listed dataset, ready to run.
#[derive(Debug)]
pub struct OpenedSet {
    pub dataset: Dataset,
    /// What kind of layout was recognised, for the status line.
    pub kind: String,
    /// The split it listed, when the layout has splits (to list the same samples again).
    pub split: Option<String>,
    /// Difficulty of each sample when known (generated sets), by index.
    pub difficulty: Vec<Option<f32>>,
}

/// Lists the dataset at `root`. Unreadable or unpaired files are left out and counted in
/// `dataset.skipped`; a folder with no images is an error naming it.
pub fn open_dataset(root: &Path, classes: &[ClassInfo]) -> Result<OpenedSet, String> {
    let palette: Vec<[u8; 3]> = classes.iter().map(|c| c.color).collect();
    let Detected { dataset, kind, split } =
        detect::open_detected(root, None, &palette, OnBad::Skip).map_err(|e| match e {
            DatasetError::Empty { .. } => {
                format!("{}: no images found (expected PNG, JPEG, WebP, BMP or TIFF files)", root.display())
            }
            DatasetError::NotFound { path, .. } if path == root => format!("{}: not a folder", root.display()),
            e => e.to_string(),
        })?;
    if dataset.is_empty() {
        return Err(format!("{}: no images found", root.display()));
    }
    let known = difficulties(root);
    let difficulty = dataset.samples.iter().map(|s| known.get(&s.image).copied()).collect();
    Ok(OpenedSet { dataset, kind, split, difficulty })
}

/// Difficulty by image path, from `manifest.jsonl` (generated sets) or `samples.json` (the
/// sample gallery); empty when neither is there or the manifest cannot be read.
pub fn difficulties(root: &Path) -> HashMap<PathBuf, f32> {
    crate::eval::difficulty::load(root).unwrap_or_default()
}
