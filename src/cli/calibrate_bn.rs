//! `add calibrate-bn`: the options of precise BN ([`crate::train::bn_calibrate`]).

use std::path::PathBuf;

use crate::data::size::parse_size;
use crate::train::bn_calibrate::{BATCH, BATCHES, Calibration, SIZE};

/// Options of `add calibrate-bn`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Trained model (safetensors with its card).
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset root (Cityscapes layout); its train split is read.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the calibrated model (may be --model itself: written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Forward passes; the statistics are a running average with the network's momentum
    /// (0.1), so after 60 passes the trained ones weigh 0.9^60 = 0.2%.
    #[arg(long, default_value_t = BATCHES)]
    pub batches: usize,
    #[arg(long, default_value_t = BATCH)]
    pub batch: usize,
    /// Image size the statistics are gathered at: the size the model answers on.
    #[arg(long, default_value = SIZE)]
    pub size: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `add calibrate-bn`.
pub fn run(args: CalibrateArgs) -> anyhow::Result<()> {
    let calibration = Calibration {
        size: parse_size("--size", &args.size)?,
        model: args.model,
        data: args.data,
        out: args.out,
        batches: args.batches,
        batch: args.batch,
        seed: args.seed,
        device: args.device,
    };
    crate::train::bn_calibrate::run(&calibration)
}
