//! What the reference search (HankKung/Auto-Dynamic-DeepLab, `search.py`) leaves on disk,
//! read into our types: a card from `network_path.npy` plus a genotype `.npy`, and a history
//! from an experiment folder.
//!
//! The reference writes one folder per epoch (`decoder_save`): `<epoch>` after training and
//! `<epoch>_eval` after validation, each with `betas.npy` (raw beta, 12x4x3 float32, the shape
//! `Model_search` allocates), `network_path.npy` (its Viterbi path, 12 uint8) and, for `_eval`,
//! `miou.txt`. Per epoch we take the `_eval` folder when there is one. The reference records
//! neither the losses nor its settings; the history says so (`reference`), keeps the loss at 0
//! and fills `config` with the reference `search.py` defaults.
//!
//! Deviation: the reference's Viterbi takes the best last level, 0 included; ours keeps the
//! head off level 0 (a card needs it). The stored path is kept as the reference decoded it,
//! and each epoch records whether our decoding of the same betas agrees.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::SearchConfig;
use super::npy::{NpyError, npy_error, read};
use super::result::{EpochRecord, History};
use super::trellis::{Beta, CELLS, LEVELS, RATES, normalise, path_weight, viterbi};
use crate::network::card::{ArchCard, CardError, ClassInfo, NUM_LEVELS};
use crate::network::presets::cityscapes_classes;

/// What the reference adds to a history, per epoch in the order of `History::epochs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRun {
    /// The experiment folder it was read from.
    pub folder: String,
    pub epochs: Vec<ReferenceEpoch>,
}

/// One epoch folder of a reference search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceEpoch {
    /// The folder's name (`7_eval`).
    pub folder: String,
    /// `miou.txt`, when the folder has one.
    pub miou: Option<f64>,
    /// Our Viterbi (no exits) on the same betas gives the reference's stored path.
    pub viterbi_agrees: bool,
}

/// `search_history.json` as written and read: our history, plus the reference's part when it
/// was imported (an `add search` history has none; readers of [`History`] ignore it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryFile {
    #[serde(flatten)]
    pub history: History,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceRun>,
}

/// A reference file or folder that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("{0}")]
    Folder(String),
}

/// The 12 levels of a reference `network_path.npy`.
pub fn read_path(file: &Path) -> Result<Vec<u8>, NpyError> {
    let (shape, v) = read(file)?;
    if shape != [CELLS] {
        return Err(npy_error(file, format!("a network path has shape [{CELLS}], got {shape:?}")));
    }
    v.iter()
        .enumerate()
        .map(|(i, &x)| {
            if x.fract() == 0.0 && (0.0..NUM_LEVELS as f64).contains(&x) {
                Ok(x as u8)
            } else {
                Err(npy_error(file, format!("path[{i}] = {x} is not a level 0..=3")))
            }
        })
        .collect()
}

/// The rows `[branch, op]` of a reference `genotype*.npy` (the card checks their ranges).
pub fn read_genotype(file: &Path) -> Result<Vec<[usize; 2]>, NpyError> {
    let (shape, v) = read(file)?;
    if shape.len() != 2 || shape[1] != 2 || shape[0] == 0 || shape[0] > 32 {
        return Err(npy_error(file, format!("a genotype has shape [rows, 2] (two rows per block), got {shape:?}")));
    }
    if let Some((k, x)) = v.iter().enumerate().find(|(_, x)| x.fract() != 0.0 || **x < 0.0 || **x > 255.0) {
        return Err(npy_error(file, format!("genotype[{}][{}] = {x} is not a small whole number", k / 2, k % 2)));
    }
    Ok(v.chunks(2).map(|r| [r[0] as usize, r[1] as usize]).collect())
}

/// Raw beta from a reference `betas.npy`: shape (12, 4, 3) as `Model_search` allocates it.
pub fn read_betas(file: &Path) -> Result<Beta, NpyError> {
    let (shape, v) = read(file)?;
    if shape != [CELLS, LEVELS, RATES] {
        return Err(npy_error(
            file,
            format!("betas have shape [{CELLS}, {LEVELS}, {RATES}] (12 layers, 4 levels, 3 rates), got {shape:?}"),
        ));
    }
    if let Some(k) = v.iter().position(|x| !x.is_finite()) {
        return Err(npy_error(file, format!("betas[{}][{}][{}] is {}", k / 12, k / 3 % 4, k % 3, v[k])));
    }
    let mut b = [[[0f32; RATES]; LEVELS]; CELLS];
    for (k, x) in v.iter().enumerate() {
        b[k / (LEVELS * RATES)][k / RATES % LEVELS][k % RATES] = *x as f32;
    }
    Ok(b)
}

/// `n` classes: Cityscapes' 19 when `n` is 19, else numbered classes with distinct colours.
pub fn classes(n: usize) -> Vec<ClassInfo> {
    if n == 19 {
        return cityscapes_classes();
    }
    (0..n)
        .map(|k| {
            let h = (k as u32).wrapping_mul(2_654_435_761);
            ClassInfo { name: format!("class {k}"), color: [(h >> 24) as u8, (h >> 16) as u8, (h >> 8) as u8] }
        })
        .collect()
}

