//! Labelled image sets on disk: Cityscapes, PASCAL VOC and a plain folder of images and masks.
//!
//! Each loader only lists samples (paths and how to read the label); decoding happens later, in
//! parallel ([`decode`]), so opening a large set is instant and a bad file is reported with its
//! name when it is reached, or all at once by [`Dataset::check`].

pub mod cityscapes;
pub mod decode;
pub mod detect;
pub mod folder;
pub mod voc;

use std::path::{Path, PathBuf};

use crate::data::image_io::DataError;

pub use decode::{DecodeIter, Decoded};

/// How a sample's label file encodes classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelKind {
    /// 8-bit grey class ids (Cityscapes `labelTrainIds`), 255 = ignore.
    Ids,
    /// 8-bit grey Cityscapes `labelIds` (0..33), mapped with the official table.
    CityscapesIds,
    /// Colour (or palette) masks: each colour maps to a class id; unknown colours are errors.
    Colors(Vec<([u8; 3], u8)>),
    /// Grey ids, or colour masks in the given palette (index = class), chosen per file.
    IdsOrColors(Vec<([u8; 3], u8)>),
}

/// One image and, if known, its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub image: PathBuf,
    pub label: Option<PathBuf>,
}

/// What to do with bad input: stop with an error listing every bad file, or leave those samples
/// out and report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBad {
    #[default]
    Fail,
    Skip,
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Problems with a dataset as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: not found; expected {expected}")]
    NotFound { path: PathBuf, expected: String },
    #[error("{root}: no samples found; expected {expected}")]
    Empty { root: PathBuf, expected: String },
    #[error("{root}: cannot list: {source}")]
    Io { root: PathBuf, source: std::io::Error },
    #[error("{root}: {} image(s) without a label and {} label(s) without an image (use --skip-bad to leave them out):{}", .images.len(), .labels.len(), list_files(.images, .labels))]
    Unpaired { root: PathBuf, images: Vec<PathBuf>, labels: Vec<PathBuf> },
    #[error("{} bad sample(s) (use --skip-bad to leave them out):{}", .0.len(), list_errors(.0))]
    Bad(Vec<DataError>),
}

const SHOWN: usize = 20;

fn list_files(images: &[PathBuf], labels: &[PathBuf]) -> String {
    let mut s = String::new();
    let all =
        images.iter().map(|p| ("image without label", p)).chain(labels.iter().map(|p| ("label without image", p)));
    let total = images.len() + labels.len();
    for (what, p) in all.take(SHOWN) {
        s.push_str(&format!("\n  {what}: {}", p.display()));
    }
    if total > SHOWN {
        s.push_str(&format!("\n  ... and {} more", total - SHOWN));
    }
    s
}

fn list_errors(errors: &[DataError]) -> String {
    let mut s = String::new();
    for e in errors.iter().take(SHOWN) {
        s.push_str(&format!("\n  {e}"));
    }
    if errors.len() > SHOWN {
        s.push_str(&format!("\n  ... and {} more", errors.len() - SHOWN));
    }
    s
}

