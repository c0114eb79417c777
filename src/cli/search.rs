//! `add search`: the options of the path search ([`crate::search`]), and what it prints.

use std::path::PathBuf;

use crate::data::datasets::{Dataset, OnBad, cityscapes};
use crate::data::size::parse_size;
use crate::search::config::default_steps_per_epoch;
use crate::search::{Outcome, SearchConfig, SearchFiles, search};

/// The defaults of the flags: the library's, 8 epochs of which 3 warm up (the steps per epoch
/// here are a placeholder: by default they follow the data, see [`run`]).
const DEFAULTS: SearchConfig = SearchConfig::defaults(8, 3, 1);

/// Options of `add search`.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// Dataset root in the Cityscapes layout (`add synth` writes one); its train split is used.
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder: arch.json, search_history.json, search_checkpoint.safetensors.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Filter multiplier F of the supernet (and of the card it writes).
    #[arg(long, default_value_t = DEFAULTS.filters)]
    pub filters: usize,
    /// Width of the shared ASPP and decoder.
    #[arg(long, default_value_t = DEFAULTS.head_width)]
    pub head_width: usize,
    /// Exits in all, the last cell included (1..=4); early exits split the cells evenly.
    #[arg(long, default_value_t = DEFAULTS.exits)]
    pub exits: usize,
    #[arg(long, default_value_t = DEFAULTS.epochs)]
    pub epochs: usize,
    /// Epochs of weight-only training before beta is updated.
    #[arg(long, default_value_t = DEFAULTS.warmup)]
    pub warmup: usize,
    /// Steps per epoch (default: half A's images / batch, rounded up).
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Crop HxW; each side 32k+1 (the default is [`SearchConfig::defaults`]'s).
    #[arg(long, default_value = "65x129")]
    pub crop: String,
    #[arg(long, default_value_t = DEFAULTS.batch)]
    pub batch: usize,
    #[arg(long, default_value_t = DEFAULTS.scale.0)]
    pub scale_min: f32,
    #[arg(long, default_value_t = DEFAULTS.scale.1)]
    pub scale_max: f32,
    /// Learning rate of the weights (SGD, poly decay); the reference searches with 0.025.
    #[arg(long, default_value_t = DEFAULTS.lr)]
    pub lr: f64,
    #[arg(long, default_value_t = DEFAULTS.momentum)]
    pub momentum: f64,
    #[arg(long, default_value_t = DEFAULTS.weight_decay)]
    pub weight_decay: f64,
    /// Learning rate of beta (Adam, no weight decay).
    #[arg(long, default_value_t = DEFAULTS.arch_lr)]
    pub arch_lr: f64,
    #[arg(long, default_value_t = DEFAULTS.seed)]
    pub seed: u64,
    /// Also search the cell: alpha over the 8 candidate ops of each of the cell's 20 edges,
    /// shared by every cell, decoded into the card's genotype (about 10x the cost per step).
    #[arg(long)]
    pub cell_search: bool,
    /// Continue the search in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Pause at this global step (checkpoint saved); `--resume` continues later.
    #[arg(long)]
    pub until: Option<usize>,
    /// Device: cpu, cuda, cuda:N, metal or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `add search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let crop = parse_size("--crop", &args.crop)?;
    let ds = cityscapes::open(&args.data, "train", OnBad::Fail)?;
    let cfg = SearchConfig {
        filters: args.filters,
        head_width: args.head_width,
        exits: args.exits,
        epochs: args.epochs,
        warmup: args.warmup,
        steps_per_epoch: args.steps_per_epoch.unwrap_or_else(|| default_steps_per_epoch(ds.len(), args.batch)),
        batch: args.batch,
        crop,
        scale: (args.scale_min, args.scale_max),
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        arch_lr: args.arch_lr,
        seed: args.seed,
        cell_search: args.cell_search,
    };
    search_and_report(&ds, &cfg, &SearchFiles { dir: args.out }, args.resume, args.until, &args.device)
}

/// Searches `ds` on `device` ([`search`]) and prints what was found and where it is written:
/// `add search`, and `add pipeline`'s search stage.
pub fn search_and_report(
    ds: &Dataset,
    cfg: &SearchConfig,
    files: &SearchFiles,
    resume: bool,
    until: Option<usize>,
    device: &str,
) -> anyhow::Result<()> {
    let device = crate::engine::device::select(Some(device)).map_err(anyhow::Error::msg)?;
    match search(ds, cfg, files, resume, until, &device)? {
        Outcome::Finished(card) => {
            println!("path {:?}, early exits {:?}", card.path, card.exits);
            if cfg.cell_search {
                println!("cell genotype {:?}", card.genotype);
            }
            println!("card: {}", files.card().display());
            println!("history: {}", files.history().display());
        }
        Outcome::Paused(step) => println!("paused at step {step}: `add search ... --resume` continues"),
    }
    Ok(())
}
