//! The numbers of one exit: mean confidence, class shares, the confident fraction at any level,
//! agreement with the full output, IoU against the label. Computed once per exit (O(pixels)):
//! by [`super::image_record`] for `add eval` and dataset runs, and by the inspector as each exit
//! streams in.

use super::label::{LabelMap, resample};
use super::metrics::{ConfusionMatrix, IGNORE};
use crate::engine::ExitMaps;

/// Bins of the max-prob histogram (confident fraction at any level to 1%).
const PROB_BINS: usize = 100;

/// What the UI derives from one exit's maps.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitDerived {
    /// Mean max-prob.
    pub mean_conf: f32,
    pub mean_entropy: f32,
    /// Pixels per class id (256 entries).
    pub class_px: Vec<u64>,
    /// Pixels with max-prob in each of the 100 bins of [0, 1].
    prob_hist: Vec<u64>,
    /// Fraction of pixels equal to the full output (set when that output exists).
    pub agree_full: Option<f32>,
    /// Mean IoU against the label (set when a label exists).
    pub iou_label: Option<f32>,
}

impl ExitDerived {
    /// Fraction of pixels whose max-prob exceeds `prob` (to the histogram's 1%).
    pub fn confident_fraction(&self, prob: f32) -> f32 {
        let total: u64 = self.prob_hist.iter().sum();
        let from = ((prob * PROB_BINS as f32).floor() as usize + 1).min(PROB_BINS);
        let above: u64 = self.prob_hist[from..].iter().sum();
        above as f32 / total.max(1) as f32
    }

    /// Share of the pixels of class `c`, in [0, 1].
    pub fn share(&self, c: usize) -> f32 {
        let total: u64 = self.class_px.iter().sum();
        self.class_px.get(c).copied().unwrap_or(0) as f32 / total.max(1) as f32
    }
}

/// Computes the derived numbers of one exit.
pub fn derive(m: &ExitMaps) -> ExitDerived {
    let n = m.classes.len().max(1) as f64;
    let mut class_px = vec![0u64; 256];
    for &c in &m.classes {
        class_px[c as usize] += 1;
    }
    let mut prob_hist = vec![0u64; PROB_BINS + 1];
    for &p in &m.max_prob {
        prob_hist[((p.clamp(0.0, 1.0) * PROB_BINS as f32) as usize).min(PROB_BINS)] += 1;
    }
    ExitDerived {
        mean_conf: (m.max_prob.iter().map(|&p| p as f64).sum::<f64>() / n) as f32,
        mean_entropy: (m.entropy.iter().map(|&p| p as f64).sum::<f64>() / n) as f32,
        class_px,
        prob_hist,
        agree_full: None,
        iou_label: None,
    }
}

/// Fraction of `a`'s pixels with the same class in `b` (maps may differ in size).
pub fn agreement(a: &ExitMaps, b: &ExitMaps) -> f64 {
    let (sa, sb) = ((a.width, a.height), (b.width, b.height));
    let mut same = 0usize;
    for y in 0..a.height {
        for x in 0..a.width {
            same += (a.classes[y * a.width + x] == b.classes[resample(x, y, sa, sb)]) as usize;
        }
    }
    same as f64 / (a.width * a.height).max(1) as f64
}

/// Mean IoU of `pred` against `label` over the classes present in either (255 ignored), from
/// the evaluation's own confusion matrix so the inspector and `add eval` count alike.
pub fn miou(pred: &ExitMaps, label: &LabelMap) -> f32 {
    let labels = label.at(pred.width, pred.height);
    let top = labels.iter().filter(|&&l| l != IGNORE).chain(&pred.classes).copied().max().unwrap_or(0);
    let mut c = ConfusionMatrix::new(top as usize + 1);
    c.add(&labels, &pred.classes).expect("sizes match and every value is below the class count");
    let m = c.miou();
    if m.is_finite() { m as f32 } else { 0.0 }
}
