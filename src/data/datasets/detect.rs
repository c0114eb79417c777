//! Recognising a dataset folder's layout, so the app's browser and every command (`add eval`,
//! `add report`, `add train`, `add calibrate-bn`) accept the same folders: a Cityscapes tree
//! (also what `add synth` writes), PASCAL VOC, `images/` + `masks/`, or images with `_label`
//! masks side by side.

use std::path::Path;

use super::{Dataset, DatasetError, OnBad, cityscapes, folder, voc};

/// A listed dataset and the layout it was recognised as (for status lines).
#[derive(Debug)]
pub struct Detected {
    pub dataset: Dataset,
    /// E.g. "Cityscapes, split val", "generated scenes, split val", "PASCAL VOC".
    pub kind: String,
    /// The split listed (Cityscapes) or the VOC list used; None for plain folders. Passing it
    /// back to [`open_detected`] lists the same samples.
    pub split: Option<String>,
}

/// Lists the dataset at `root`. `split` picks a Cityscapes split (None: the first of val, test,
/// train that exists) or a VOC `ImageSets/Segmentation/<split>.txt` list when that file exists
/// (else every VOC image); plain folders have no splits. `palette[i]` is class i's colour, for
/// colour masks.
pub fn open_detected(
    root: &Path,
    split: Option<&str>,
    palette: &[[u8; 3]],
    on_bad: OnBad,
) -> Result<Detected, DatasetError> {
    if !root.is_dir() {
        return Err(DatasetError::NotFound { path: root.into(), expected: "a dataset folder".into() });
    }
    let left = root.join("leftImg8bit");
    if left.is_dir() {
        let split = match split {
            Some(s) => s.to_string(),
            None => ["val", "test", "train"].into_iter().find(|s| left.join(s).is_dir()).map(String::from).ok_or_else(
                || DatasetError::NotFound { path: left.clone(), expected: "a val, test or train folder".into() },
            )?,
        };
        let dataset = cityscapes::open(root, &split, on_bad)?;
        let what = if root.join("manifest.jsonl").is_file() { "generated scenes" } else { "Cityscapes" };
        return Ok(Detected { dataset, kind: format!("{what}, split {split}"), split: Some(split) });
    }
    if root.join("JPEGImages").is_dir() {
        let list = split.filter(|s| root.join("ImageSets/Segmentation").join(format!("{s}.txt")).is_file());
        let dataset = voc::open(root, list, on_bad)?;
        let kind = match list {
            Some(s) => format!("PASCAL VOC, split {s}"),
            None => "PASCAL VOC".to_string(),
        };
        return Ok(Detected { dataset, kind, split: list.map(String::from) });
    }
    let (images, masks) = (root.join("images"), root.join("masks"));
    let dataset = if images.is_dir() && masks.is_dir() {
        folder::open(&images, Some(&masks), palette, false, on_bad)?
    } else {
        folder::open(root, None, palette, false, on_bad)?
    };
    Ok(Detected { dataset, kind: "images and masks".to_string(), split: None })
}
