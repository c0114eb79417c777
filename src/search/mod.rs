//! `add search`: ADD's network-level architecture search (stage one of three).
//!
//! What is searched is the path through Auto-DeepLab's 12-cell x 4-level trellis, in a
//! supernet that carries the multi-exit heads the final network will have, so the path suits
//! early exits too. The cell stays the searched Auto-DeepLab genotype, as ADD keeps it, unless
//! `--cell-search` searches it too (Auto-DeepLab's alpha).
//!
//! - [`trellis`]: beta, its softmax over each node's outgoing edges, Viterbi decoding.
//! - [`supernet`]: every reachable node with a cell, dense connections, shared exit head.
//! - [`searcher`]: first-order bi-level optimisation (weights on half A, beta on half B after
//!   a warm-up), checkpoints, `--resume`, Ctrl-C.
//! - [`cell_search`]: the optional cell-level search (alpha over every edge's candidate ops).
//! - [`adam`]: Adam for beta (and alpha), with its state exposed for exact resumption.
//! - [`result`]: exit placement, the architecture card, the history file.
//! - [`reference`], [`npy`]: the reference search's numpy outputs as a card and a history.
//!
//! Outputs in `--out`: `arch.json` (the card; `add train --arch` reads it),
//! `search_history.json` (beta, normalised weights and the decoded path per epoch, for the
//! app's plots) and `search_checkpoint.safetensors` (for `--resume`).

pub mod adam;
pub mod cell_search;
pub mod npy;
pub mod reference;
pub mod result;
pub mod searcher;
pub mod supernet;
pub mod trellis;

use std::path::PathBuf;

pub use searcher::{Outcome, SearchConfig, SearchFiles, search};

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
    #[arg(long, default_value_t = 4)]
    pub filters: usize,
    /// Width of the shared ASPP and decoder.
    #[arg(long, default_value_t = 32)]
    pub head_width: usize,
    /// Exits in all, the last cell included (1..=4); early exits split the cells evenly.
    #[arg(long, default_value_t = 2)]
    pub exits: usize,
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Epochs of weight-only training before beta is updated.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Steps per epoch (default: half A's images / batch, rounded up).
    #[arg(long)]
    pub steps_per_epoch: Option<usize>,
    /// Crop HxW; each side 32k+1.
    #[arg(long, default_value = "65x129")]
    pub crop: String,
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    #[arg(long, default_value_t = 0.5)]
    pub scale_min: f32,
    #[arg(long, default_value_t = 1.5)]
    pub scale_max: f32,
    /// Learning rate of the weights (SGD, poly decay); the reference searches with 0.025.
    #[arg(long, default_value_t = 0.025)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// Learning rate of beta (Adam, no weight decay).
    #[arg(long, default_value_t = 3e-3)]
    pub arch_lr: f64,
    #[arg(long, default_value_t = 1)]
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
    let (h, w) = crate::cli::info::parse_size(&args.crop)?;
    let ds = crate::data::datasets::cityscapes::open(&args.data, "train", crate::data::datasets::OnBad::Fail)?;
    let half_a = ds.len().div_ceil(2);
    let cfg = SearchConfig {
        filters: args.filters,
        head_width: args.head_width,
        exits: args.exits,
        epochs: args.epochs,
        warmup: args.warmup,
        steps_per_epoch: args.steps_per_epoch.unwrap_or_else(|| half_a.div_ceil(args.batch.max(1)).max(1)),
        batch: args.batch,
        crop: (h as u32, w as u32),
        scale: (args.scale_min, args.scale_max),
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        arch_lr: args.arch_lr,
        seed: args.seed,
        cell_search: args.cell_search,
    };
    let device = crate::engine::device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    let files = SearchFiles { dir: args.out };
    match search(&ds, &cfg, &files, args.resume, args.until, &device)? {
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
