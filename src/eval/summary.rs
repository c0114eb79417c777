//! Set-level numbers from the per-image records, shared by `add eval` and `add report`: each
//! exit's quality, the baseline's, and the cost table at the size the set ran at.

use super::collect::ImageRecord;
use super::metrics::ConfusionMatrix;
use crate::data::datasets::Dataset;
use crate::engine::Engine;
use crate::network::CostTable;

/// Each exit's and the baseline's merged confusion and the baseline's time, added up image by
/// image, so a pass needs not keep every record.
pub struct Quality {
    exits: Vec<ConfusionMatrix>,
    baseline: ConfusionMatrix,
    baseline_ms: f64,
    images: usize,
    /// Images without a baseline run.
    missing_baseline: usize,
}

impl Quality {
    pub fn new(classes: usize, exits: usize) -> Quality {
        Quality {
            exits: vec![ConfusionMatrix::new(classes); exits],
            baseline: ConfusionMatrix::new(classes),
            baseline_ms: 0.0,
            images: 0,
            missing_baseline: 0,
        }
    }

    /// Over every record.
    pub fn of(recs: &[ImageRecord], classes: usize, exits: usize) -> Quality {
        let mut q = Quality::new(classes, exits);
        recs.iter().for_each(|r| q.add(r));
        q
    }

    pub fn add(&mut self, r: &ImageRecord) {
        self.images += 1;
        self.exits.iter_mut().zip(&r.exits).for_each(|(c, x)| c.merge(&x.confusion));
        match &r.baseline_confusion {
            Some(c) => {
                self.baseline.merge(c);
                self.baseline_ms += r.baseline_ms.unwrap_or(0.0);
            }
            None => self.missing_baseline += 1,
        }
    }

    /// mIoU (points) and IoU per class of `exit` over the set: one merged confusion matrix.
    pub fn exit(&self, exit: usize) -> (f64, Vec<Option<f64>>) {
        let c = &self.exits[exit];
        (100.0 * c.miou(), c.iou())
    }

    /// The baseline's mean time per image and mIoU (points), when every image has a baseline run.
    pub fn baseline(&self) -> Option<(f64, f64)> {
        (self.images > 0 && self.missing_baseline == 0)
            .then(|| (self.baseline_ms / self.images as f64, 100.0 * self.baseline.miou()))
    }
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
