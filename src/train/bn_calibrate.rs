//! `add calibrate-bn`: recomputes a trained model's BatchNorm running statistics on full-size
//! training images ("precise BN"). Training sees random-scale crops (129x257 by default) whose
//! deep, low-resolution cells are mostly zero padding, so the running statistics they leave
//! describe crops, not the 257x513 images the model answers on; the deeper an exit, the more it
//! suffers. Only the statistics change: no weight moves, and the labels (loaded with the
//! images, as in training) are not used.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use candle_core::{Device, Tensor};

use super::trainer::Trainee;
use crate::data::augment::AugmentParams;
use crate::fit::batches::batch;
use crate::fit::vars::is_running_stat;
use crate::network::checkpoint::{self, TensorFile};

/// Forward passes by default (also what `add pipeline` runs and its model card states).
pub const BATCHES: usize = 60;
/// Images per pass by default.
pub const BATCH: usize = 4;
/// Size the statistics are gathered at by default: the size the model answers on.
pub const SIZE: &str = "257x513";

/// A calibration: which model, on which images, how many passes of what size.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// Trained model (safetensors with its card).
    pub model: PathBuf,
    /// Dataset root; its train split is read.
    pub data: PathBuf,
    /// Where to write the calibrated model (may be `model` itself: written atomically).
    pub out: PathBuf,
    /// Forward passes.
    pub batches: usize,
    /// Images per pass.
    pub batch: usize,
    /// (height, width) the statistics are gathered at.
    pub size: (u32, u32),
    pub seed: u64,
    /// Device: cpu, cuda, cuda:N, metal or auto.
    pub device: String,
}

impl Calibration {
    fn size_text(&self) -> String {
        format!("{}x{}", self.size.0, self.size.1)
    }
}

/// Runs `batches` training-mode forward passes of full-size, unflipped, unjittered train
/// images through the model in `weights` and returns its tensors with the new statistics.
pub fn calibrate(
    weights: &TensorFile,
    ds: &crate::data::datasets::Dataset,
    args: &Calibration,
    device: &Device,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let card = checkpoint::resolve_card(weights, None)?;
    let trainee = Trainee::new(&card, &weights.tensors, device)?;
    let aug = AugmentParams { scale: (1.0, 1.0), crop: args.size, flip: false, jitter: 0.0, ..Default::default() };
    let bar = indicatif::ProgressBar::new(args.batches as u64);
    for step in 0..args.batches {
        let b = batch(ds, args.batch, &aug, &card.normalization, args.seed, step, device)?;
        trainee.net.forward_t(&b.images.detach(), true)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut out = trainee.tensors()?;
    // everything but the statistics is exactly what was read (the forward passes move no weight)
    for (name, t) in &weights.tensors {
        if !is_running_stat(name) {
            out.insert(name.clone(), t.clone());
        }
    }
    Ok(out)
}

/// Calibrates `args.model` and writes the result to `args.out` (`add calibrate-bn`).
pub fn run(args: &Calibration) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch >= 2, "--batch must be at least 2 (BatchNorm needs more than one value per channel)");
    anyhow::ensure!(args.batches >= 1, "--batches must be at least 1");
    let weights = TensorFile::read(&args.model)?;
    let card = checkpoint::resolve_card(&weights, None)?;
    let ds = crate::data::datasets::open_for_command(&args.data, "train", false, &card.palette())?;
    let device = crate::engine::device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    let stats = weights.tensors.keys().filter(|n| is_running_stat(n)).count();
    anyhow::ensure!(stats > 0, "{}: no BatchNorm running statistics to calibrate", args.model.display());
    let tensors = calibrate(&weights, &ds, args, &device)?;
    let mut meta = weights.metadata.clone();
    meta.remove(checkpoint::CARD_METADATA_KEY);
    meta.insert(
        "bn_calibration".into(),
        format!("{} batches of {} at {}, seed {}", args.batches, args.batch, args.size_text(), args.seed),
    );
    checkpoint::save_with_metadata(&args.out, &card, &tensors, meta)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "calibrated {stats} BatchNorm statistics over {} images at {}: {}",
        args.batches * args.batch,
        args.size_text(),
        args.out.display()
    );
    Ok(())
}
