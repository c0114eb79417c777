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

    /// Checks every field; the error names the field and says what was expected.
    pub fn validate(&self) -> Result<(), CardError> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if self.f == 0 || self.f % 2 == 1 || self.f > MAX_F {
            return Err(invalid("F", format!("must be an even number in 2..={MAX_F}, got {}", self.f)));
        }
        if self.b == 0 || self.b > 8 {
            return Err(invalid("B", format!("must be 1..=8, got {}", self.b)));
        }
        if self.classes.len() < 2 || self.classes.len() > 255 {
            return Err(invalid("classes", format!("needs 2..=255 classes, got {}", self.classes.len())));
        }
        if self.path.len() != NUM_CELLS {
            return Err(invalid("path", format!("needs {NUM_CELLS} levels, got {}", self.path.len())));
        }
        for (i, &level) in self.path.iter().enumerate() {
            if level >= NUM_LEVELS {
                return Err(invalid(format!("path[{i}]"), format!("level must be 0..=3, got {level}")));
            }
            let prev = if i == 0 { 0 } else { self.path[i - 1] };
            if level.abs_diff(prev) > 1 {
                let from = if i == 0 { "the stem (level 0)".to_string() } else { format!("cell {}", i - 1) };
                return Err(invalid(
                    format!("path[{i}]"),
                    format!("jumps from level {prev} ({from}) to {level}; a path moves at most one level per cell"),
                ));
            }
        }
        let last = NUM_CELLS - 1;
        for (k, &e) in self.exits.iter().enumerate() {
            if e >= last {
                return Err(invalid(
                    format!("exits[{k}]"),
                    format!("cell {e} is not an early exit: early exits must be before the last cell ({last})"),
                ));
            }
            if k > 0 && e <= self.exits[k - 1] {
                return Err(invalid(format!("exits[{k}]"), "exits must be strictly ascending"));
            }
            if e < self.low_level_cell {
                return Err(invalid(
                    format!("exits[{k}]"),
                    format!("exit at cell {e} comes before the low-level cell {}", self.low_level_cell),
                ));
            }
            let below = self.head_level() as i32 - self.path[e] as i32;
            if below > 2 {
                return Err(invalid(
                    format!("exits[{k}]"),
                    format!(
                        "exit cell {e} is at level {} but the head is at level {}: an adapter bridges at most two levels",
                        self.path[e],
                        self.head_level()
                    ),
                ));
            }
        }
        if self.low_level_cell > last {
            return Err(invalid("low_level_cell", format!("must be 0..={last}")));
        }
        if self.kind == ModelKind::Add && self.low_level_cell > 2 {
            // the reference's dense network only tracks the plain outputs of cells 0..=2
            return Err(invalid(
                "low_level_cell",
                "a dense (add) network takes its low-level feature from cells 0..=2",
            ));
        }
        if self.head_level() == 0 {
            return Err(invalid(
                "path[11]",
                "the last cell must be at level 1, 2 or 3 (the ASPP rates are defined there)",
            ));
        }
        self.validate_genotype()?;
        if self.edm.kind != EdmKind::None && self.exits.is_empty() {
            return Err(invalid("edm.kind", "a decision maker needs at least one early exit"));
        }
        if [self.stem.width, self.stem.out].iter().any(|&w| w == 0 || w > MAX_WIDTH) {
            let got = (self.stem.width, self.stem.out);
            return Err(invalid("stem", format!("widths must be in 1..={MAX_WIDTH}, got {got:?}")));
        }
        let widths = [self.head.width, self.head.low_level_width];
        if widths.iter().any(|&w| w == 0 || w > MAX_WIDTH) {
            return Err(invalid("head", format!("widths must be in 1..={MAX_WIDTH}, got {widths:?}")));
        }
        let edm = &self.edm;
        let widths = [edm.channels, edm.map_channels].into_iter().chain(edm.hidden.iter().copied());
        if edm.hidden.len() > 8 || widths.into_iter().any(|w| w == 0 || w > MAX_WIDTH) {
            return Err(invalid("edm", format!("at most 8 hidden layers, every width in 1..={MAX_WIDTH}")));
        }
        if self.normalization.std.iter().any(|s| *s <= 0.0 || !s.is_finite()) {
            return Err(invalid("normalization.std", "must be positive and finite"));
        }
        if self.normalization.mean.iter().any(|m| !m.is_finite()) {
            return Err(invalid("normalization.mean", "must be finite"));
        }
        Ok(())
    }

    fn validate_genotype(&self) -> Result<(), CardError> {
        if self.genotype.len() != 2 * self.b {
            return Err(invalid(
                "genotype",
                format!("needs two rows per block ({} rows for B={}), got {}", 2 * self.b, self.b, self.genotype.len()),
            ));
        }
        for block in 0..self.b {
            let lo = branch_offset(block);
            let hi = lo + block + 2;
            let rows = &self.genotype[2 * block..2 * block + 2];
            for (r, row) in rows.iter().enumerate() {
                let idx = 2 * block + r;
                if row[0] < lo || row[0] >= hi {
                    return Err(invalid(
                        format!("genotype[{idx}]"),
                        format!("branch {} does not exist in block {block}: its branches are {lo}..{}", row[0], hi - 1),
                    ));
                }
                if row[1] >= OP_NAMES.len() {
                    return Err(invalid(
                        format!("genotype[{idx}]"),
                        format!("op {} does not exist: ops are 0..=7 ({})", row[1], OP_NAMES.join(", ")),
                    ));
                }
            }
            if rows[0][0] == rows[1][0] {
                return Err(invalid(
                    format!("genotype[{}]", 2 * block + 1),
                    format!("block {block} uses branch {} twice; each block combines two different inputs", rows[0][0]),
                ));
            }
        }
        Ok(())
    }
}

