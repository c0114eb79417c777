//! A dataset run, image by image on the worker: each image is run in analysis mode (every head
//! computed) and becomes a [`DatasetRow`], the evaluation's own per-image record
//! ([`crate::eval::image_record`]) so that any policy can re-decide the exit instantly and the
//! speed/mIoU sweep and the confusion matrices reuse [`crate::eval`]. The UI never sees maps.

use super::segmenter::{SegmentOptions, Segmenter};
use crate::data::datasets::Dataset;
use crate::engine::{Policy, RunEvent};
use crate::eval::collect::ImageRecord;
use crate::eval::image_record::{ImageMeta, ImageOutcome, image_record};
use crate::eval::label::LabelMap;
use crate::eval::sweep;
use crate::network::CostTable;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Below this agreement with the full output, an early answer counts as wrong when the image
/// has no label.
pub const AGREE_OK: f32 = 0.9;

/// A dataset to run image by image, between the inspector's requests (which go first, so
/// clicking a row while a folder runs still answers at once).
#[derive(Debug, Clone)]
pub struct DatasetJob {
    pub job_id: u64,
    pub dataset: Arc<Dataset>,
    /// Known difficulty of each sample (generated sets), by index.
    pub difficulty: Arc<Vec<Option<f32>>>,
    pub max_side: usize,
    /// Also run the full baseline, for agreement and the speed-up.
    pub with_full: bool,
    /// Set to stop the run (checked between cells and between images).
    pub cancel: Arc<AtomicBool>,
}

/// Per-image results of the dataset run (one row of the app's dataset table).
#[derive(Debug, Clone)]
pub struct DatasetRow {
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

impl DatasetRow {
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
) -> anyhow::Result<Option<DatasetRow>> {
    let d = ds.load(i)?;
    let path = ds.samples[i].image.clone();
    let name = path.strip_prefix(&ds.root).unwrap_or(&path).display().to_string();
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
    let label = d.label.map(LabelMap::from_gray);
    let labelled = label.is_some();
    let meta = ImageMeta { name: &name, classes: add.card().classes.len(), difficulty };
    let ImageOutcome { record, derived, input_size } = image_record(meta, &events, &full_events, label.as_ref())?;
    let iou = derived.iter().map(|x| x.iou_label).collect();
    let agree_full = derived.iter().map(|x| x.agree_full.unwrap_or(0.0)).collect();
    let input = input_size.unwrap_or((d.image.height() as usize, d.image.width() as usize));
    let table = match tables.get(&input) {
        Some(t) => t.clone(),
        None => {
            let t = Arc::new(CostTable::for_card(add.card(), input.0, input.1)?);
            tables.insert(input, t.clone());
            t
        }
    };
    Ok(Some(DatasetRow { index: i, name, path, labelled, difficulty, record, iou, agree_full, table }))
}
