//! The one path from an image's runs to its record: ADD's events (analysis mode, every head
//! computed), the baseline's events when there is one, and the label when there is one become
//! the per-exit confusion, scores and times ([`ImageRecord`]) plus the numbers the app shows
//! ([`ExitDerived`]: confidence, agreement with the full output, IoU). `add eval`, `add report`
//! and the app's dataset runs all go through [`image_record`]; the inspector, which gets its
//! exits one at a time, uses the same per-exit functions of [`super::exit_numbers`].

use std::sync::Arc;

use super::collect::{ExitRecord, ImageRecord, network_ms};
use super::exit_numbers::{ExitDerived, agreement, derive};
use super::label::LabelMap;
use super::metrics::ConfusionMatrix;
use crate::engine::{ExitMaps, ExitStats, RunEvent};

/// What one image's runs tell.
#[derive(Debug, Clone)]
pub struct ImageOutcome {
    pub record: ImageRecord,
    /// Per exit: confidence, class shares, agreement with the full output (the baseline, else
    /// the last exit) and mIoU against the label (None without a label, or when it ignores
    /// every pixel).
    pub derived: Vec<ExitDerived>,
    /// The network's input size (height, width), when the run reported its start.
    pub input_size: Option<(usize, usize)>,
}

/// The inputs that name and describe the image.
#[derive(Debug, Clone, Copy)]
pub struct ImageMeta<'a> {
    /// Shown in errors and kept in the record.
    pub name: &'a str,
    /// Number of classes of the model (the confusion matrices' size).
    pub classes: usize,
    /// The scene's difficulty, when the set's manifest records it.
    pub difficulty: Option<f32>,
}

/// Builds the record of one image from ADD's `events` (analysis mode) and the `baseline`'s
/// (empty without a baseline). Errors name the image.
pub fn image_record(
    meta: ImageMeta<'_>,
    events: &[RunEvent],
    baseline: &[RunEvent],
    label: Option<&LabelMap>,
) -> anyhow::Result<ImageOutcome> {
    let name = meta.name;
    let confusion_of = |maps: &ExitMaps, what: &str| -> anyhow::Result<ConfusionMatrix> {
        let mut c = ConfusionMatrix::new(meta.classes);
        if let Some(l) = label {
            c.add(&l.at(maps.width, maps.height), &maps.classes).map_err(|e| anyhow::anyhow!("{name}: {what}{e}"))?;
        }
        Ok(c)
    };
    let (mut input_size, mut cell_ms, mut exits, mut maps) = (None, Vec::new(), Vec::new(), Vec::new());
    for e in events {
        match e {
            RunEvent::Started { input_size: s, .. } => input_size = Some(*s),
            RunEvent::CellDone { cell_ms: ms, .. } => cell_ms.push(*ms),
            RunEvent::Exit(r) => {
                let m = r
                    .maps
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("analysis mode ran no head at exit {}", r.exit + 1))?;
                exits.push(ExitRecord {
                    stats: ExitStats {
                        edm_score: r.edm_score,
                        edm_map_score: r.edm_map_score,
                        mean_entropy: r.mean_entropy,
                        confident_fraction: r.confident_fraction,
                    },
                    edm_ms: r.edm_ms,
                    edm_map_ms: r.edm_map_ms,
                    head_ms: r.head_ms.unwrap_or(0.0),
                    baseline_agreement: None,
                    confusion: confusion_of(&m, "")?,
                });
                maps.push(m);
            }
            RunEvent::Failed { message, .. } => anyhow::bail!("{name}: {message}"),
            _ => {}
        }
    }
    anyhow::ensure!(!maps.is_empty(), "{name}: the model reported no exit");
    let baseline_ms = network_ms(baseline);
    let full: Option<Arc<ExitMaps>> =
        baseline.iter().rev().find_map(|e| if let RunEvent::Exit(r) = e { r.maps.clone() } else { None });
    let baseline_confusion =
        full.as_deref().filter(|_| label.is_some()).map(|m| confusion_of(m, "baseline: ")).transpose()?;
    if let Some(f) = &full {
        for (x, m) in exits.iter_mut().zip(&maps) {
            x.baseline_agreement = Some(agreement(m, f));
        }
    }
    // the full output the app compares with: the baseline's, else the last exit's
    let last = maps[maps.len() - 1].clone();
    let derived = maps
        .iter()
        .zip(&exits)
        .map(|(m, x)| {
            let mut d = derive(m);
            let agree = x.baseline_agreement.unwrap_or_else(|| agreement(m, &last));
            d.agree_full = Some(agree as f32);
            d.iou_label = label.and_then(|_| Some(x.confusion.miou() as f32).filter(|v| v.is_finite()));
            d
        })
        .collect();
    let record = ImageRecord {
        image: name.to_string(),
        cell_ms,
        exits,
        baseline_ms,
        baseline_confusion,
        difficulty: meta.difficulty,
    };
    Ok(ImageOutcome { record, derived, input_size })
}
