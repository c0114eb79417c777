//! Which BatchNorm statistics a trained model ships with: those its training left, or those
//! `add calibrate-bn` recomputes on full-size images. Calibrating repairs what small crops leave
//! behind (deep cells' statistics that describe zero padding; `add train`'s old 129x257 crops
//! needed it), but it can cost accuracy when the crops were near full size and scale-augmented: on
//! a PyTorch-trained add-3 (257x513 crops, 2,500 steps), calibrating cost 0.75-1.4 mIoU per exit,
//! and the baseline 1.5, on 60 held-out scenes. So the pipeline measures both on the
//! val split and keeps the better one (the mean over exits), recording the numbers in
//! `bn_choice.json` beside the run.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::engine::{Engine, device};
use crate::eval::collect::{Pass, for_each_image};
use crate::eval::summary::Quality;

/// Val images each version is measured on (the first of the split).
pub const IMAGES: usize = 100;

/// What was measured and kept, as `bn_choice.json` holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BnChoice {
    /// Val images measured.
    pub images: usize,
    /// mIoU per exit with the training's statistics, and with the recomputed ones.
    pub trained: Vec<f64>,
    pub calibrated: Vec<f64>,
    /// Whether the recomputed statistics are kept.
    pub calibrate: bool,
}

impl BnChoice {
    /// The better of the two by mean mIoU over the exits; a tie keeps the calibrated model.
    pub fn decide(images: usize, trained: Vec<f64>, calibrated: Vec<f64>) -> BnChoice {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let calibrate = mean(&calibrated) >= mean(&trained);
        BnChoice { images, trained, calibrated, calibrate }
    }

    /// Where the run's record is kept.
    pub fn path(run_dir: &Path) -> PathBuf {
        run_dir.join("bn_choice.json")
    }

    /// The run's record, if the choice was made.
    pub fn load(run_dir: &Path) -> anyhow::Result<Option<BnChoice>> {
        let p = Self::path(run_dir);
        if !p.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p)?;
        Ok(Some(serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?))
    }

    pub fn save(&self, run_dir: &Path) -> anyhow::Result<()> {
        crate::fsutil::atomic_write(&Self::path(run_dir), serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }

    /// One line for the model card.
    pub fn describe(&self, name: &str) -> String {
        let f = |v: &[f64]| v.iter().map(|m| format!("{m:.2}")).collect::<Vec<_>>().join(" / ");
        format!(
            "{name}: mIoU per exit {} with the training's statistics, {} recomputed: {} kept",
            f(&self.trained),
            f(&self.calibrated),
            if self.calibrate { "recomputed" } else { "the training's" }
        )
    }
}

/// mIoU (points) of every exit of `model` over the first `limit` images of `data`'s val split.
pub fn val_mious(model: &Path, data: &Path, limit: usize, device_name: &str) -> anyhow::Result<(usize, Vec<f64>)> {
    let dev = device::select(Some(device_name)).map_err(anyhow::Error::msg)?;
    let engine = Engine::load(model, None, &dev)?;
    let card = engine.card().clone();
    let ds = crate::data::datasets::open_for_command(data, "val", false, &card.palette())?;
    let never = AtomicBool::new(false);
    let pass = Pass { limit, max_side: 2049, edm_maps: false, cancel: &never, progress: &|_, _| {} };
    let mut q = Quality::new(card.classes.len(), card.num_exits());
    let mut n = 0;
    for_each_image(&engine, None, &ds, &pass, &mut |r, _| {
        q.add(&r);
        n += 1;
        Ok(())
    })?;
    anyhow::ensure!(n > 0, "{}: no val images to compare BatchNorm statistics on", data.display());
    Ok((n, (0..card.num_exits()).map(|e| q.exit(e).0).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_better_mean_over_exits_is_kept() {
        assert!(!BnChoice::decide(60, vec![26.4, 27.1, 27.1], vec![25.2, 25.9, 26.4]).calibrate);
        assert!(BnChoice::decide(60, vec![10.0, 12.0], vec![11.0, 11.5]).calibrate, "11.25 > 11.0");
        assert!(BnChoice::decide(60, vec![20.0], vec![20.0]).calibrate, "a tie keeps the calibrated");
        let line = BnChoice::decide(60, vec![25.0], vec![23.4]).describe("autodeeplab");
        assert_eq!(
            line,
            "autodeeplab: mIoU per exit 25.00 with the training's statistics, 23.40 recomputed: the training's kept"
        );
    }

    #[test]
    fn the_choice_survives_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(BnChoice::load(dir.path()).unwrap(), None);
        let c = BnChoice::decide(7, vec![1.5, 2.5], vec![2.0, 2.0]);
        c.save(dir.path()).unwrap();
        assert_eq!(BnChoice::load(dir.path()).unwrap(), Some(c));
    }
}
