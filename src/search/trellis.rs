//! The network-level search space: the 12-cell x 4-level trellis, its edge weights beta and
//! the Viterbi decoding of beta into a path.
//!
//! beta has shape (12, 4, 3): `beta[i][s][r]` is the edge from the node at level `s` feeding
//! cell `i` (cell i-1's node, or the stem at level 0 for cell 0) to level `s + r - 1` of cell
//! `i` (r = 0: one level finer, 1: same level, 2: one level coarser), as in the reference.
//! Each source node's OUTGOING edges are softmax-normalised (the reference's network-level
//! search). Level 0 and level 3 have only two outgoing edges; the reference scales their
//! softmax by 2/3 so that each of their edges weighs about 1/3 like an interior node's, which
//! keeps Viterbi from preferring the boundary levels just because they split less. We do the same.

use candle_core::{D, Device, Result, Tensor};

use crate::network::card::{NUM_CELLS, NUM_LEVELS};

/// Cells on the trellis.
pub const CELLS: usize = NUM_CELLS;
/// Levels on the trellis.
pub const LEVELS: usize = NUM_LEVELS as usize;
/// Outgoing edges per node (finer, same, coarser).
pub const RATES: usize = 3;

/// Raw or normalised edge weights as plain numbers, `[cell][source level][rate]`.
pub type Beta = [[[f32; RATES]; LEVELS]; CELLS];

/// Highest level reachable at cell `i` from the stem (level 0): one level deeper per cell.
pub fn top_level(i: usize) -> usize {
    (i + 1).min(LEVELS - 1)
}

/// Whether the node at level `level` exists at cell `i`.
pub fn node_exists(i: usize, level: usize) -> bool {
    level <= top_level(i)
}

/// Whether the source node `s` feeding cell `i` exists (the stem is the only source of cell 0).
pub fn source_exists(i: usize, s: usize) -> bool {
    if i == 0 { s == 0 } else { node_exists(i - 1, s) }
}

/// Target level of edge `r` from level `s`, if it stays on the trellis.
pub fn target(s: usize, r: usize) -> Option<usize> {
    let t = s as i64 + r as i64 - 1;
    (0..LEVELS as i64).contains(&t).then_some(t as usize)
}

/// Whether `beta[i][s][r]` is a real edge of the trellis.
pub fn edge_exists(i: usize, s: usize, r: usize) -> bool {
    source_exists(i, s) && target(s, r).is_some()
}

/// Scale applied to a real edge's softmax: 2/3 on the two-edge boundary levels.
fn edge_scale(s: usize) -> f32 {
    if s == 0 || s == LEVELS - 1 { 2.0 / 3.0 } else { 1.0 }
}

/// Normalised weights: softmax over each source node's outgoing edges (2/3-scaled at the
/// boundary levels), zero on edges that do not exist. Plain numbers, for decoding and reports.
pub fn normalise(beta: &Beta) -> Beta {
    let mut out = [[[0f32; RATES]; LEVELS]; CELLS];
    for i in 0..CELLS {
        for s in 0..LEVELS {
            let rates: Vec<usize> = (0..RATES).filter(|&r| edge_exists(i, s, r)).collect();
            if rates.is_empty() {
                continue;
            }
            let max = rates.iter().map(|&r| beta[i][s][r]).fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = rates.iter().map(|&r| (beta[i][s][r] - max).exp()).sum();
            for &r in &rates {
                out[i][s][r] = (beta[i][s][r] - max).exp() / sum * edge_scale(s);
            }
        }
    }
    out
}

