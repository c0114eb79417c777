//! A plain folder of images and masks paired by file stem: `a.jpg` with `masks/a.png`, or, in
//! one folder, `a.png` with `a_label.png` / `a_mask.png` (the layout of assets/samples). Masks
//! are grey class ids, or colour masks in the class palette.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Dataset, DatasetError, LabelKind, OnBad, Sample, files_with_suffix};

use crate::data::image_io::IMAGE_EXTENSIONS;

/// [`IMAGE_EXTENSIONS`] as the name endings a folder listing matches.
fn image_suffixes() -> Vec<String> {
    IMAGE_EXTENSIONS.iter().map(|e| format!(".{e}")).collect()
}
/// Stem endings that mark a mask when images and masks share a folder.
pub const MASK_SUFFIXES: [&str; 5] = ["_label", "_mask", "_labeltrainids", "_gt", "_seg"];

fn stem(p: &Path) -> String {
    p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string()
}

fn mask_key(stem: &str) -> Option<&str> {
    let lower = stem.to_ascii_lowercase();
    MASK_SUFFIXES.iter().find(|s| lower.ends_with(*s)).map(|s| &stem[..stem.len() - s.len()])
}

/// Pairs images in `images` with masks in `masks` (or in the same folder when `masks` is None,
/// where masks carry a suffix such as `_label`). `palette[i]` is the colour of class i, used
/// for colour masks. Without masks at all, pass `require_labels = false` to list images only.
pub fn open(
    images: &Path,
    masks: Option<&Path>,
    palette: &[[u8; 3]],
    require_labels: bool,
    on_bad: OnBad,
) -> Result<Dataset, DatasetError> {
    if !images.is_dir() {
        return Err(DatasetError::NotFound { path: images.into(), expected: "a folder of images".into() });
    }
    let owned = image_suffixes();
    let suffixes: Vec<&str> = owned.iter().map(String::as_str).collect();
    let files = files_with_suffix(images, &suffixes)?;
    let (mut image_files, mut mask_files): (Vec<PathBuf>, Vec<PathBuf>) = (Vec::new(), Vec::new());
    match masks {
        Some(m) if m != images => {
            if !m.is_dir() {
                return Err(DatasetError::NotFound { path: m.into(), expected: "a folder of masks".into() });
            }
            image_files = files;
            mask_files = files_with_suffix(m, &suffixes)?;
        }
        _ => {
            for f in files {
                if mask_key(&stem(&f)).is_some() { mask_files.push(f) } else { image_files.push(f) }
            }
        }
    }
    let same_folder = masks.is_none_or(|m| m == images);
    let mut by_key: BTreeMap<String, PathBuf> = BTreeMap::new();
    for m in mask_files {
        let s = stem(&m);
        let key = if same_folder { mask_key(&s).unwrap_or(&s).to_string() } else { s };
        by_key.insert(key, m);
    }
    let (mut samples, mut alone) = (Vec::new(), Vec::new());
    for image in image_files {
        match by_key.remove(&stem(&image)) {
            Some(label) => samples.push(Sample { image, label: Some(label) }),
            None => alone.push(image),
        }
    }
    let labels_alone: Vec<PathBuf> = by_key.into_values().collect();
    let table: Vec<([u8; 3], u8)> = palette.iter().enumerate().map(|(i, c)| (*c, i as u8)).collect();
    let expected = format!("images ({}) with masks of the same stem", IMAGE_EXTENSIONS.join(", "));
    Dataset::from_pairs(
        images,
        palette.len() as u32,
        LabelKind::IdsOrColors(table),
        samples,
        alone,
        labels_alone,
        require_labels,
        on_bad,
        &expected,
    )
}
