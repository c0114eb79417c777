//! `eval.json`, the file `add eval` leaves beside its tables, as typed structs: written by
//! [`super::run`], read by the app's speed/mIoU plot and by the pipeline's model card, so the
//! three agree on every field's name and meaning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::collect::ImageRecord;
use super::difficulty::Bin;
use super::sweep::SweepRow;
use crate::network::card::PolicyPreset;

/// One exit's quality over the set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExitQuality {
    /// Counted from 1, as everywhere a person reads it.
    pub exit: usize,
    /// The cell the exit sits after.
    pub cell: usize,
    /// mIoU in points (0-100).
    pub miou: f64,
    /// IoU per class (None: the class is in neither label nor prediction).
    pub iou: Vec<Option<f64>>,
}

/// The Auto-DeepLab baseline measured in the same run (both None without a baseline).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BaselineQuality {
    pub miou: Option<f64>,
    pub mean_ms: Option<f64>,
}

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalFile {
    pub model: PathBuf,
    pub images: usize,
    pub exits: Vec<ExitQuality>,
    pub baseline: BaselineQuality,
    /// Fixed exits first (the reference row is `exit:<usize::MAX>`), then each policy's sweep.
    pub sweep: Vec<SweepRow>,
    /// For the presets and the policy that sends about half the images out early.
    pub exit_rate_by_difficulty: BTreeMap<String, Vec<Bin>>,
    pub presets: BTreeMap<String, PolicyPreset>,
    /// Per image and exit: scores and times (written; not read back).
    #[serde(skip_deserializing)]
    pub per_image: Vec<ImageRecord>,
}

impl EvalFile {
    /// Reads `path`; errors name the file.
    pub fn read(path: &Path) -> anyhow::Result<EvalFile> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not an add eval file: {e}", path.display()))
    }

    /// Writes `path` atomically (temp file, then rename).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        crate::fsutil::atomic_write(path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }
}
