//! Policy sweeps: for each policy and threshold, which exit every image takes, and what that
//! costs and yields: exit rates, mIoU from the chosen exits' confusion matrices, mean and p95
//! time per image composed from the measured pieces the policy would really run, Multi-Adds,
//! and the speed-up against the baseline measured in the same run.

use serde::Serialize;

use super::collect::ImageRecord;
use super::metrics::ConfusionMatrix;
use crate::engine::Policy;
use crate::network::CostTable;

/// One (policy, threshold) setting.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SweepRow {
    pub policy: String,
    #[serde(default)]
    pub threshold: Option<f32>,
    /// Share of images answered at each exit.
    #[serde(default)]
    pub exit_rate: Vec<f64>,
    /// mIoU in points (0-100).
    pub miou: f64,
    pub mean_ms: f64,
    #[serde(default)]
    pub p95_ms: f64,
    #[serde(default)]
    pub mean_madds: f64,
    /// Baseline mean time / this setting's mean time, when a baseline was measured.
    pub speedup: Option<f64>,
}

/// The exit `policy` picks for one image (the last exit when no early exit stops).
pub fn chosen_exit(policy: &Policy, rec: &ImageRecord) -> usize {
    let last = rec.exits.len() - 1;
    (0..last).find(|&e| policy.stop_at(e, &rec.exits[e].stats).unwrap_or(false)).unwrap_or(last)
}

/// Time and Multi-Adds of answering at `exit` under `policy`: the cells up to that exit, the
/// decision makers (EDM policies) or heads (output policies) of the exits passed, and the
/// answering head.
pub fn cost_of(policy: &Policy, rec: &ImageRecord, table: &CostTable, exit_cells: &[usize], exit: usize) -> (f64, u64) {
    let cell = exit_cells[exit];
    let mut ms: f64 = rec.cell_ms[..=cell].iter().sum();
    let mut madds = table.stem_madds + table.cells[..=cell].iter().map(|c| c.madds + c.low_level_madds).sum::<u64>();
    // the decision maker the policy reads: the map for `edm-map`, and for `edm` the scalar
    // EDM, or the map on a model without one (as the engine decides)
    let edm = |e: usize| -> Option<(f64, u64)> {
        let (r, t) = (&rec.exits[e], &table.exits[e]);
        match policy {
            Policy::Edm { .. } if r.stats.edm_score.is_some() => Some((r.edm_ms, t.edm_madds)),
            Policy::Edm { .. } | Policy::EdmMap { .. } => Some((r.edm_map_ms, t.edm_map_madds)),
            _ => None,
        }
    };
    for e in 0..exit {
        if let Some((m, a)) = edm(e) {
            ms += m;
            madds += a;
        } else if policy.needs_head() {
            ms += rec.exits[e].head_ms;
            madds += table.exits[e].head_madds;
        }
    }
    if exit + 1 < exit_cells.len()
        && let Some((m, a)) = edm(exit)
    {
        ms += m;
        madds += a;
    }
    ms += rec.exits[exit].head_ms;
    madds += table.exits[exit].head_madds;
    (ms, madds)
}

fn percentile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[((xs.len() - 1) as f64 * q).round() as usize]
}

/// One setting's numbers, added up image by image, so a pass needs not keep every record.
pub struct Tally {
    policy: Policy,
    confusion: ConfusionMatrix,
    counts: Vec<usize>,
    times: Vec<f64>,
    madds: u64,
}

impl Tally {
    pub fn new(policy: Policy, classes: usize, exits: usize) -> Tally {
        Tally { policy, confusion: ConfusionMatrix::new(classes), counts: vec![0; exits], times: Vec::new(), madds: 0 }
    }

    /// Adds one image: the exit the policy takes, its confusion, time and Multi-Adds.
    pub fn add(&mut self, r: &ImageRecord, table: &CostTable, exit_cells: &[usize]) {
        let e = chosen_exit(&self.policy, r);
        self.counts[e] += 1;
        self.confusion.merge(&r.exits[e].confusion);
        let (ms, m) = cost_of(&self.policy, r, table, exit_cells, e);
        self.times.push(ms);
        self.madds += m;
    }

    /// The confusion of the policy's answers so far.
    pub fn confusion(&self) -> &ConfusionMatrix {
        &self.confusion
    }

    /// The row over the images added (at least one).
    pub fn row(mut self, baseline_mean_ms: Option<f64>) -> SweepRow {
        let n = self.times.len() as f64;
        let mean_ms = self.times.iter().sum::<f64>() / n;
        SweepRow {
            policy: self.policy.to_string(),
            threshold: self.policy.threshold(),
            exit_rate: self.counts.iter().map(|&c| c as f64 / n).collect(),
            miou: 100.0 * self.confusion.miou(),
            mean_ms,
            p95_ms: percentile(&mut self.times, 0.95),
            mean_madds: self.madds as f64 / n,
            speedup: baseline_mean_ms.map(|b| b / mean_ms),
        }
    }
}

/// Evaluates one setting over every image.
pub fn evaluate(
    policy: Policy,
    recs: &[ImageRecord],
    table: &CostTable,
    exit_cells: &[usize],
    baseline_mean_ms: Option<f64>,
) -> SweepRow {
    let mut t = Tally::new(policy, recs[0].exits[0].confusion.classes, exit_cells.len());
    recs.iter().for_each(|r| t.add(r, table, exit_cells));
    t.row(baseline_mean_ms)
}

/// Thresholds worth trying for a score: its quantiles over the early exits, so each step moves
/// some images between exits.
pub fn candidate_thresholds(scores: &mut Vec<f32>, steps: usize) -> Vec<f32> {
    scores.retain(|s| s.is_finite());
    if scores.is_empty() {
        return Vec::new();
    }
    scores.sort_by(f32::total_cmp);
    let mut t: Vec<f32> = (0..=steps).map(|i| scores[((scores.len() - 1) * i) / steps]).collect();
    // just below the smallest (nobody stops on "< t" policies) and above the largest
    t.push(scores[0] - 1e-3);
    t.push(scores[scores.len() - 1] + 1e-3);
    t.sort_by(f32::total_cmp);
    t.dedup();
    t
}

/// Picks the fastest row whose mIoU is within `points` of `reference`.
pub fn fastest_within<'a>(rows: &'a [SweepRow], reference: f64, points: f64) -> Option<&'a SweepRow> {
    rows.iter().filter(|r| r.miou >= reference - points).min_by(|a, b| a.mean_ms.total_cmp(&b.mean_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_span_the_scores() {
        let mut s = vec![0.5, 0.1, 0.3, f32::NAN, 0.9];
        let t = candidate_thresholds(&mut s, 4);
        assert!(t[0] < 0.1 && *t.last().unwrap() > 0.9);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn fastest_within_respects_the_bound() {
        let row = |miou: f64, ms: f64| SweepRow {
            policy: String::new(),
            threshold: None,
            exit_rate: vec![],
            miou,
            mean_ms: ms,
            p95_ms: ms,
            mean_madds: 0.0,
            speedup: None,
        };
        let rows = vec![row(70.0, 10.0), row(69.8, 8.0), row(68.0, 5.0)];
        assert_eq!(fastest_within(&rows, 70.0, 0.3).unwrap().mean_ms, 8.0);
        assert_eq!(fastest_within(&rows, 70.0, 2.0).unwrap().mean_ms, 5.0);
        assert!(fastest_within(&rows, 80.0, 0.3).is_none());
    }
}
