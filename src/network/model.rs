//! The whole network built from a card: stem, 12 cells, the shared head, and the decision
//! makers. It runs step by step (stem, then one cell at a time, then any exit's head) so that
//! dynamic inference can stop, report and cancel between cells; [`AddNet::forward_t`] runs every
//! exit at once for training and for the parity tests.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::card::{ArchCard, ModelKind, NUM_CELLS};
use super::cell::{Cell, CellInputs, H0Input};
use super::edm::{Edm, EdmMap};
use super::head::Head;
use super::layers::BuildMode;
use super::stem::Stem;

/// The ADD / Auto-DeepLab network. Parameter names equal the reference `state_dict`; the
/// decision makers live under `edm.{k}.` and `edm_map.{k}.` (k = early exit number).
#[derive(Debug, Clone)]
pub struct AddNet {
    pub card: ArchCard,
    stem: Stem,
    cells: Vec<Cell>,
    head: Head,
    edms: Vec<Edm>,
    edm_maps: Vec<EdmMap>,
}

/// The state of one forward pass between steps.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Input size (height, width).
    pub size: (usize, usize),
    /// Cells run so far.
    pub cells_done: usize,
    /// h0 source of the next plain cell (cell two back, or the stem).
    prev_prev: Tensor,
    /// h1 source of the next cell (previous cell's output, or the stem).
    prev: Tensor,
    /// Dense outputs of the cells run so far (dense kind only).
    dense: Vec<Tensor>,
    low_level: Option<Tensor>,
}

impl Trace {
    /// Output of the last cell run (an exit's feature when that cell is an exit).
    pub fn feature(&self) -> &Tensor {
        &self.prev
    }
}

impl AddNet {
    /// Builds the network of `card` with weights from `vb` (a checkpoint, or a `VarMap` for
    /// training/random init). The card must be valid.
    pub fn load(card: &ArchCard, vb: VarBuilder, mode: BuildMode) -> Result<AddNet> {
        card.validate().map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let stem = Stem::load(&card.stem, &vb, mode)?;
        let mut cells = Vec::with_capacity(NUM_CELLS);
        for i in 0..NUM_CELLS {
            cells.push(Cell::load(card, i, &cell_inputs(card, i), &vb.pp("cells").pp(i), mode)?);
        }
        let head = Head::load(card, &vb, mode)?;
        let mut edms = Vec::new();
        let mut edm_maps = Vec::new();
        for (k, &cell) in card.exits.iter().enumerate() {
            let c = card.cell_channels(card.path[cell]);
            if card.edm.kind.has_scalar() {
                edms.push(Edm::load(c, &card.edm, &vb.pp("edm").pp(k))?);
            }
            if card.edm.kind.has_map() {
                edm_maps.push(EdmMap::load(c, &card.edm, &vb.pp("edm_map").pp(k))?);
            }
        }
        Ok(AddNet { card: card.clone(), stem, cells, head, edms, edm_maps })
    }

    /// Runs the stem on a normalised (N,3,H,W) image.
    pub fn start(&self, x: &Tensor, train: bool) -> Result<Trace> {
        let (_, c, h, w) = x.dims4()?;
        if c != 3 {
            candle_core::bail!("input must have 3 channels (RGB), got {c}");
        }
        let (a, b) = self.stem.forward_t(x, train)?;
        Ok(Trace { size: (h, w), cells_done: 0, prev_prev: a, prev: b, dense: Vec::new(), low_level: None })
    }

    /// Runs the next cell.
    pub fn step(&self, t: &mut Trace, train: bool) -> Result<()> {
        let i = t.cells_done;
        let cell = self.cells.get(i).ok_or_else(|| candle_core::Error::Msg("all cells already ran".into()))?;
        let dense_in = is_dense_in(&self.card, i);
        let h0 = if dense_in { H0Input::Dense(&t.dense[..i - 1]) } else { H0Input::Plain(&t.prev_prev) };
        let (out, dense) = cell.forward_t(h0, &t.prev, train)?;
        if let Some(d) = dense {
            t.dense.push(d);
        }
        if i == self.card.low_level_cell {
            t.low_level = Some(self.head.low_level(&out, train)?);
        }
        t.prev_prev = std::mem::replace(&mut t.prev, out);
        t.cells_done += 1;
        Ok(())
    }

    /// Logits (N,K,H,W) of exit `exit` (0-based, the last exit included), from the current
    /// trace, whose last cell must be that exit's cell.
    pub fn exit_logits(&self, exit: usize, t: &Trace, train: bool) -> Result<Tensor> {
        let cell = self.card.exit_cells()[exit];
        if t.cells_done != cell + 1 {
            candle_core::bail!(
                "exit {exit} sits on cell {cell}, but the trace is after cell {}",
                t.cells_done as i64 - 1
            );
        }
        let low = t.low_level.as_ref().ok_or_else(|| candle_core::Error::Msg("low-level cell has not run".into()))?;
        self.head.forward_t(exit, t.feature(), low, t.size, train)
    }

    /// Scalar EDM score (N,) at early exit `k`, if the model has scalar EDMs.
    pub fn edm_score(&self, k: usize, feature: &Tensor) -> Result<Option<Tensor>> {
        self.edms.get(k).map(|e| e.forward(feature)).transpose()
    }

    /// EDM-map (N,1,h,w) at early exit `k`, if the model has EDM-maps.
    pub fn edm_map(&self, k: usize, feature: &Tensor) -> Result<Option<Tensor>> {
        self.edm_maps.get(k).map(|e| e.forward(feature)).transpose()
    }

    /// Logits of every exit, in exit order (training and parity checks).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Vec<Tensor>> {
        let exits = self.card.exit_cells();
        let mut t = self.start(x, train)?;
        let mut out = Vec::with_capacity(exits.len());
        for i in 0..NUM_CELLS {
            self.step(&mut t, train)?;
            if let Some(e) = exits.iter().position(|&c| c == i) {
                out.push(self.exit_logits(e, &t, train)?);
            }
        }
        Ok(out)
    }

    /// The stem, cells and head, for the cost tables.
    pub(crate) fn parts(&self) -> (&Stem, &[Cell], &Head, &[Edm], &[EdmMap]) {
        (&self.stem, &self.cells, &self.head, &self.edms, &self.edm_maps)
    }
}

/// Whether cell `i` fuses every earlier cell's dense output as h0.
pub fn is_dense_in(card: &ArchCard, i: usize) -> bool {
    card.kind == ModelKind::Add && i >= 3
}

/// Channels and levels of what cell `i` reads, as the reference wires them.
fn cell_inputs(card: &ArchCard, i: usize) -> CellInputs {
    let prev = if i == 0 { (card.stem.out, 0) } else { (card.cell_channels(card.path[i - 1]), card.path[i - 1]) };
    let dense_in = is_dense_in(card, i);
    let prev_prev = if dense_in {
        card.path[..i - 1].iter().map(|&l| card.block_channels(l)).collect()
    } else {
        vec![match i {
            0 => card.stem.width,
            1 => card.stem.out,
            _ => card.cell_channels(card.path[i - 2]),
        }]
    };
    CellInputs { prev, prev_prev, dense_in, dense_out: card.kind == ModelKind::Add && i < NUM_CELLS - 2 }
}
