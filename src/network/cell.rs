//! One cell of the trellis, plain (Auto-DeepLab) or dense (ADD).
//!
//! Inputs: h1, the previous cell resampled to this cell's level (`preprocess`), and h0, either
//! the cell two back (`pre_preprocess`) or, in a dense cell, the fusion of every earlier cell's
//! compressed output (`pre_preprocess.{j}` then `pre_preprocess_1x1`). Each of the B blocks adds
//! two ops over earlier states; the output concatenates the B blocks. A cell that feeds later
//! dense cells also emits a compressed copy (`dense_process`).

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::card::{ArchCard, branch_offset};
use super::layers::{BuildMode, ConvSpec, FactorizedReduce, ReluConvBn, resize, scale_dim};
use super::ops::Op;

/// How h1 reaches this cell's level.
#[derive(Debug, Clone)]
enum Resample {
    /// Previous cell one level finer: FactorizedReduce.
    Down(FactorizedReduce),
    /// Same level: ReLU-1x1-BN.
    Same(ReluConvBn),
    /// Previous cell one level coarser: bilinear to (d-1)*2+1, then ReLU-1x1-BN.
    Up(ReluConvBn),
}

/// Where h0 comes from.
#[derive(Debug, Clone)]
enum H0 {
    /// The cell two back (or the stem), resized if needed, then ReLU-1x1-BN.
    Plain(ReluConvBn),
    /// Every earlier cell's dense output, each resized + ReLU-1x1-BN, concatenated, fused.
    Dense { each: Vec<ReluConvBn>, fuse: ReluConvBn },
}

/// A cell, built as the reference builds it (see the module doc).
#[derive(Debug, Clone)]
pub struct Cell {
    pub level: u8,
    resample: Resample,
    h0: H0,
    body: CellOps,
    dense_out: Option<ReluConvBn>,
}

/// The B blocks of a cell (`_ops.{j}`), shared by the fixed network and the search supernet.
#[derive(Debug, Clone)]
pub struct CellOps {
    /// (branch index, op) in the order the reference applies them: ascending branch index,
    /// with `_ops.{j}` (built from genotype row j) applied to the j-th branch in that order.
    ops: Vec<(usize, Op)>,
    blocks: usize,
}

