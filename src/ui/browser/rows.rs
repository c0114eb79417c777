//! One row of the dataset table: what running one image in analysis mode (every head computed)
//! tells, kept as the evaluation's own per-image record so that any policy can re-decide the exit
//! instantly, and so that the speed/mIoU sweep and the confusion matrices reuse
//! [`crate::eval`] instead of copying it. Computed on the worker thread; the UI never sees maps.

use crate::data::datasets::Dataset;
use crate::engine::{ExitStats, Policy, RunEvent};
use crate::eval::collect::{ExitRecord, ImageRecord};
use crate::eval::metrics::ConfusionMatrix;
use crate::eval::sweep;
use crate::network::CostTable;
use crate::ui::metrics::{agreement, resample};
use crate::ui::worker::{SegmentOptions, Segmenter};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Below this agreement with the full output, an early answer counts as wrong when the image
/// has no label.
pub const AGREE_OK: f32 = 0.9;

/// Per-image results of the dataset run.
#[derive(Debug, Clone)]
pub struct BrowserRow {
    /// Index of the sample in the dataset.
    pub index: usize,
    pub name: String,
    pub path: PathBuf,
    pub labelled: bool,
    /// Known difficulty of a generated scene, in [0, 1].
    pub difficulty: Option<f32>,
    /// Scores, times and confusion matrices per exit (what `add eval` keeps per image).
    pub record: ImageRecord,
    /// mIoU of each exit against the label (None without a label).
    pub iou: Vec<Option<f32>>,
    /// Fraction of pixels each exit shares with the full output.
    pub agree_full: Vec<f32>,
    /// Multi-Adds table at this image's input size.
    pub table: Arc<CostTable>,
}

impl BrowserRow {
    /// The exit `policy` takes on this image.
    pub fn exit_taken(&self, policy: &Policy) -> usize {
        sweep::chosen_exit(policy, &self.record)
    }

    /// Time (ms) and Multi-Adds of answering under `policy`.
    pub fn cost(&self, policy: &Policy, exit_cells: &[usize]) -> (f64, u64) {
        sweep::cost_of(policy, &self.record, &self.table, exit_cells, self.exit_taken(policy))
    }

    /// The decision maker's score at the first exit (EDM, else EDM-map mean).
    pub fn edm_score(&self) -> Option<f32> {
        self.record.exits.first().and_then(|e| e.stats.edm_score.or(e.stats.edm_map_score))
    }