/// The card of `base` (family, F, heads, EDM) with the reference's path and cell: `path` from
/// a `network_path.npy` (else the base card's), the cell from `genotype` (B follows its rows),
/// early exits and classes when given. The error names the file and field that does not fit.
pub fn reference_card(
    base: &ArchCard,
    path: Option<&Path>,
    genotype: Option<&Path>,
    exits: Option<&[usize]>,
    num_classes: Option<usize>,
) -> Result<ArchCard, ReferenceError> {
    let mut card = base.clone();
    if let Some(p) = path {
        card.path = read_path(p)?;
    }
    if let Some(g) = genotype {
        card.genotype = read_genotype(g)?;
        card.b = card.genotype.len().div_ceil(2);
    }
    if let Some(e) = exits {
        card.exits = e.to_vec();
    }
    if let Some(n) = num_classes {
        card.classes = classes(n);
    }
    let from = |f: Option<&Path>| f.map(|p| p.display().to_string());
    card.validate().map_err(|e| match &e {
        CardError::Invalid { field, .. } => {
            let file = if field.starts_with("path") {
                from(path)
            } else if field.starts_with("genotype") || field == "B" {
                from(genotype)
            } else {
                None
            };
            e.in_file(&file.unwrap_or_else(|| "the card's options".into()))
        }
        _ => e,
    })?;
    Ok(card)
}

/// The settings of the reference `search.py` (its argparse defaults: the folder keeps none).
fn reference_config(epochs: usize, exits: usize) -> SearchConfig {
    // the same optimisers as ours (`SearchConfig::defaults`), at the reference's scale
    SearchConfig {
        filters: 8,
        head_width: 256,
        exits,
        batch: 2,
        crop: (321, 321),
        scale: (0.5, 2.0),
        ..SearchConfig::defaults(epochs, 20, 0)
    }
}

/// Whether `dir` looks like a reference experiment folder (an epoch folder with `betas.npy`).
pub fn is_reference_search(dir: &Path) -> bool {
    epoch_folders(dir).is_ok_and(|f| !f.is_empty())
}

/// `(epoch, folder)` per epoch, the `_eval` folder where there is one, by epoch.
fn epoch_folders(dir: &Path) -> Result<Vec<(usize, PathBuf)>, ReferenceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ReferenceError::Folder(format!("{}: {e}", dir.display())))?;
    let mut found: std::collections::BTreeMap<usize, PathBuf> = Default::default();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let (num, eval) = match name.strip_suffix("_eval") {
            Some(n) => (n, true),
            None => (name.as_str(), false),
        };
        let Ok(epoch) = num.parse::<usize>() else { continue };
        if !entry.path().join("betas.npy").is_file() {
            continue;
        }
        if eval || !found.contains_key(&epoch) {
            found.insert(epoch, entry.path());
        }
    }
    Ok(found.into_iter().collect())
}

/// A reference search experiment folder as a history. `exit_cells` are the supernet's exits
/// (the reference searches with one at cell 5: `[5, 11]`).
pub fn import_search(dir: &Path, exit_cells: &[usize]) -> Result<HistoryFile, ReferenceError> {
    let folders = epoch_folders(dir)?;
    if folders.is_empty() {
        return Err(ReferenceError::Folder(format!(
            "{}: no epoch folders (`<epoch>` or `<epoch>_eval` holding betas.npy, network_path.npy, miou.txt)",
            dir.display()
        )));
    }
    let early: Vec<usize> = exit_cells.iter().copied().filter(|&c| c + 1 < CELLS).collect();
    let (mut epochs, mut refs) = (Vec::new(), Vec::new());
    for (epoch, folder) in folders {
        let beta = read_betas(&folder.join("betas.npy"))?;
        let path = read_path(&folder.join("network_path.npy"))?;
        let miou_file = folder.join("miou.txt");
        let miou = match std::fs::read_to_string(&miou_file) {
            Ok(t) => Some(t.trim().parse::<f64>().map_err(|_| {
                ReferenceError::Folder(format!("{}: {:?} is not a number", miou_file.display(), t.trim()))
            })?),
            Err(_) => None,
        };
        let weights = normalise(&beta);
        refs.push(ReferenceEpoch {
            folder: folder.file_name().unwrap_or_default().to_string_lossy().into(),
            miou,
            viterbi_agrees: viterbi(&weights, &[]) == path,
        });
        epochs.push(EpochRecord {
            epoch: epoch + 1,
            step: 0,
            beta,
            path_weight: path_weight(&weights, &path),
            weights,
            path,
            loss: 0.0,
            arch_loss: None,
            seconds: 0.0,
            alpha: None,
            op_weights: None,
            genotype: None,
        });
    }
    let head_level = epochs.last().map_or(0, |e| e.path[CELLS - 1] as usize);
    let history = History {
        config: reference_config(epochs.len(), early.len() + 1),
        exit_cells: early.iter().copied().chain([CELLS - 1]).collect(),
        head_level,
        epochs,
    };
    Ok(HistoryFile { history, reference: Some(ReferenceRun { folder: dir.display().to_string(), epochs: refs }) })
}

/// A search history from a folder: our `search_history.json` when it has one, else a
/// reference experiment imported as it is.
pub fn open_history_dir(dir: &Path) -> Result<HistoryFile, ReferenceError> {
    let ours = dir.join("search_history.json");
    if ours.is_file() {
        let text = std::fs::read_to_string(&ours)
            .map_err(|e| ReferenceError::Folder(format!("{}: cannot read: {e}", ours.display())))?;
        return serde_json::from_str(&text)
            .map_err(|e| ReferenceError::Folder(format!("{}: not a search history: {e}", ours.display())));
    }
    import_search(dir, &[5, CELLS - 1])
}
