//! The network-level supernet: every reachable node (cell i, level l) of the 12 x 4 trellis
//! holds a cell of the fixed searched genotype, with multi-exit heads, as ADD searches it.
//!
//! Differences from the reference `Model_net_search`, each chosen to fit a 2-core CPU:
//! - A node's h1 is the beta-weighted SUM of its incoming edges, each resampled to the node's
//!   level by its own preprocessing (FactorizedReduce down, ReLU-1x1-BN same, bilinear x2 +
//!   ReLU-1x1-BN up), and the cell's ops run once. The reference runs the ops once per
//!   incoming edge and weights the three outputs: three times the cost for the same search
//!   signal (which edge a node prefers).
//! - The exits share ONE ASPP + DeepLabv3+ decoder (of width `--head-width`), as the trained
//!   network does, instead of one ASPP-to-logits per level. At an exit cell every level's
//!   output is adapted to the head level ([`HEAD_LEVEL`], stride 16) with the fixed
//!   network's adapters ((Double)FactorizedReduce from finer levels, bilinear + ReLU-1x1-BN from
//!   the coarser one), summed (the reference sums the levels' logits), then decoded.
//! - A two-conv stem to stride 4 with F*B channels, like the reference supernet (not the
//!   trained network's 64/128-channel stem).
//!
//! As in the reference, cells 0-2 take h0 from the node two back (the stem's stride-2 output
//! for cell 0, the stem's output for cell 1, cell 0 for cell 2; reduced to the node's level),
//! and cells from 3 on are dense: every cell up to 9 emits a compressed copy of each level
//! (`dense`; a level a cell does not reach yet is reduced from its deepest node), and node
//! (i, l) fuses level l's copies of cells 0..=i-2 with one ReLU-1x1-BN.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::cell_search::MixedCellOps;
use super::trellis::{CELLS, LEVELS, RATES, source_exists, target, top_level};
use crate::network::card::ArchCard;
use crate::network::cell::CellOps;
use crate::network::head::Head;
use crate::network::layers::{BuildMode, ConvBn, ConvSpec, FactorizedReduce, ReluConvBn, resize, scale_dim};

const MODE: BuildMode = BuildMode::Unfolded;

/// Level of the supernet's shared ASPP (stride 16).
pub const HEAD_LEVEL: usize = 2;

/// Brings a feature from one level to another, as the fixed network does.
#[derive(Debug, Clone)]
enum Resample {
    /// One (stride 2) or two (stride 4) levels finer: (Double)FactorizedReduce.
    Down(FactorizedReduce),
    /// Same level: ReLU-1x1-BN.
    Same(ReluConvBn),
    /// One level coarser: bilinear to (d-1)*2+1, then ReLU-1x1-BN.
    Up(ReluConvBn),
}