/// How far beta has moved from uniform towards one edge per node, 0 (uniform: the decoded
/// path is noise) to 1 (one-hot): over every node with two or more outgoing edges, the mean of
/// (max p - 1/k) / (1 - 1/k) for the softmax p over its k edges. A short search barely moves
/// beta from its near-uniform start, and its path then changes from epoch to epoch and seed to
/// seed; this number says so.
pub fn decisiveness(beta: &Beta) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, cell) in beta.iter().enumerate() {
        for (s, node) in cell.iter().enumerate() {
            let rates: Vec<usize> = (0..RATES).filter(|&r| edge_exists(i, s, r)).collect();
            let k = rates.len();
            if k < 2 {
                continue;
            }
            let max = rates.iter().map(|&r| node[r] as f64).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = rates.iter().map(|&r| (node[r] as f64 - max).exp()).sum();
            let inv_k = 1.0 / k as f64;
            sum += (1.0 / z - inv_k) / (1.0 - inv_k);
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The same normalisation on a (12, 4, 3) tensor, differentiable (the supernet's forward).
pub fn normalise_tensor(beta: &Tensor) -> Result<Tensor> {
    let dev = beta.device();
    let (mask, scale) = masks(dev)?;
    let soft = candle_nn::ops::softmax(&beta.broadcast_add(&mask)?, D::Minus1)?;
    soft.broadcast_mul(&scale)
}

/// An additive mask (0 on real edges, a large negative number elsewhere) and the per-edge
/// scale (2/3 at the boundary levels, 0 on missing edges).
fn masks(dev: &Device) -> Result<(Tensor, Tensor)> {
    let mut mask = Vec::with_capacity(CELLS * LEVELS * RATES);
    let mut scale = Vec::with_capacity(CELLS * LEVELS * RATES);
    for i in 0..CELLS {
        for s in 0..LEVELS {
            for r in 0..RATES {
                let real = edge_exists(i, s, r);
                mask.push(if real { 0f32 } else { -1e9 });
                scale.push(if real { edge_scale(s) } else { 0.0 });
            }
        }
    }
    let shape = (CELLS, LEVELS, RATES);
    Ok((Tensor::from_vec(mask, shape, dev)?, Tensor::from_vec(scale, shape, dev)?))
}

/// A (12, 4, 3) tensor as plain numbers.
pub fn beta_from_tensor(t: &Tensor) -> Result<Beta> {
    let v = t.flatten_all()?.to_vec1::<f32>()?;
    let mut b = [[[0f32; RATES]; LEVELS]; CELLS];
    for i in 0..CELLS {
        for s in 0..LEVELS {
            for r in 0..RATES {
                b[i][s][r] = v[(i * LEVELS + s) * RATES + r];
            }
        }
    }
    Ok(b)
}

/// Viterbi decoding of normalised weights `w` into the path with the largest product of edge
/// weights, starting from the stem at level 0 (so cell 0 is at level 0 or 1, as the reference's
/// `viterbi_decode` starts from `network_space[0][0][1:]`), moving at most one level per cell.
///
/// Unlike the reference (which takes the argmax over all last levels), the result must make a
/// valid card: the last cell (where the ASPP runs) is at level 1..=3, and every early exit in
/// `exits` is at most two levels finer than the last cell (an adapter bridges two levels at
/// most). The best path is taken over each allowed last level with those constraints; when
/// they do not bind, this is the reference's decoding.
pub fn viterbi(w: &Beta, exits: &[usize]) -> Vec<u8> {
    let mut best: Option<(f64, Vec<u8>)> = None;
    for last in 1..LEVELS {
        let floor = |i: usize| if exits.contains(&i) { last.saturating_sub(2) } else { 0 };
        if let Some((score, path)) = viterbi_to(w, last, floor)
            && best.as_ref().is_none_or(|(b, _)| score > *b)
        {
            best = Some((score, path));
        }
    }
    best.map(|(_, p)| p).expect("level 1 is always reachable at the last cell")
}

/// Best path ending at level `last`, with cell `i` at level `floor(i)` or above; log-space.
fn viterbi_to(w: &Beta, last: usize, floor: impl Fn(usize) -> usize) -> Option<(f64, Vec<u8>)> {
    let ln = |x: f32| if x > 0.0 { (x as f64).ln() } else { f64::NEG_INFINITY };
    let mut score = [[f64::NEG_INFINITY; LEVELS]; CELLS];
    let mut back = [[0usize; LEVELS]; CELLS];
    for i in 0..CELLS {
        for t in floor(i)..=top_level(i) {
            if i == 0 {
                score[0][t] = ln(w[0][0][t + 1]);
                continue;
            }
            for s in t.saturating_sub(1)..=(t + 1).min(LEVELS - 1) {
                if !source_exists(i, s) {
                    continue;
                }
                let cand = score[i - 1][s] + ln(w[i][s][t + 1 - s]);
                if cand > score[i][t] {
                    score[i][t] = cand;
                    back[i][t] = s;
                }
            }
        }
    }
    let end = score[CELLS - 1][last];
    if end == f64::NEG_INFINITY {
        return None;
    }
    let mut path = vec![0u8; CELLS];
    path[CELLS - 1] = last as u8;
    for i in (1..CELLS).rev() {
        path[i - 1] = back[i][path[i] as usize] as u8;
    }
    Some((end, path))
}

/// Product of the normalised weights along `path` (from the stem), for reports.
pub fn path_weight(w: &Beta, path: &[u8]) -> f64 {
    let mut prev = 0usize;
    let mut p = 1f64;
    for (i, &l) in path.iter().enumerate() {
        let l = l as usize;
        p *= w[i][prev][l + 1 - prev] as f64;
        prev = l;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ArchCard;
    use rand::{Rng, SeedableRng};

    /// Raw beta that strongly favours `path` (each of its edges gets `strength`).
    fn favouring(path: &[u8], strength: f32) -> Beta {
        let mut b = [[[0f32; RATES]; LEVELS]; CELLS];
        let mut prev = 0usize;
        for (i, &l) in path.iter().enumerate() {
            b[i][prev][l as usize + 1 - prev] = strength;
            prev = l as usize;
        }
        b
    }

    #[test]
    fn decisiveness_runs_from_uniform_to_one_hot() {
        let zero = [[[0f32; RATES]; LEVELS]; CELLS];
        assert!(decisiveness(&zero).abs() < 1e-12);
        let mut hot = zero;
        for cell in hot.iter_mut() {
            for node in cell.iter_mut() {
                node[1] = 30.0;
                node[0] = 15.0; // the boundary levels' two edges: still one clear winner
            }
        }
        assert!(decisiveness(&hot) > 0.999, "{}", decisiveness(&hot));
        let mut half = zero;
        for cell in half.iter_mut() {
            for node in cell.iter_mut() {
                node[1] = 0.5;
            }
        }
        let d = decisiveness(&half);
        assert!(d > 0.05 && d < 0.4, "{d}");
    }

    #[test]
    fn softmax_is_over_outgoing_edges() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut beta = [[[0f32; RATES]; LEVELS]; CELLS];
        for v in beta.iter_mut().flatten().flatten() {
            *v = rng.random_range(-2.0..2.0);
        }
        let w = normalise(&beta);
        for i in 0..CELLS {
            for s in 0..LEVELS {
                let sum: f32 = w[i][s].iter().sum();
                let expected = if !source_exists(i, s) {
                    0.0
                } else if s == 0 || s == 3 {
                    2.0 / 3.0
                } else {
                    1.0
                };
                assert!((sum - expected).abs() < 1e-5, "cell {i} level {s}: outgoing sum {sum}, expected {expected}");
                // missing edges carry nothing
                for r in 0..RATES {
                    if !edge_exists(i, s, r) {
                        assert_eq!(w[i][s][r], 0.0, "cell {i} level {s} rate {r}");
                    }
                }
            }
        }
        // the stem feeds only levels 0 and 1 of cell 0; the finer edge of level 0 never exists
        assert!(w[0][0][1] > 0.0 && w[0][0][2] > 0.0 && w[0][0][0] == 0.0 && w[0][1] == [0.0; 3]);
        // normalising over INCOMING edges instead would make cell 5's level-2 inputs sum to 1
        let incoming: f32 = (1..4).map(|s| w[5][s][2 + 1 - s]).sum();
        assert!((incoming - 1.0).abs() > 1e-3, "incoming edges happen to sum to one: {incoming}");
        // the tensor version is the same function
        let t = Tensor::from_vec(
            beta.iter().flatten().flatten().copied().collect::<Vec<_>>(),
            (CELLS, LEVELS, RATES),
            &Device::Cpu,
        )
        .unwrap();
        let wt = beta_from_tensor(&normalise_tensor(&t).unwrap()).unwrap();
        for (a, b) in wt.iter().flatten().flatten().zip(w.iter().flatten().flatten()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn viterbi_recovers_a_favoured_path() {
        let adl = [0u8, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1];
        assert_eq!(viterbi(&normalise(&favouring(&adl, 4.0)), &[5]), adl);
        let add2 = [1u8, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2];
        assert_eq!(viterbi(&normalise(&favouring(&add2, 4.0)), &[5]), add2);
    }

    #[test]
    fn viterbi_is_global_not_greedy() {
        // greedy takes the stem's (slightly) stronger edge to level 1, but level 1's edges into
        // cell 1 are uniform (1/3 each) while level 0's are peaked: the level-0 route wins
        let mut b = favouring(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 5.0);
        b[0][0] = [0.0, 0.0, 0.5];
        let w = normalise(&b);
        assert!(w[0][0][2] > w[0][0][1], "the stem's edge to level 1 is the locally best");
        let path = viterbi(&normalise(&b), &[]);
        assert_eq!(path, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn decoded_paths_never_jump_and_make_valid_cards() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut card = ArchCard::preset("add-3", 4).unwrap();
        card.edm.kind = crate::network::EdmKind::None;
        for trial in 0..300 {
            let mut beta = [[[0f32; RATES]; LEVELS]; CELLS];
            for v in beta.iter_mut().flatten().flatten() {
                *v = rng.random_range(-4.0..4.0);
            }
            let path = viterbi(&normalise(&beta), &card.exits);
            let mut prev = 0u8;
            for &l in &path {
                assert!(l.abs_diff(prev) <= 1, "trial {trial}: {path:?} jumps");
                prev = l;
            }
            card.path = path.clone();
            card.validate().unwrap_or_else(|e| panic!("trial {trial}: {path:?}: {e}"));
        }
    }

    #[test]
    fn constraints_keep_the_head_off_level_zero_and_exits_bridgeable() {
        // every edge favours staying at level 0: the unconstrained best ends at level 0
        let flat = favouring(&[0; 12], 5.0);
        let path = viterbi(&normalise(&flat), &[5]);
        assert_eq!(path[11], 1, "{path:?}");
        assert_eq!(&path[..11], &[0; 11]);
        // a path that would reach level 3 at the end with an early exit at level 0 is refused
        let deep = favouring(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3], 5.0);
        let path = viterbi(&normalise(&deep), &[5]);
        assert!(path[5] + 2 >= path[11], "{path:?}");
        let w = normalise(&deep);
        assert!(path_weight(&w, &path) > 0.0);
    }
}
