//! Parameter and Multi-Add counts per cell, per exit head and per path, computed from the card:
//! parameters by building the network on fresh variables and counting by name, Multi-Adds by
//! walking the same modules with the same shapes the forward pass uses.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Result};
use candle_nn::{VarBuilder, VarMap};
use serde::Serialize;

use super::card::ArchCard;
use super::layers::BuildMode;
use super::model::AddNet;

/// Learnable parameters, grouped by what they belong to.
#[derive(Debug, Clone, Serialize)]
pub struct ParamTable {
    /// Every learnable tensor name with its element count (BatchNorm running statistics are
    /// buffers, not parameters, and are left out).
    pub tensors: BTreeMap<String, usize>,
}

impl ParamTable {
    /// Counts the parameters of `card`'s network.
    pub fn of(card: &ArchCard) -> Result<ParamTable> {
        let vm = VarMap::new();
        AddNet::load(card, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu), BuildMode::Unfolded)?;
        let data = vm.data().lock().expect("varmap lock");
        let tensors = data
            .iter()
            .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
            .map(|(n, v)| (n.clone(), v.elem_count()))
            .collect();
        Ok(ParamTable { tensors })
    }

    /// Sum of parameters whose name starts with any of `prefixes`.
    pub fn count(&self, prefixes: &[String]) -> usize {
        self.tensors.iter().filter(|(n, _)| prefixes.iter().any(|p| n.starts_with(p.as_str()))).map(|(_, c)| c).sum()
    }

    /// All parameters of the segmentation network (decision makers excluded).
    pub fn network(&self) -> usize {
        self.tensors.iter().filter(|(n, _)| !n.starts_with("edm")).map(|(_, c)| c).sum()
    }

    /// Parameters of cell `i`.
    pub fn cell(&self, i: usize) -> usize {
        self.count(&[format!("cells.{i}.")])
    }

    /// Parameters shared by every exit head (ASPP, decoder, low-level branch).
    pub fn shared_head(&self) -> usize {
        self.count(&["aspp.".into(), "decoder.".into(), "low_level_conv.".into()])
    }

    /// Parameters of adapter `m` (`conv_aspp.{m}`).
    pub fn adapter(&self, m: usize) -> usize {
        self.count(&[format!("conv_aspp.{m}.")])
    }

    /// Parameters of the decision makers of early exit `k`.
    pub fn edm(&self, k: usize) -> usize {
        self.count(&[format!("edm.{k}."), format!("edm_map.{k}.")])
    }
}

/// Multi-Adds of one cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellCost {
    pub cell: usize,
    pub level: u8,
    /// Output size (height, width).
    pub out_size: (usize, usize),
    pub madds: u64,
    /// Extra Multi-Adds of the decoder's low-level branch when this is the low-level cell.
    pub low_level_madds: u64,
}

/// Multi-Adds of one exit.
#[derive(Debug, Clone, Serialize)]
pub struct ExitCost {
    pub exit: usize,
    pub cell: usize,
    /// Adapter + ASPP + decoder of this exit.
    pub head_madds: u64,
    /// The scalar EDM on this exit (0 on the last exit or without one).
    pub edm_madds: u64,
    /// The EDM-map on this exit (0 on the last exit or without one).
    pub edm_map_madds: u64,
    /// Stem, cells up to this exit, low-level branch, and this head: the cost of answering
    /// here when no earlier head ran.
    pub path_madds: u64,
}

/// Multi-Adds of the whole network for one input size.
#[derive(Debug, Clone, Serialize)]
pub struct CostTable {
    /// Input size (height, width).
    pub input: (usize, usize),
    pub stem_madds: u64,
    pub cells: Vec<CellCost>,
    pub exits: Vec<ExitCost>,
}

impl CostTable {
    /// The table of `card`'s network, built on fresh variables (never run) for an input of
    /// `h x w` (the padded size the network runs at): for callers that hold a card, not a net.
    pub fn for_card(card: &super::ArchCard, h: usize, w: usize) -> candle_core::Result<CostTable> {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, candle_core::DType::F32, &candle_core::Device::Cpu);
        let net = AddNet::load(card, vb, super::BuildMode::Folded)?;
        Ok(CostTable::of(&net, h, w))
    }

    /// Walks `net` for an input of `h x w`.
    pub fn of(net: &AddNet, h: usize, w: usize) -> CostTable {
        let (stem, cells, head, edms, maps) = net.parts();
        let card = &net.card;
        let (stem_madds, _s0, s1) = stem.madds(h, w);
        let mut prev = s1;
        let mut cell_costs = Vec::new();
        let mut low = (0, 0);
        for (i, cell) in cells.iter().enumerate() {
            let (madds, oh, ow) = cell.madds(prev);
            let low_level_madds = if i == card.low_level_cell {
                low = (oh, ow);
                head.low_level_madds(low)
            } else {
                0
            };
            cell_costs.push(CellCost { cell: i, level: cell.level, out_size: (oh, ow), madds, low_level_madds });
            prev = (oh, ow);
        }
        let exits = card
            .exit_cells()
            .iter()
            .enumerate()
            .map(|(e, &cell)| {
                let feat = cell_costs[cell].out_size;
                let head_madds = head.madds(e, feat, (h, w), low);
                let edm_madds = edms.get(e).map_or(0, |m| m.madds(feat.0, feat.1));
                let edm_map_madds = maps.get(e).map_or(0, |m| m.madds(feat.0, feat.1));
                let cells_madds: u64 = cell_costs[..=cell].iter().map(|c| c.madds + c.low_level_madds).sum();
                let path_madds = stem_madds + cells_madds + head_madds;
                ExitCost { exit: e, cell, head_madds, edm_madds, edm_map_madds, path_madds }
            })
            .collect();
        CostTable { input: (h, w), stem_madds, cells: cell_costs, exits }
    }

    /// Multi-Adds of the full path: every cell and the last head only.
    pub fn full_path(&self) -> u64 {
        self.exits.last().map_or(0, |e| e.path_madds)
    }
}