impl Resample {
    /// From level `from` (-1 is the stem's stride-2 output) to level `to`.
    fn load(cin: usize, cout: usize, from: i64, to: i64, vb: &VarBuilder) -> Result<Resample> {
        Ok(match to - from {
            0 => Resample::Same(ReluConvBn::load(ConvSpec::pointwise(cin, cout), vb, MODE)?),
            1 => Resample::Down(FactorizedReduce::load(cin, cout, 2, vb, MODE)?),
            2 => Resample::Down(FactorizedReduce::load(cin, cout, 4, vb, MODE)?),
            -1 => Resample::Up(ReluConvBn::load(ConvSpec::pointwise(cin, cout), vb, MODE)?),
            d => candle_core::bail!("no resampling across {d} levels"),
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Resample::Down(fr) => fr.forward_t(x, train),
            Resample::Same(p) => p.forward_t(x, train),
            Resample::Up(p) => {
                let (_, _, h, w) = x.dims4()?;
                p.forward_t(&resize(x, scale_dim(h, 2.0), scale_dim(w, 2.0))?, train)
            }
        }
    }
}

/// Where a node's h0 comes from.
#[derive(Debug, Clone)]
enum H0 {
    /// The node two back (or the stem), brought to this level.
    Plain(Resample),
    /// This level's dense copies of cells 0..=i-2, concatenated, ReLU-1x1-BN.
    Dense(ReluConvBn),
}

/// One node of the trellis.
#[derive(Debug, Clone)]
struct SuperCell {
    /// Incoming edges: (source level, rate = index into beta's last axis, resampling).
    edges: Vec<(usize, usize, Resample)>,
    h0: H0,
    body: Body,
}

/// A node's blocks.
#[derive(Debug, Clone)]
enum Body {
    /// The fixed genotype, built exactly as the fixed network builds it (the reference's
    /// op-order quirk included), so a genotype means the same cell here as in the network.
    Fixed(CellOps),
    /// Every candidate op on every edge, weighted by alpha (`--cell-search`).
    Mixed(MixedCellOps),
}

impl SuperCell {
    fn load(card: &ArchCard, i: usize, l: usize, cell_search: bool, vb: &VarBuilder) -> Result<SuperCell> {
        let cell_c = |lv: usize| card.cell_channels(lv as u8);
        let c = card.block_channels(l as u8);
        let mut edges = Vec::new();
        for s in 0..LEVELS {
            for r in 0..RATES {
                if source_exists(i, s) && target(s, r) == Some(l) {
                    let rs = Resample::load(cell_c(s), c, s as i64, l as i64, &vb.pp(format!("edge{s}")))?;
                    edges.push((s, r, rs));
                }
            }
        }
        let h0 = if i < 3 {
            let (cin, from) = match i {
                0 => (cell_c(0) / 2, -1),
                1 => (cell_c(0), 0),
                _ => (cell_c(l.min(top_level(i - 2))), l.min(top_level(i - 2)) as i64),
            };
            H0::Plain(Resample::load(cin, c, from, l as i64, &vb.pp("pre_preprocess"))?)
        } else {
            H0::Dense(ReluConvBn::load(ConvSpec::pointwise(c * (i - 1), c), &vb.pp("pre_preprocess"), MODE)?)
        };
        let body = if cell_search {
            Body::Mixed(MixedCellOps::load(card.b, c, vb, MODE)?)
        } else {
            Body::Fixed(CellOps::load(card, c, vb, MODE)?)
        };
        Ok(SuperCell { edges, h0, body })
    }
}

/// The supernet. `card` is the template every shape is read from (F, B, genotype, classes,
/// head widths); its path is a placeholder that puts the shared head at [`HEAD_LEVEL`].
#[derive(Debug, Clone)]
pub struct Supernet {
    pub card: ArchCard,
    /// Cells with an exit, the last cell included, ascending.
    pub exit_cells: Vec<usize>,
    stem0: ConvBn,
    stem1: ConvBn,
    /// `cells[i][l]` for l in 0..=top_level(i).
    cells: Vec<Vec<SuperCell>>,
    /// `dense[i][l]` for cells 0..CELLS-2 and every level.
    dense: Vec<Vec<Resample>>,
    /// `adapters[k][l]`: exit k's level-l output to the head level (None at the head level).
    adapters: Vec<Vec<Option<Resample>>>,
    head: Head,
}

/// Placeholder path of the template card: cell 0 at level 0 (the low-level feature is the
/// level-0 node of cell 0), the last cell at [`HEAD_LEVEL`].
pub const TEMPLATE_PATH: [u8; CELLS] = [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];

impl Supernet {
    /// Builds the supernet with variables from `vb`. `exit_cells` must be ascending, at
    /// least 2 (every level is reachable there) and end with the last cell. With
    /// `cell_search`, every node's cell holds every candidate op (see [`super::cell_search`])
    /// instead of the template's genotype.
    pub fn load(template: &ArchCard, exit_cells: &[usize], cell_search: bool, vb: &VarBuilder) -> Result<Supernet> {
        let mut card = template.clone();
        card.path = TEMPLATE_PATH.to_vec();
        card.exits = Vec::new();
        card.low_level_cell = 0;
        card.edm.kind = crate::network::EdmKind::None;
        card.validate().map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        if exit_cells.last() != Some(&(CELLS - 1)) || exit_cells.iter().any(|&e| e < 2) || !exit_cells.is_sorted() {
            candle_core::bail!(
                "exit cells {exit_cells:?}: must be ascending, from cell 2 on, and end with cell {}",
                CELLS - 1
            );
        }
        let c0 = card.cell_channels(0);
        let (s0, s1) = (vb.pp("stem0"), vb.pp("stem1"));
        let stem0 = ConvBn::load(ConvSpec::new(3, c0 / 2, 3).stride(2), &s0.pp("0"), s0.pp("1"), MODE)?;
        let stem1 = ConvBn::load(ConvSpec::new(c0 / 2, c0, 3).stride(2), &s1.pp("0"), s1.pp("1"), MODE)?;
        let mut cells = Vec::with_capacity(CELLS);
        let mut dense = Vec::new();
        for i in 0..CELLS {
            let row = (0..=top_level(i))
                .map(|l| SuperCell::load(&card, i, l, cell_search, &vb.pp("cells").pp(i).pp(l)))
                .collect::<Result<Vec<_>>>()?;
            cells.push(row);
            if i < CELLS - 2 {
                let row = (0..LEVELS)
                    .map(|l| {
                        let from = l.min(top_level(i));
                        let cin = card.cell_channels(from as u8);
                        Resample::load(
                            cin,
                            card.block_channels(l as u8),
                            from as i64,
                            l as i64,
                            &vb.pp("dense").pp(i).pp(l),
                        )
                    })
                    .collect::<Result<Vec<_>>>()?;
                dense.push(row);
            }
        }
        let head_c = card.cell_channels(HEAD_LEVEL as u8);
        let mut adapters = Vec::new();
        for k in 0..exit_cells.len() {
            let row = (0..LEVELS)
                .map(|l| {
                    if l == HEAD_LEVEL {
                        return Ok(None);
                    }
                    let vb = vb.pp("exit_adapters").pp(k).pp(l);
                    Resample::load(card.cell_channels(l as u8), head_c, l as i64, HEAD_LEVEL as i64, &vb).map(Some)
                })
                .collect::<Result<Vec<_>>>()?;
            adapters.push(row);
        }
        let head = Head::load(&card, &vb.pp("head"), MODE)?;
        Ok(Supernet { card, exit_cells: exit_cells.to_vec(), stem0, stem1, cells, dense, adapters, head })
    }

