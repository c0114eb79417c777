//! Cell-level search (optional, `add search --cell-search`): Auto-DeepLab's continuous
//! relaxation of the cell. Every edge of a cell (block b reads each of the 2 + b states before
//! it: 20 edges for B = 5) becomes a mixed op, the softmax(alpha[edge])-weighted sum of the
//! seven candidate ops (`none` takes part in the softmax and adds zeros). One alpha is shared
//! by every cell, as in Auto-DeepLab, and is learned with beta on half B. Decoding keeps, for
//! each block, the two edges whose best non-`none` op weighs most, each with that op.
//!
//! Simplification against the reference: its pooling candidates are followed by a BatchNorm
//! without affine parameters; here they are not (our fixed-network ops are used as they are).

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use crate::network::card::{OP_NAMES, branch_offset};
use crate::network::layers::BuildMode;
use crate::network::ops::Op;

/// Candidate ops per edge (`none` included).
pub const OPS: usize = OP_NAMES.len();

/// Edges of a cell of `b` blocks: block j reads the 2 + j states before it.
pub fn edges(b: usize) -> usize {
    branch_offset(b)
}

/// The B blocks of a supernet cell with every candidate op on every edge.
#[derive(Debug, Clone)]
pub struct MixedCellOps {
    /// `ops[edge]`: ops 1..OPS (every candidate but `none`), in [`OP_NAMES`] order.
    ops: Vec<Vec<Op>>,
    blocks: usize,
}

impl MixedCellOps {
    /// Builds every candidate op of every edge on `c` channels (`mixed.{edge}.{op}`).
    pub fn load(b: usize, c: usize, vb: &VarBuilder, mode: BuildMode) -> Result<MixedCellOps> {
        let ops = (0..edges(b))
            .map(|e| (1..OPS).map(|o| Op::load(o, c, &vb.pp("mixed").pp(e).pp(o), mode)).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        Ok(MixedCellOps { ops, blocks: b })
    }

    /// Runs the blocks on (h0, h1) with op weights `w` (edges x OPS, each row summing to 1:
    /// softmax of alpha) and concatenates the block outputs.
    pub fn forward_t(&self, s0: Tensor, s1: Tensor, w: &Tensor, train: bool) -> Result<Tensor> {
        if w.dims() != [self.ops.len(), OPS] {
            candle_core::bail!("op weights must be ({}, {OPS}), got {:?}", self.ops.len(), w.dims());
        }
        let mut states = vec![s0, s1];
        for block in 0..self.blocks {
            let lo = branch_offset(block);
            let mut sum: Option<Tensor> = None;
            for (j, state) in states.iter().enumerate() {
                let w_e = w.get(lo + j)?;
                for (o, op) in self.ops[lo + j].iter().enumerate() {
                    let y = op.forward_t(state, train)?.broadcast_mul(&w_e.get(o + 1)?)?;
                    sum = Some(match sum {
                        Some(s) => (s + y)?,
                        None => y,
                    });
                }
            }
            states.push(sum.expect("every block reads at least two states"));
        }
        Tensor::cat(&states[states.len() - self.blocks..], 1)
    }
}

/// Initial alpha, as the reference initialises it (see
/// [`super::checkpoint::initial_arch_weights`]), from a stream of its own.
pub fn initial_alpha(b: usize, seed: u64) -> Vec<f32> {
    super::checkpoint::initial_arch_weights(edges(b) * OPS, seed ^ 0xA1FA_0000_0000_0003)
}

/// Softmax of each row of raw alpha (what the forward pass and decoding use).
pub fn normalise(alpha: &[Vec<f32>]) -> Vec<Vec<f32>> {
    alpha
        .iter()
        .map(|row| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = row.iter().map(|a| (a - m).exp()).collect();
            let s: f32 = e.iter().sum();
            e.iter().map(|v| v / s).collect()
        })
        .collect()
}

