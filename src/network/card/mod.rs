//! The architecture card: a JSON description of one model's shape (path, exits, cell genotype,
//! classes, EDM). The network, the topology view and the Multi-Add counter all read it; none
//! re-derives it.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Number of cells on the Auto-DeepLab trellis.
pub const NUM_CELLS: usize = 12;
/// Number of levels (strides 4, 8, 16, 32).
pub const NUM_LEVELS: u8 = 4;
/// Names of the eight candidate ops, indexed as in the reference `PRIMITIVES`.
pub const OP_NAMES: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// Which cell family the network uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Densely connected cells (ADD, and the dense Auto-DeepLab baseline).
    Add,
    /// Plain Auto-DeepLab cells: h0 is the cell two back.
    Autodeeplab,
}

/// What kind of earlier decision maker sits on each early exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EdmKind {
    /// No decision maker: policies must use the exit's own output.
    #[default]
    None,
    /// The reference scalar EDM (conv + MLP -> predicted mean normalised entropy).
    Scalar,
    /// A per-pixel confidence map whose mean is the decision (ours; the app shows the map).
    Map,
    /// Both the scalar EDM and the map.
    Both,
}

impl EdmKind {
    /// Whether the scalar reference EDM is present.
    pub fn has_scalar(self) -> bool {
        matches!(self, EdmKind::Scalar | EdmKind::Both)
    }
    /// Whether the per-pixel EDM-map is present.
    pub fn has_map(self) -> bool {
        matches!(self, EdmKind::Map | EdmKind::Both)
    }
}

/// One output class: its name and palette colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassInfo {
    pub name: String,
    pub color: [u8; 3],
}

/// Input normalisation applied to RGB/255 before the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Normalization {
    /// The reference's Cityscapes statistics.
    fn default() -> Self {
        Normalization {
            mean: [0.298_668_42, 0.301_352_23, 0.305_618_72],
            std: [0.239_252_15, 0.238_593_18, 0.238_594_2],
        }
    }
}

/// Settings of the earlier decision makers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdmSettings {
    #[serde(default)]
    pub kind: EdmKind,
    /// Channels of the EDM's 3x3 conv (reference: 128).
    #[serde(default = "default_edm_channels")]
    pub channels: usize,
    /// Hidden widths of the scalar EDM's MLP (reference: 64, 32).
    #[serde(default = "default_edm_hidden")]
    pub hidden: Vec<usize>,
    /// Channels of the EDM-map's hidden conv.
    #[serde(default = "default_map_channels")]
    pub map_channels: usize,
}

fn default_edm_channels() -> usize {
    128
}
fn default_edm_hidden() -> Vec<usize> {
    vec![64, 32]
}
fn default_map_channels() -> usize {
    64
}

impl Default for EdmSettings {
    fn default() -> Self {
        EdmSettings {
            kind: EdmKind::None,
            channels: default_edm_channels(),
            hidden: default_edm_hidden(),
            map_channels: default_map_channels(),
        }
    }
}

/// Widths of the shared exit head. The reference uses 256 and 48; a CPU-sized model may use
/// less, since at small F the head dominates the cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSettings {
    /// Channels of every ASPP branch, of its output, and of the decoder's convs.
    #[serde(default = "default_head_width")]
    pub width: usize,
    /// Channels of the decoder's low-level branch.
    #[serde(default = "default_low_level_width")]
    pub low_level_width: usize,
}

fn default_head_width() -> usize {
    256
}
fn default_low_level_width() -> usize {
    48
}

impl Default for HeadSettings {
    fn default() -> Self {
        HeadSettings { width: default_head_width(), low_level_width: default_low_level_width() }
    }
}

/// Widths of the stem's convolutions. The reference uses 64 (`stem0`, `stem1`) and 128 (`stem2`)
/// at every F; at small F that fixed stem is most of the cost (64% of exit 0's Multi-Adds for
/// add-2 at F=8), which caps every early exit's speed-up, so CPU-sized models scale it with F.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StemSettings {
    /// Channels of `stem0` and `stem1` (cell 0's h0 at stride 2).
    #[serde(default = "default_stem_width")]
    pub width: usize,
    /// Channels of `stem2` (cell 0's h1 at stride 4).
    #[serde(default = "default_stem_out")]
    pub out: usize,
}

fn default_stem_width() -> usize {
    64
}
fn default_stem_out() -> usize {
    128
}

impl Default for StemSettings {
    fn default() -> Self {
        StemSettings { width: default_stem_width(), out: default_stem_out() }
    }
}

impl StemSettings {
    /// A stem of `width` channels whose output doubles it, in the reference's proportions.
    pub fn scaled(width: usize) -> Self {
        StemSettings { width, out: 2 * width }
    }
}

/// A named policy threshold chosen by evaluation ("accurate", "fast").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyPreset {
    /// Policy in the command-line syntax, e.g. `edm:0.3`.
    pub policy: String,
    /// Measured mIoU at this setting, if known.
    #[serde(default)]
    pub miou: Option<f64>,
    /// Measured speed-up against the baseline, if known.
    #[serde(default)]
    pub speedup: Option<f64>,
}

