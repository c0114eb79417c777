//! Runs a labelled set through a model in analysis mode (every head computed) and keeps, per
//! image and exit, what any policy needs later: the confusion matrix against the label, the
//! decision scores, and the measured time of each piece (cells, decision makers, heads). A
//! policy sweep then re-decides offline without re-running the network. [`for_each_image`]
//! hands each image out as the pass goes, for callers that keep less than every record (`add
//! report`); [`collect`] keeps them all (`add eval`).

use std::sync::atomic::{AtomicBool, Ordering};

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

/// The pass was cancelled (the flag given to it was set); nothing it produced is complete.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// How a pass over a labelled set runs.
pub struct Pass<'a> {
    /// At most this many images (the set's first).
    pub limit: usize,
    /// Longer image side the network sees (larger images are scaled down).
    pub max_side: u32,
    /// Also hand out each early exit's EDM-map at image size, for pictures of the images.
    pub edm_maps: bool,
    /// Stops the pass between images and, within an image, between cells.
    pub cancel: &'a AtomicBool,
    /// Told (images done, images in the pass) after each image.
    pub progress: &'a dyn Fn(usize, usize),
}

/// One image as the pass saw it, for callers that keep more than its record (pictures).
pub struct Seen<'a> {
    /// Index into the dataset.
    pub index: usize,
    pub image: &'a image::RgbImage,
    pub label: &'a LabelMap,
    /// ADD's run (analysis mode) and the baseline's (empty without one).
    pub events: &'a [RunEvent],
    pub baseline: &'a [RunEvent],
}

/// A progress bar over `n` images for the terminal.
pub fn image_bar(n: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} images [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    bar
}

/// Runs every labelled image of `ds` (at most `pass.limit`) through `model` and, interleaved on
/// the same image so both see the same machine state, through `baseline`; hands each image's
/// record and what the runs produced to `each`, so a caller keeps only what it needs and a long
/// pass stays flat in memory. [`Cancelled`] when the pass's flag was set.
pub fn for_each_image(
    model: &Engine,
    baseline: Option<&Engine>,
    ds: &Dataset,
    pass: &Pass<'_>,
    each: &mut dyn FnMut(ImageRecord, Seen<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let k = model.card().classes.len();
    let (max_side, edm_maps) = (pass.max_side, pass.edm_maps);
    let analysis = RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: true, max_side, edm_maps };
    let full = RunOptions { analysis: false, edm_maps: false, ..analysis };
    let run = |engine: &Engine, image: &image::RgbImage, opts: &RunOptions| -> anyhow::Result<Vec<RunEvent>> {
        let mut ev = Vec::new();
        engine.run(image, opts, 0, pass.cancel, &mut |e| ev.push(e))?;
        match ev.iter().any(|e| matches!(e, RunEvent::Cancelled { .. })) {
            true => Err(Cancelled.into()),
            false => Ok(ev),
        }
    };
    let n = ds.len().min(pass.limit);
    for i in 0..n {
        if pass.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
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
        let label = LabelMap::from_gray(label);
        let events = run(model, &d.image, &analysis)?;
        let full_events = match baseline {
            Some(b) => run(b, &d.image, &full)?,
            None => Vec::new(),
        };
        let meta = ImageMeta { name: &name, classes: k, difficulty: None };
        let record = image_record(meta, &events, &full_events, Some(&label))?.record;
        let seen = Seen { index: i, image: &d.image, label: &label, events: &events, baseline: &full_events };
        each(record, seen)?;
        (pass.progress)(i + 1, n);
    }
    Ok(())
}

/// Every image's record ([`for_each_image`] keeping them all), for `add eval`'s sweeps.
pub fn collect(
    model: &Engine,
    baseline: Option<&Engine>,
    ds: &Dataset,
    pass: &Pass<'_>,
) -> anyhow::Result<Vec<ImageRecord>> {
    let mut out = Vec::with_capacity(ds.len().min(pass.limit));
    for_each_image(model, baseline, ds, pass, &mut |r, _| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}