    /// The class with the lowest IoU at `exit` (label needed), with that IoU.
    pub fn worst_class(&self, exit: usize) -> Option<(usize, f64)> {
        let iou = self.record.exits.get(exit)?.confusion.iou();
        iou.into_iter().enumerate().filter_map(|(c, v)| v.map(|v| (c, v))).min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Whether the answer at `exit` is worse than the full output: IoU more than `margin` below
    /// the last exit's against the label, or (no label) agreement with the full output below
    /// [`AGREE_OK`].
    pub fn wrong_at(&self, exit: usize, margin: f32) -> bool {
        let last = self.iou.len().saturating_sub(1);
        match (self.iou.get(exit).copied().flatten(), self.iou.get(last).copied().flatten()) {
            (Some(a), Some(b)) => a < b - margin,
            _ => self.agree_full.get(exit).is_some_and(|&a| a < AGREE_OK),
        }
    }
}

/// Label values at the prediction's size (nearest), for a confusion matrix.
fn label_at(label: &image::GrayImage, w: usize, h: usize) -> Vec<u8> {
    let (lw, lh) = (label.width() as usize, label.height() as usize);
    if (lw, lh) == (w, h) {
        return label.as_raw().clone();
    }
    let raw = label.as_raw();
    (0..h).flat_map(|y| (0..w).map(move |x| raw[resample(x, y, (w, h), (lw, lh))])).collect()
}

/// Runs sample `i` of `ds` through `add` (analysis mode) and, when given, `full`. Returns None
/// when cancelled. `tables` caches Multi-Add tables by input size.
pub fn run_sample(
    add: &dyn Segmenter,
    full: Option<&dyn Segmenter>,
    ds: &Dataset,
    i: usize,
    difficulty: Option<f32>,
    max_side: usize,
    cancel: &AtomicBool,
    tables: &mut HashMap<(usize, usize), Arc<CostTable>>,
) -> anyhow::Result<Option<BrowserRow>> {
    let d = ds.load(i)?;
    let path = ds.samples[i].image.clone();
    let name = path.strip_prefix(&ds.root).unwrap_or(&path).display().to_string();
    let k = add.card().classes.len();
    let run = |m: &dyn Segmenter, analysis: bool| -> anyhow::Result<Vec<RunEvent>> {
        let opts = SegmentOptions { policy: Policy::FixedExit(usize::MAX), analysis, max_side };
        let mut ev = Vec::new();
        m.run(&d.image, &opts, 0, cancel, &mut |e| ev.push(e))?;
        Ok(ev)
    };
    let events = run(add, true)?;
    if events.iter().any(|e| matches!(e, RunEvent::Cancelled { .. })) {
        return Ok(None);
    }
    let full_events = match full {
        Some(f) => run(f, false)?,
        None => Vec::new(),
    };
    let mut input = None;
    let mut cell_ms = Vec::new();
    let mut maps = Vec::new();
    let mut exits = Vec::new();
    for e in events {
        match e {
            RunEvent::Started { input_size, .. } => input = Some((input_size.1, input_size.0)),
            RunEvent::CellDone { cell_ms: ms, .. } => cell_ms.push(ms),
            RunEvent::Exit(r) => {
                let m =
                    r.maps.clone().ok_or_else(|| anyhow::anyhow!("analysis mode ran no head at exit {}", r.exit))?;
                let mut confusion = ConfusionMatrix::new(k);
                if let Some(l) = &d.label {
                    confusion
                        .add(&label_at(l, m.width, m.height), &m.classes)
                        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
                }
                let stats = ExitStats {
                    edm_score: r.edm_score,
                    edm_map_score: r.edm_map_score,
                    mean_entropy: r.mean_entropy,
                    confident_fraction: r.confident_fraction,
                };
                let (edm_ms, edm_map_ms, head_ms) = (r.edm_ms, r.edm_map_ms, r.head_ms.unwrap_or(0.0));
                exits.push(ExitRecord { stats, edm_ms, edm_map_ms, head_ms, baseline_agreement: None, confusion });
                maps.push(m);
            }
            RunEvent::Failed { message, .. } => anyhow::bail!("{name}: {message}"),
            _ => {}
        }
    }
    anyhow::ensure!(!maps.is_empty(), "{name}: the model reported no exit");
    let baseline_ms = crate::eval::collect::network_ms(&full_events);
    let mut full_maps = None;
    for e in full_events {
        if let RunEvent::Exit(r) = e
            && r.maps.is_some()
        {
            full_maps = r.maps;
        }
    }
    let baseline_confusion = match (&full_maps, &d.label) {
        (Some(m), Some(l)) => {
            let mut c = ConfusionMatrix::new(k);
            c.add(&label_at(l, m.width, m.height), &m.classes).map_err(|e| anyhow::anyhow!("{name}: baseline: {e}"))?;
            Some(c)
        }
        _ => None,
    };
    let reference = full_maps.unwrap_or_else(|| maps[maps.len() - 1].clone());
    let agree_full = maps.iter().map(|m| agreement(m, &reference)).collect();
    let labelled = d.label.is_some();
    let iou = exits.iter().map(|x| labelled.then(|| x.confusion.miou() as f32).filter(|v| v.is_finite())).collect();
    let input = input.unwrap_or((d.image.height() as usize, d.image.width() as usize));
    let table = match tables.get(&input) {
        Some(t) => t.clone(),
        None => {
            let t = Arc::new(crate::ui::net_summary::cost_table(add.card(), input.0, input.1)?);
            tables.insert(input, t.clone());
            t
        }
    };
    let record = ImageRecord { image: name.clone(), cell_ms, exits, baseline_ms, baseline_confusion, difficulty };
    Ok(Some(BrowserRow { index: i, name, path, labelled, difficulty, record, iou, agree_full, table }))
}