    /// Logits (N,K,H,W) of every exit, in exit order, for normalised images `x` (sides of the
    /// form 32k+1, so that every level's grid lines up), normalised edge weights `w`
    /// (12, 4, 3) from [`super::trellis::normalise_tensor`] and, for a cell search, the op
    /// weights `ops` (edges x 8, softmax of alpha).
    pub fn forward_t(&self, x: &Tensor, w: &Tensor, ops: Option<&Tensor>, train: bool) -> Result<Vec<Tensor>> {
        let (_, _, h, wd) = x.dims4()?;
        if (h - 1) % 32 != 0 || (wd - 1) % 32 != 0 {
            candle_core::bail!("supernet input {h}x{wd}: each side must be 32k+1 (e.g. 65x129)");
        }
        // the stem's first output has no ReLU: every consumer starts with one (as the reference)
        let stem0 = self.stem0.forward_t(x, train)?;
        let stem1 = self.stem1.forward_t(&stem0.relu()?, train)?;
        let mut nodes: Vec<Vec<Tensor>> = Vec::with_capacity(CELLS);
        let mut dense: Vec<Vec<Tensor>> = vec![Vec::new(); LEVELS];
        let mut low_level = None;
        let mut outs = Vec::with_capacity(self.exit_cells.len());
        for i in 0..CELLS {
            let w_i = w.get(i)?;
            let mut cur = Vec::with_capacity(LEVELS);
            for (l, cell) in self.cells[i].iter().enumerate() {
                let mut h1: Option<Tensor> = None;
                for (s, r, rs) in &cell.edges {
                    let src = if i == 0 { &stem1 } else { &nodes[i - 1][*s] };
                    let y = rs.forward_t(src, train)?.broadcast_mul(&w_i.get(*s)?.get(*r)?)?;
                    h1 = Some(match h1 {
                        Some(a) => (a + y)?,
                        None => y,
                    });
                }
                let h1 = h1.ok_or_else(|| candle_core::Error::Msg(format!("node ({i}, {l}) has no incoming edge")))?;
                let h0 = match &cell.h0 {
                    H0::Plain(rs) => {
                        let src = match i {
                            0 => &stem0,
                            1 => &stem1,
                            _ => &nodes[i - 2][l.min(top_level(i - 2))],
                        };
                        rs.forward_t(src, train)?
                    }
                    H0::Dense(p) => p.forward_t(&Tensor::cat(&dense[l][..i - 1], 1)?, train)?,
                };
                cur.push(match (&cell.body, ops) {
                    (Body::Fixed(body), _) => body.forward_t(h0, h1, train)?,
                    (Body::Mixed(body), Some(ops)) => body.forward_t(h0, h1, ops, train)?,
                    (Body::Mixed(_), None) => candle_core::bail!("a cell-search supernet needs op weights"),
                });
            }
            if i < CELLS - 2 {
                for (l, d) in self.dense[i].iter().enumerate() {
                    dense[l].push(d.forward_t(&cur[l.min(top_level(i))], train)?);
                }
            }
            if i == 0 {
                low_level = Some(self.head.low_level(&cur[0], train)?);
            }
            if let Some(k) = self.exit_cells.iter().position(|&e| e == i) {
                let mut feature: Option<Tensor> = None;
                for (l, y) in cur.iter().enumerate() {
                    let y = match &self.adapters[k][l] {
                        None => y.clone(),
                        Some(a) => a.forward_t(y, train)?,
                    };
                    feature = Some(match feature {
                        Some(f) => (f + y)?,
                        None => y,
                    });
                }
                let feature = feature.expect("an exit cell has nodes");
                let low = low_level.as_ref().expect("cell 0 ran");
                outs.push(self.head.forward_t(0, &feature, low, (h, wd), train)?);
            }
            nodes.push(cur);
        }
        Ok(outs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn every_exit_gives_logits_at_input_size_and_beta_gets_a_gradient() {
        let mut card = ArchCard::preset("add-2", 2).unwrap();
        card.head.width = 8;
        card.head.low_level_width = 4;
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let net = Supernet::load(&card, &[5, 11], false, &vb).unwrap();
        let beta = candle_core::Var::zeros((CELLS, LEVELS, RATES), DType::F32, &Device::Cpu).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 3, 65, 65), &Device::Cpu).unwrap();
        let w = super::super::trellis::normalise_tensor(beta.as_tensor()).unwrap();
        let outs = net.forward_t(&x, &w, None, true).unwrap();
        assert_eq!(outs.len(), 2);
        for o in &outs {
            assert_eq!(o.dims(), &[2, 19, 65, 65]);
        }
        let loss = outs[1].sqr().unwrap().mean_all().unwrap();
        let g = loss.backward().unwrap();
        let gb = g.get(beta.as_tensor()).expect("beta has a gradient").abs().unwrap().sum_all().unwrap();
        assert!(gb.to_scalar::<f32>().unwrap() > 0.0);
        assert!(
            net.forward_t(&Tensor::zeros((2, 3, 64, 65), DType::F32, &Device::Cpu).unwrap(), &w, None, true).is_err()
        );
    }
}
