//! Set-level numbers from the per-image records, shared by `add eval` and `add report`: each
//! exit's quality, the baseline's, and the cost table at the size the set ran at.

use super::collect::ImageRecord;
use super::metrics::ConfusionMatrix;
use crate::data::datasets::Dataset;
use crate::engine::Engine;
use crate::network::CostTable;

/// mIoU (points) and IoU per class of `exit` over the set: one merged confusion matrix.
pub fn exit_quality(recs: &[ImageRecord], exit: usize, classes: usize) -> (f64, Vec<Option<f64>>) {
    let mut c = ConfusionMatrix::new(classes);
    recs.iter().for_each(|r| c.merge(&r.exits[exit].confusion));
    (100.0 * c.miou(), c.iou())
}

/// The baseline's mean time per image and mIoU (points), when the records carry a baseline.
pub fn baseline_quality(recs: &[ImageRecord], classes: usize) -> Option<(f64, f64)> {
    if recs.is_empty() || recs.iter().any(|r| r.baseline_confusion.is_none()) {
        return None;
    }
    let ms = recs.iter().filter_map(|r| r.baseline_ms).sum::<f64>() / recs.len() as f64;
    let mut c = ConfusionMatrix::new(classes);
    recs.iter().filter_map(|r| r.baseline_confusion.as_ref()).for_each(|m| c.merge(m));
    Some((ms, 100.0 * c.miou()))
}

/// Multi-Adds of `model` at the size the set's images run at (the first image's; sets are one
/// size).
pub fn cost_table(model: &Engine, ds: &Dataset, max_side: u32) -> anyhow::Result<CostTable> {
    let first = ds.load(0)?.image;
    let (w, h) = crate::engine::prepare::scaled_dims(first.width(), first.height(), max_side);
    Ok(CostTable::of(
        model.net(),
        crate::engine::prepare::padded_dim(h as usize),
        crate::engine::prepare::padded_dim(w as usize),
    ))
}