/// A listed dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where it was read from.
    pub root: PathBuf,
    pub num_classes: u32,
    pub label_kind: LabelKind,
    pub samples: Vec<Sample>,
    /// Files left out while listing (only with [`OnBad::Skip`]).
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    /// Builds a dataset from paired and unpaired files, applying `on_bad` to the unpaired ones.
    /// `require_labels` = false accepts images without labels (e.g. a test split).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_pairs(
        root: &Path,
        num_classes: u32,
        label_kind: LabelKind,
        mut samples: Vec<Sample>,
        images_alone: Vec<PathBuf>,
        labels_alone: Vec<PathBuf>,
        require_labels: bool,
        on_bad: OnBad,
        expected: &str,
    ) -> Result<Dataset, DatasetError> {
        let mut skipped = Vec::new();
        let images_alone = if require_labels {
            images_alone
        } else {
            samples.extend(images_alone.into_iter().map(|image| Sample { image, label: None }));
            Vec::new()
        };
        if !images_alone.is_empty() || !labels_alone.is_empty() {
            match on_bad {
                OnBad::Fail => {
                    return Err(DatasetError::Unpaired {
                        root: root.into(),
                        images: images_alone,
                        labels: labels_alone,
                    });
                }
                OnBad::Skip => {
                    skipped.extend(
                        images_alone.into_iter().map(|path| Skipped { path, reason: "image without a label".into() }),
                    );
                    skipped.extend(
                        labels_alone.into_iter().map(|path| Skipped { path, reason: "label without an image".into() }),
                    );
                }
            }
        }
        samples.sort_by(|a, b| a.image.cmp(&b.image));
        if samples.is_empty() {
            return Err(DatasetError::Empty { root: root.into(), expected: expected.into() });
        }
        Ok(Dataset { root: root.into(), num_classes, label_kind, samples, skipped })
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Decodes sample `i`: the RGB image and its label as class ids (checked: same size as the
    /// image, values < `num_classes` or 255).
    pub fn load(&self, i: usize) -> Result<Decoded, DataError> {
        decode::load_sample(self, i)
    }

    /// Decodes every sample in parallel. With [`OnBad::Fail`] returns all problems at once;
    /// with [`OnBad::Skip`] drops the bad samples and records them in `skipped`.
    pub fn check(&mut self, on_bad: OnBad) -> Result<(), DatasetError> {
        use rayon::prelude::*;
        let results: Vec<Option<DataError>> = (0..self.len()).into_par_iter().map(|i| self.load(i).err()).collect();
        let bad: Vec<(usize, DataError)> =
            results.into_iter().enumerate().filter_map(|(i, e)| e.map(|e| (i, e))).collect();
        if bad.is_empty() {
            return Ok(());
        }
        if on_bad == OnBad::Fail {
            return Err(DatasetError::Bad(bad.into_iter().map(|(_, e)| e).collect()));
        }
        let drop: std::collections::BTreeSet<usize> = bad.iter().map(|(i, _)| *i).collect();
        self.skipped
            .extend(bad.into_iter().map(|(_, e)| Skipped { path: e.path().to_path_buf(), reason: e.to_string() }));
        self.samples = std::mem::take(&mut self.samples)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !drop.contains(i))
            .map(|(_, s)| s)
            .collect();
        Ok(())
    }

    /// A readable report of what was left out (empty if nothing).
    pub fn skip_report(&self) -> String {
        self.skipped.iter().map(|s| format!("skipped {}: {}\n", s.path.display(), s.reason)).collect()
    }
}

/// Opens the dataset at `root` for a command, whatever its layout ([`detect`]; `split` picks a
/// Cityscapes split or a VOC list; `palette` decodes colour masks): with `skip_bad`, unpaired
/// and undecodable samples are left out and reported on stderr; without, they are an error
/// listing the files.
pub fn open_for_command(
    root: &Path,
    split: &str,
    skip_bad: bool,
    palette: &[[u8; 3]],
) -> Result<Dataset, DatasetError> {
    let on_bad = if skip_bad { OnBad::Skip } else { OnBad::Fail };
    let mut ds = detect::open_detected(root, Some(split), palette, on_bad)?.dataset;
    if skip_bad {
        ds.check(OnBad::Skip)?;
        eprint!("{}", ds.skip_report());
    }
    Ok(ds)
}

/// Files under `dir` (recursively), sorted, whose names end with one of `suffixes`.
pub(crate) fn files_with_suffix(dir: &Path, suffixes: &[&str]) -> Result<Vec<PathBuf>, DatasetError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|source| DatasetError::Io { root: d.clone(), source })?;
        for entry in rd {
            let entry = entry.map_err(|source| DatasetError::Io { root: d.clone(), source })?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                let lower = name.to_ascii_lowercase();
                if !name.starts_with('.') && suffixes.iter().any(|s| lower.ends_with(s)) {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests;
