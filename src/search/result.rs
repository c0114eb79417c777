//! What a search produces: the exit placement, the architecture card of a decoded path, the
//! per-epoch history the app plots, and whether its path is settled.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::trellis::{self, Beta, CELLS};
use crate::network::card::{ArchCard, EdmSettings, HeadSettings, ModelKind, Normalization, StemSettings};
use crate::network::presets::{AUTODEEPLAB_GENOTYPE, cityscapes_classes};

/// Most exits a search places (the reference searches with 2, 3 or 4).
pub const MAX_EXITS: usize = 4;

/// Early-exit cells for `exits` exits in all (the last cell included, not listed).
///
/// Rule: the exits split the 12 cells evenly, exit k after cell round(12 k / n) - 1. This is
/// the reference's fixed placement (`search.py`: 2 exits -> [5], 3 -> [3, 7], 4 -> [2, 5, 8]);
/// the supernet is searched with its heads at exactly these cells, so the path is found for
/// them. (Choosing cells by loss per Multi-Add would need a head at every candidate cell, which
/// the supernet on this CPU cannot afford.)
pub fn early_exits(exits: usize) -> Vec<usize> {
    (1..exits).map(|k| ((CELLS * k) as f64 / exits as f64).round() as usize - 1).collect()
}

/// The card every search starts from: the dense ADD kind with the searched Auto-DeepLab cell,
/// the 19 Cityscapes classes, low-level feature from cell 0, head widths from the options.
/// Its path and exits are placeholders until decoding.
pub fn template_card(filters: usize, head_width: usize, exits: usize) -> ArchCard {
    ArchCard {
        name: format!("searched ADD (F={filters}, {exits} exits)"),
        kind: ModelKind::Add,
        f: filters,
        b: 5,
        classes: cityscapes_classes(),
        path: super::supernet::TEMPLATE_PATH.to_vec(),
        exits: Vec::new(),
        genotype: AUTODEEPLAB_GENOTYPE.to_vec(),
        low_level_cell: 0,
        stem: StemSettings::default(),
        head: HeadSettings { width: head_width, low_level_width: head_width.min(48) },
        edm: EdmSettings::default(),
        normalization: Normalization::default(),
        presets: Default::default(),
    }
}

/// The card of a decoded `path` with early exits `exits`, validated.
pub fn searched_card(template: &ArchCard, path: &[u8], exits: &[usize]) -> anyhow::Result<ArchCard> {
    let mut card = template.clone();
    card.path = path.to_vec();
    card.exits = exits.to_vec();
    card.validate()?;
    Ok(card)
}

/// One finished epoch of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epochs done (1-based).
    pub epoch: usize,
    /// Global steps done.
    pub step: usize,
    /// Raw beta, `[cell][source level][finer, same, coarser]`.
    pub beta: Beta,
    /// beta normalised over each node's outgoing edges (what the forward pass and Viterbi use).
    pub weights: Beta,
    /// The Viterbi path decoded at the end of this epoch.
    pub path: Vec<u8>,
    /// Product of the normalised weights along the path.
    pub path_weight: f64,
    /// Mean weight loss (half A) over the epoch's steps.
    pub loss: f64,
    /// Mean architecture loss (half B), when beta was updated this epoch.
    pub arch_loss: Option<f64>,
    /// Seconds the epoch took (summed across resumed sessions).
    pub seconds: f64,
    /// Raw alpha `[edge][op]` of a cell search (shared by every cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<Vec<Vec<f32>>>,
    /// alpha normalised over each edge's ops (softmax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_weights: Option<Vec<Vec<f32>>>,
    /// The cell genotype decoded at the end of this epoch (rows `[branch, op]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genotype: Option<Vec<[usize; 2]>>,
}

/// `search_history.json`: the settings and one record per epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct History {
    pub config: super::config::SearchConfig,
    /// Cells with an exit head in the supernet, the last cell included.
    pub exit_cells: Vec<usize>,
    /// Level where the supernet's shared head runs.
    pub head_level: usize,
    pub epochs: Vec<EpochRecord>,
}

/// Cells whose level differs between two decoded paths.
pub fn cells_changed(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

/// Below this [`trellis::decisiveness`] a finished search's path is reported as undecided.
pub const UNDECIDED_BELOW: f64 = 0.25;

/// What to tell the user when the final path is not to be trusted: beta still close to
/// uniform, or the path still changing in the last epoch.
pub fn undecided_warning(history: &[EpochRecord]) -> Option<String> {
    let last = history.last()?;
    let d = trellis::decisiveness(&last.beta);
    let changed = history.len().checked_sub(2).map(|i| cells_changed(&history[i].path, &last.path)).unwrap_or(0);
    (d < UNDECIDED_BELOW || changed > 0).then(|| {
        format!(
            "the path is not settled: beta is {d:.2} of the way from uniform to one edge per node \
             (below {UNDECIDED_BELOW} the decoded path is mostly noise) and {changed} cell(s) changed level in \
             the last epoch. Short searches decode noise (on this CPU, two seeds of 6 x 15 steps agreed on 3 to \
             5 of the 12 cells); search longer, or raise --arch-lr, until the path stops changing."
        )
    })
}

/// Reads a finished or paused search's history file.
pub fn read_history(path: &Path) -> anyhow::Result<History> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a search history", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_are_placed_as_the_reference_does() {
        assert_eq!(early_exits(1), Vec::<usize>::new());
        assert_eq!(early_exits(2), vec![5]);
        assert_eq!(early_exits(3), vec![3, 7]);
        assert_eq!(early_exits(4), vec![2, 5, 8]);
    }

    #[test]
    fn a_card_of_a_bad_path_is_refused() {
        let t = template_card(4, 32, 2);
        assert!(searched_card(&t, &[1, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2], &[5]).is_ok());
        let e = searched_card(&t, &[0, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2], &[5]).unwrap_err().to_string();
        assert!(e.contains("path[1]"), "{e}");
    }
}