impl CellOps {
    /// Builds the genotype's ops on `c` channels under `vb` (`_ops.{j}`).
    pub fn load(card: &ArchCard, c: usize, vb: &VarBuilder, mode: BuildMode) -> Result<CellOps> {
        let ops = card
            .ops_as_run()
            .into_iter()
            .enumerate()
            .map(|(j, (branch, op))| Ok((branch, Op::load(op, c, &vb.pp("_ops").pp(j), mode)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(CellOps { ops, blocks: card.b })
    }

    /// Runs the blocks on (h0, h1) and concatenates their outputs.
    pub fn forward_t(&self, s0: Tensor, s1: Tensor, train: bool) -> Result<Tensor> {
        let mut states = vec![s0, s1];
        let mut next_op = self.ops.iter().peekable();
        for block in 0..self.blocks {
            let offset = branch_offset(block);
            let mut sum: Option<Tensor> = None;
            while let Some((branch, op)) = next_op.next_if(|(b, _)| *b < offset + states.len()) {
                let y = op.forward_t(&states[branch - offset], train)?;
                sum = Some(match sum {
                    Some(s) => (s + y)?,
                    None => y,
                });
            }
            states.push(sum.ok_or_else(|| candle_core::Error::Msg(format!("block {block} has no input op")))?);
        }
        Tensor::cat(&states[states.len() - self.blocks..], 1)
    }

    /// Multi-Adds on `h x w` states.
    pub fn madds(&self, h: usize, w: usize) -> u64 {
        self.ops.iter().map(|(_, op)| op.madds(h, w)).sum()
    }
}

/// What h0 is made of when the cell runs.
pub enum H0Input<'a> {
    Plain(&'a Tensor),
    Dense(&'a [Tensor]),
}

/// Channels and level of everything a cell reads, fixed by the card and the cell's position.
pub struct CellInputs {
    /// Channels and level of h1's source (the previous cell, or the stem).
    pub prev: (usize, u8),
    /// Channels of h0's sources: one (plain) or one per earlier dense output.
    pub prev_prev: Vec<usize>,
    pub dense_in: bool,
    pub dense_out: bool,
}

impl Cell {
    pub fn load(card: &ArchCard, index: usize, inputs: &CellInputs, vb: &VarBuilder, mode: BuildMode) -> Result<Cell> {
        let level = card.path[index];
        let c = card.block_channels(level);
        let (prev_c, prev_level) = inputs.prev;
        let pre = vb.pp("preprocess");
        let resample = match prev_level as i32 - level as i32 {
            -1 => Resample::Down(FactorizedReduce::load(prev_c, c, 2, &pre, mode)?),
            0 => Resample::Same(ReluConvBn::load(ConvSpec::pointwise(prev_c, c), &pre, mode)?),
            1 => Resample::Up(ReluConvBn::load(ConvSpec::pointwise(prev_c, c), &pre, mode)?),
            d => candle_core::bail!("cell {index}: level changes by {d} (the card must be validated)"),
        };
        let pp = vb.pp("pre_preprocess");
        let h0 = if inputs.dense_in {
            let each = inputs
                .prev_prev
                .iter()
                .enumerate()
                .map(|(j, &cj)| ReluConvBn::load(ConvSpec::pointwise(cj, c), &pp.pp(j), mode))
                .collect::<Result<Vec<_>>>()?;
            let fuse_in = c * each.len();
            H0::Dense {
                each,
                fuse: ReluConvBn::load(ConvSpec::pointwise(fuse_in, c), &vb.pp("pre_preprocess_1x1"), mode)?,
            }
        } else {
            H0::Plain(ReluConvBn::load(ConvSpec::pointwise(inputs.prev_prev[0], c), &pp, mode)?)
        };
        let body = CellOps::load(card, c, vb, mode)?;
        let dense_out = if inputs.dense_out {
            Some(ReluConvBn::load(ConvSpec::pointwise(c * card.b, c), &vb.pp("dense_process"), mode)?)
        } else {
            None
        };
        Ok(Cell { level, resample, h0, body, dense_out })
    }

    /// Runs the cell on h0's sources and h1's source (`prev`). Returns the concatenated block
    /// outputs and, when this cell feeds later dense cells, its compressed dense output.
    pub fn forward_t(&self, h0_in: H0Input, prev: &Tensor, train: bool) -> Result<(Tensor, Option<Tensor>)> {
        let s1 = match &self.resample {
            Resample::Down(fr) => fr.forward_t(prev, train)?,
            Resample::Same(p) => p.forward_t(prev, train)?,
            Resample::Up(p) => {
                let (_, _, h, w) = prev.dims4()?;
                p.forward_t(&resize(prev, scale_dim(h, 2.0), scale_dim(w, 2.0))?, train)?
            }
        };
        let (_, _, h, w) = s1.dims4()?;
        let s0 = match (&self.h0, h0_in) {
            (H0::Plain(p), H0Input::Plain(x)) => p.forward_t(&resize_rows_differ(x, h, w)?, train)?,
            (H0::Dense { each, fuse }, H0Input::Dense(xs)) => {
                if xs.len() != each.len() {
                    candle_core::bail!("dense cell expects {} earlier outputs, got {}", each.len(), xs.len());
                }
                let parts = each
                    .iter()
                    .zip(xs)
                    .map(|(p, x)| p.forward_t(&resize_rows_differ(x, h, w)?, train))
                    .collect::<Result<Vec<_>>>()?;
                fuse.forward_t(&Tensor::cat(&parts, 1)?, train)?
            }
            _ => candle_core::bail!("cell input kind does not match the cell (plain vs dense)"),
        };
        let out = self.body.forward_t(s0, s1, train)?;
        let dense = match &self.dense_out {
            Some(d) => Some(d.forward_t(&out, train)?),
            None => None,
        };
        Ok((out, dense))
    }

    /// Multi-Adds of this cell for an h1 source of `h x w`, with the output size (h0's
    /// sources are resized to that size first, which counts no Multi-Adds).
    pub fn madds(&self, prev_hw: (usize, usize)) -> (u64, usize, usize) {
        let (ph, pw) = prev_hw;
        let (mut total, h, w) = match &self.resample {
            Resample::Down(fr) => fr.madds(ph, pw),
            Resample::Same(p) => p.madds(ph, pw),
            Resample::Up(p) => p.madds(scale_dim(ph, 2.0), scale_dim(pw, 2.0)),
        };
        match &self.h0 {
            H0::Plain(p) => total += p.madds(h, w).0,
            H0::Dense { each, fuse } => {
                total += each.iter().map(|p| p.madds(h, w).0).sum::<u64>() + fuse.madds(h, w).0;
            }
        }
        total += self.body.madds(h, w);
        if let Some(d) = &self.dense_out {
            total += d.madds(h, w).0;
        }
        (total, h, w)
    }
}

/// The reference resizes h0 to h1's size only when the heights differ.
fn resize_rows_differ(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    if x.dim(2)? != h { resize(x, h, w) } else { Ok(x.clone()) }
}