/// Largest filter multiplier accepted: Auto-DeepLab-L uses 48; a card asking for far more is
/// a typo or an attack, and would allocate gigabytes of weights.
pub const MAX_F: usize = 64;
/// Largest card file read.
const MAX_CARD_BYTES: u64 = 1 << 20;
/// Largest head or decision-maker width accepted (the reference uses 256).
pub const MAX_WIDTH: usize = 1024;

/// The architecture card. See the module doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchCard {
    /// Human-readable name, shown in the app.
    pub name: String,
    pub kind: ModelKind,
    /// Filter multiplier F: block width at level s is F * 2^s.
    #[serde(rename = "F")]
    pub f: usize,
    /// Blocks per cell B (the searched cell has 5).
    #[serde(rename = "B")]
    pub b: usize,
    pub classes: Vec<ClassInfo>,
    /// Level (0..=3) of each of the 12 cells.
    pub path: Vec<u8>,
    /// Early-exit cells (0-based, ascending); the last cell is always an exit and not listed.
    pub exits: Vec<usize>,
    /// Cell genotype: rows (branch index, op index), two per block.
    pub genotype: Vec<[usize; 2]>,
    /// Cell whose output feeds the decoder's low-level branch.
    pub low_level_cell: usize,
    #[serde(default)]
    pub stem: StemSettings,
    #[serde(default)]
    pub head: HeadSettings,
    #[serde(default)]
    pub edm: EdmSettings,
    #[serde(default)]
    pub normalization: Normalization,
    /// Policy presets written by `add eval` ("accurate", "fast").
    #[serde(default)]
    pub presets: std::collections::BTreeMap<String, PolicyPreset>,
}

/// A card that cannot describe a network; the message names the field.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{file}: cannot read: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: not a valid architecture card: {source}")]
    Json { file: String, source: serde_json::Error },
    #[error("{file}: field `{field}`: {message}")]
    Invalid { file: String, field: String, message: String },
    #[error("unknown preset `{0}` (known: {known})", known = super::presets::PRESET_NAMES.join(", "))]
    UnknownPreset(String),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> CardError {
    CardError::Invalid { file: "<card>".into(), field: field.into(), message: message.into() }
}

impl ArchCard {
    /// Reads and validates a card from a JSON file.
    pub fn load(path: &Path) -> Result<Self, CardError> {
        let file = path.display().to_string();
        let io = |source| CardError::Io { file: file.clone(), source };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_CARD_BYTES {
            let why = format!("{len} bytes; a card is a few kilobytes (limit {MAX_CARD_BYTES})");
            return Err(io(std::io::Error::other(why)));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_json(&text).map_err(|e| e.in_file(&file))
    }

    /// Parses and validates a card from JSON text.
    pub fn from_json(text: &str) -> Result<Self, CardError> {
        let card: ArchCard =
            serde_json::from_str(text).map_err(|source| CardError::Json { file: "<card>".into(), source })?;
        card.validate()?;
        Ok(card)
    }

    /// The card as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a card always serialises")
    }

    /// Each class's colour, by class id (to read colour masks).
    pub fn palette(&self) -> Vec<[u8; 3]> {
        self.classes.iter().map(|c| c.color).collect()
    }

    /// Number of exits, the last cell included.
    pub fn num_exits(&self) -> usize {
        self.exits.len() + 1
    }

    /// Cell index of every exit, the last cell included.
    pub fn exit_cells(&self) -> Vec<usize> {
        let mut cells = self.exits.clone();
        cells.push(self.path.len() - 1);
        cells
    }

    /// Channels of one block at `level` (F * 2^level).
    pub fn block_channels(&self, level: u8) -> usize {
        self.f << level
    }

    /// Channels of a cell output at `level` (B * F * 2^level).
    pub fn cell_channels(&self, level: u8) -> usize {
        self.b * self.block_channels(level)
    }

    /// Level of the last cell, where the shared ASPP runs.
    pub fn head_level(&self) -> u8 {
        *self.path.last().expect("validated path is non-empty")
    }

    /// (branch, op) of every genotype row as the network really applies them: branches in
    /// ascending order, row j's op on the j-th branch in that order (the reference's quirk,
    /// which checkpoints depend on). The cell builder and the app's cell diagram both read this.
    pub fn ops_as_run(&self) -> Vec<(usize, usize)> {
        let mut branches: Vec<usize> = self.genotype.iter().map(|r| r[0]).collect();
        branches.sort_unstable();
        self.genotype.iter().zip(branches).map(|(row, branch)| (branch, row[1])).collect()
    }
}

impl CardError {
    /// Attaches the file name to an error produced while parsing text.
    pub fn in_file(self, file: &str) -> CardError {
        match self {
            CardError::Json { source, .. } => CardError::Json { file: file.into(), source },
            CardError::Invalid { field, message, .. } => CardError::Invalid { file: file.into(), field, message },
            other => other,
        }
    }
}

/// First branch index of `block` over the states [h0, h1, b0, b1, ...] (0, 2, 5, 9, 14, ...).
pub fn branch_offset(block: usize) -> usize {
    (0..block).map(|b| b + 2).sum()
}

mod validate;

#[cfg(test)]
mod tests;
