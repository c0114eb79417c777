//! Runs a labelled set through a model in analysis mode (every head computed) and keeps, per
//! image and exit, what any policy needs later: the confusion matrix against the label, the
//! decision scores, and the measured time of each piece (cells, decision makers, heads). A
//! policy sweep then re-decides offline without re-running the network.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::image_record::{ImageMeta, image_record};
use super::label::LabelMap;
use super::metrics::ConfusionMatrix;
use crate::data::datasets::Dataset;
use crate::engine::{Engine, ExitStats, Policy, RunEvent, RunOptions};

/// One exit of one image.
#[derive(Debug, Clone, Serialize)]
pub struct ExitRecord {
    pub stats: ExitStats,
    /// Time of the scalar EDM and of the EDM-map (each 0 when absent).
    pub edm_ms: f64,
    pub edm_map_ms: f64,
    pub head_ms: f64,
    /// Share of pixels where this exit and the baseline answer the same class (with a baseline).
    pub baseline_agreement: Option<f64>,
    #[serde(skip)]
    pub confusion: ConfusionMatrix,
}

/// One image of the set.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRecord {
    pub image: String,
    /// Milliseconds of each cell, in order (the stem is inside cell 0's time).
    pub cell_ms: Vec<f64>,
    pub exits: Vec<ExitRecord>,
    /// The baseline's time (cells and head, as the model's) and confusion, when a baseline
    /// was given.
    pub baseline_ms: Option<f64>,
    #[serde(skip)]
    pub baseline_confusion: Option<ConfusionMatrix>,
    /// The scene's difficulty (0 easy .. 1 hard) when the set's manifest records it.
    pub difficulty: Option<f32>,
}

fn run_events(engine: &Engine, image: &image::RgbImage, opts: &RunOptions) -> anyhow::Result<Vec<RunEvent>> {
    let mut ev = Vec::new();
    engine.run(image, opts, 0, &AtomicBool::new(false), &mut |e| ev.push(e))?;
    Ok(ev)
}

/// The time a finished run spent in the network: its cells, decision makers and heads, not the
/// image preparation. Policies are timed from these pieces, so the baseline is timed alike.
pub fn network_ms(events: &[RunEvent]) -> Option<f64> {
    let mut ms = 0.0;
    for ev in events {
        match ev {
            RunEvent::CellDone { cell_ms, .. } => ms += cell_ms,
            RunEvent::Exit(r) => ms += r.edm_ms + r.edm_map_ms + r.head_ms.unwrap_or(0.0),
            RunEvent::Finished { .. } => return Some(ms),
            _ => {}
        }
    }
    None
}

/// Runs every labelled image of `ds` (at most `limit`) through `model` and, interleaved on the
/// same image so both see the same machine state, through `baseline`.
pub fn collect(
    model: &Engine,
    baseline: Option<&Engine>,
    ds: &Dataset,
    limit: usize,
    max_side: u32,
) -> anyhow::Result<Vec<ImageRecord>> {
    let k = model.card().classes.len();
    let analysis = RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: true, max_side, edm_maps: false };
    let full = RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: false, max_side, edm_maps: false };
    let n = ds.len().min(limit);
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} images [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let d = ds.load(i)?;
        if i == 0 {
            // neither model's first, cold run is timed
            let (w, h) = crate::engine::prepare::scaled_dims(d.image.width(), d.image.height(), max_side);
            model.warm_up(w, h)?;
            if let Some(b) = baseline {
                b.warm_up(w, h)?;
            }
        }
        let name = ds.samples[i].image.display().to_string();
        let label = d.label.ok_or_else(|| anyhow::anyhow!("{name}: evaluation needs a label"))?;
        let events = run_events(model, &d.image, &analysis)?;
        let full_events = match baseline {
            Some(b) => run_events(b, &d.image, &full)?,
            None => Vec::new(),
        };
        let meta = ImageMeta { name: &name, classes: k, difficulty: None };
        out.push(image_record(meta, events, full_events, Some(&LabelMap::from_gray(label)))?.record);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}
