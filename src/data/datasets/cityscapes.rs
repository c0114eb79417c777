//! Cityscapes as distributed (`leftImg8bit/<split>/<city>/*_leftImg8bit.png` with
//! `gtFine/<split>/<city>/*_gtFine_labelTrainIds.png`, or `*_gtFine_labelIds.png` mapped with
//! the official table), which is also what `add synth` writes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{Dataset, DatasetError, LabelKind, OnBad, Sample, files_with_suffix};

/// How image and label files are named; the app's single-image opening uses the same rule.
pub const IMAGE_SUFFIX: &str = "_leftImg8bit.png";
pub const TRAIN_IDS: &str = "_gtFine_labelTrainIds.png";
pub const LABEL_IDS: &str = "_gtFine_labelIds.png";

/// Where the train-id label of one Cityscapes image can be: beside it, or in the `gtFine/` tree
/// that mirrors its `leftImg8bit/` folder. Empty for a name without the Cityscapes suffix.
pub fn train_id_labels_for(image: &Path) -> Vec<PathBuf> {
    let stem_suffix = IMAGE_SUFFIX.trim_end_matches(".png");
    let Some(base) = image.file_stem().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(stem_suffix)) else {
        return Vec::new();
    };
    let name = format!("{base}{TRAIN_IDS}");
    let mirrored = image.to_string_lossy().replace("leftImg8bit/", "gtFine/");
    vec![image.with_file_name(&name), Path::new(&mirrored).with_file_name(&name)]
}

/// Whether a file name is a Cityscapes label (train ids or label ids).
pub fn is_label_name(name: &str) -> bool {
    name.contains("_gtFine_") || name.contains("_labelTrainIds")
}

/// Lists split `split` (`train`, `val`, `test`, ...) of a Cityscapes tree at `root`.
/// Labels are required except for `test`, whose public labels are empty.
pub fn open(root: &Path, split: &str, on_bad: OnBad) -> Result<Dataset, DatasetError> {
    let img_dir = root.join("leftImg8bit").join(split);
    let gt_dir = root.join("gtFine").join(split);
    let expected = format!("{}/<city>/*{IMAGE_SUFFIX}", img_dir.display());
    if !img_dir.is_dir() {
        return Err(DatasetError::NotFound {
            path: img_dir,
            expected: format!("a Cityscapes split folder ({expected})"),
        });
    }
    let images = files_with_suffix(&img_dir, &[&IMAGE_SUFFIX.to_ascii_lowercase()])?;
    let (train_ids, label_ids) = if gt_dir.is_dir() {
        (
            files_with_suffix(&gt_dir, &[&TRAIN_IDS.to_ascii_lowercase()])?,
            files_with_suffix(&gt_dir, &[&LABEL_IDS.to_ascii_lowercase()])?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let (kind, suffix, labels) = if !train_ids.is_empty() || label_ids.is_empty() {
        (LabelKind::Ids, TRAIN_IDS, train_ids)
    } else {
        (LabelKind::CityscapesIds, LABEL_IDS, label_ids)
    };
    let label_set: BTreeSet<PathBuf> = labels.iter().cloned().collect();
    let mut used = BTreeSet::new();
    let (mut samples, mut alone) = (Vec::new(), Vec::new());
    for image in images {
        let rel = image.strip_prefix(&img_dir).unwrap_or(&image);
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let prefix = &name[..name.len() - IMAGE_SUFFIX.len()];
        let label = gt_dir.join(rel.parent().unwrap_or(Path::new(""))).join(format!("{prefix}{suffix}"));
        if label_set.contains(&label) {
            used.insert(label.clone());
            samples.push(Sample { image, label: Some(label) });
        } else {
            alone.push(image);
        }
    }
    let labels_alone: Vec<PathBuf> = labels.into_iter().filter(|l| !used.contains(l)).collect();
    Dataset::from_pairs(root, 19, kind, samples, alone, labels_alone, split != "test", on_bad, &expected)
}