/// The genotype of normalised op weights `w` (edges x OPS) for `b` blocks: per block the two
/// edges whose strongest non-`none` op weighs most (ties: the earlier edge), each with that op
/// (ties: the earlier op), as rows `[branch, op]` in ascending branch order (the order in which
/// the network applies a block's rows, see `ArchCard::ops_as_run`).
pub fn decode(w: &[Vec<f32>], b: usize) -> Vec<[usize; 2]> {
    let mut rows = Vec::with_capacity(2 * b);
    for block in 0..b {
        let lo = branch_offset(block);
        let mut best: Vec<(f32, usize, usize)> = (0..block + 2)
            .map(|j| {
                let row = &w[lo + j];
                let op = (1..OPS).fold(1, |a, o| if row[o] > row[a] { o } else { a });
                (row[op], lo + j, op)
            })
            .collect();
        // strongest first; among equals the earlier edge (stable sort)
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut two = [best[0], best[1]];
        two.sort_by_key(|e| e.1);
        rows.extend(two.iter().map(|&(_, branch, op)| [branch, op]));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::card::ArchCard;
    use candle_core::{DType, Device, Var};

    #[test]
    fn decoding_keeps_two_strongest_edges_per_block_with_their_best_op() {
        let b = 5;
        let mut w = vec![vec![0.1f32; OPS]; edges(b)];
        // block 0 (edges 0, 1): both kept; edge 1's best is sep_conv_5x5 (5), edge 0's skip (3)
        w[1][5] = 0.4;
        w[0][3] = 0.3;
        // block 2 (edges 5..9): `none` is strongest on edge 5 but does not count
        w[5][0] = 0.9;
        w[6][6] = 0.5;
        w[8][2] = 0.45;
        let g = decode(&w, b);
        assert_eq!(g.len(), 2 * b);
        assert_eq!(&g[0..2], &[[0, 3], [1, 5]]);
        assert_eq!(&g[4..6], &[[6, 6], [8, 2]]);
        // a card with the decoded genotype is valid, and its blocks run the decoded ops
        let mut card = ArchCard::preset("add-2", 2).unwrap();
        card.genotype = g.clone();
        card.validate().unwrap();
        assert_eq!(card.ops_as_run()[4..6], [(6, 6), (8, 2)]);
        // uniform weights decode deterministically to the first two edges and max_pool
        let u = decode(&vec![vec![1.0 / OPS as f32; OPS]; edges(b)], b);
        assert_eq!(&u[8..10], &[[14, 1], [15, 1]]);
    }

    #[test]
    fn normalised_rows_sum_to_one() {
        let a = initial_alpha(5, 3);
        assert_eq!(a.len(), 20 * OPS);
        assert!(a.iter().all(|v| v.abs() < 1e-2) && a.iter().any(|v| *v != 0.0));
        let rows: Vec<Vec<f32>> = a.chunks(OPS).map(|c| c.to_vec()).collect();
        for r in normalise(&rows) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn the_mixed_cell_runs_and_alpha_gets_a_gradient() {
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let cell = MixedCellOps::load(3, 4, &vb, BuildMode::Unfolded).unwrap();
        let alpha = Var::zeros((edges(3), OPS), DType::F32, &Device::Cpu).unwrap();
        let w = candle_nn::ops::softmax(alpha.as_tensor(), candle_core::D::Minus1).unwrap();
        let x = |s| Tensor::randn(0f32, 1.0, (2, 4, 9, 11), &Device::Cpu).unwrap().affine(1.0, s).unwrap();
        let y = cell.forward_t(x(0.0), x(0.5), &w, true).unwrap();
        assert_eq!(y.dims(), &[2, 12, 9, 11]);
        let g = y.sqr().unwrap().mean_all().unwrap().backward().unwrap();
        let ga = g.get(alpha.as_tensor()).expect("alpha has a gradient");
        let ga: Vec<Vec<f32>> = ga.to_vec2().unwrap();
        assert!(ga.iter().all(|row| row.iter().any(|v| *v != 0.0)), "every edge's alpha moves: {ga:?}");
        let bad = Tensor::zeros((4, OPS), DType::F32, &Device::Cpu).unwrap();
        assert!(cell.forward_t(x(0.0), x(0.0), &bad, true).is_err());
    }
}