/// First branch index of `block` over the states [h0, h1, b0, b1, ...] (0, 2, 5, 9, 14, ...).
pub fn branch_offset(block: usize) -> usize {
    (0..block).map(|b| b + 2).sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> ArchCard {
        ArchCard::preset("add-2", 8).unwrap()
    }

    fn error_of(edit: impl FnOnce(&mut ArchCard)) -> String {
        let mut c = card();
        edit(&mut c);
        // through JSON, as a user's file would arrive
        ArchCard::from_json(&c.to_json()).unwrap_err().to_string()
    }

    #[test]
    fn presets_are_valid_and_round_trip() {
        for name in super::super::presets::PRESET_NAMES {
            let c = ArchCard::preset(name, 20).unwrap();
            assert_eq!(ArchCard::from_json(&c.to_json()).unwrap(), c);
        }
        assert!(ArchCard::preset("add-9", 20).is_err());
    }

    #[test]
    fn errors_name_the_field() {
        let e = error_of(|c| c.path[4] = 0);
        assert!(e.contains("path[4]") && e.contains("jumps from level 2"), "{e}");
        let e = error_of(|c| c.exits = vec![11]);
        assert!(e.contains("exits[0]") && e.contains("before the last cell"), "{e}");
        let e = error_of(|c| c.genotype[8] = [25, 7]);
        assert!(e.contains("genotype[8]") && e.contains("branch 25 does not exist in block 4"), "{e}");
        let e = error_of(|c| c.genotype[3] = [3, 9]);
        assert!(e.contains("genotype[3]") && e.contains("op 9"), "{e}");
        let e = error_of(|c| c.genotype[1] = [0, 4]);
        assert!(e.contains("uses branch 0 twice"), "{e}");
        let e = error_of(|c| {
            c.path.pop();
        });
        assert!(e.contains("`path`") && e.contains("needs 12"), "{e}");
        let e = error_of(|c| c.f = 7);
        assert!(e.contains("`F`"), "{e}");
        let e = error_of(|c| c.low_level_cell = 4);
        assert!(e.contains("low_level_cell"), "{e}");
        let e = error_of(|c| c.classes.truncate(1));
        assert!(e.contains("classes"), "{e}");
        let e = error_of(|c| c.stem.out = 0);
        assert!(e.contains("`stem`") && e.contains("(64, 0)"), "{e}");
    }

    #[test]
    fn unknown_fields_and_bad_json_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(&card().to_json()).unwrap();
        v["exit_cells"] = serde_json::json!([3]);
        let e = ArchCard::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(e.contains("exit_cells"), "{e}");
        assert!(ArchCard::from_json("{").is_err());
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        let mut c = card();
        c.path[0] = 3;
        std::fs::write(&p, c.to_json()).unwrap();
        let e = ArchCard::load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("path[0]"), "{e}");
        let e = ArchCard::load(&dir.path().join("missing.json")).unwrap_err().to_string();
        assert!(e.contains("missing.json"), "{e}");
    }
}
