//! What defines a search (its settings, saved in its checkpoint so `--resume` can insist on the
//! same ones), where it keeps its files, and the split of the train images into the half that
//! trains the weights and the half that trains the architecture.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::data::datasets::Dataset;
use crate::fit::checkpoint::{Kind, RunFolder};

/// Everything that defines a search (saved in its checkpoint; `--resume` needs the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    pub filters: usize,
    pub head_width: usize,
    /// Exits in all, the last cell included.
    pub exits: usize,
    pub epochs: usize,
    /// Epochs of weight-only training before beta is updated.
    pub warmup: usize,
    pub steps_per_epoch: usize,
    pub batch: usize,
    /// Crop (height, width); each side 32k+1.
    pub crop: (u32, u32),
    pub scale: (f32, f32),
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub arch_lr: f64,
    pub seed: u64,
    /// Also search the cell (alpha over every edge's candidate ops), not only the path.
    #[serde(default)]
    pub cell_search: bool,
}

impl SearchConfig {
    /// `add search`'s defaults (its flags and the pipeline's search stage use them) for
    /// everything but the schedule: F=4, head width 32, 2 exits, batch 4, 65x129 crops scaled by
    /// 0.5-1.5, SGD at 0.025 (the reference's) with momentum 0.9 and weight decay 5e-4, beta's Adam
    /// at 3e-3, seed 1, the path only.
    pub const fn defaults(epochs: usize, warmup: usize, steps_per_epoch: usize) -> SearchConfig {
        SearchConfig {
            filters: 4,
            head_width: 32,
            exits: 2,
            epochs,
            warmup,
            steps_per_epoch,
            batch: 4,
            crop: (65, 129),
            scale: (0.5, 1.5),
            lr: 0.025,
            momentum: 0.9,
            weight_decay: 5e-4,
            arch_lr: 3e-3,
            seed: 1,
            cell_search: false,
        }
    }

    pub fn total_steps(&self) -> usize {
        self.epochs * self.steps_per_epoch
    }

    /// Refuses settings the search cannot run, naming the flag.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=super::result::MAX_EXITS).contains(&self.exits),
            "--exits must be 1..={}",
            super::result::MAX_EXITS
        );
        anyhow::ensure!(
            self.batch >= 2,
            "--batch must be at least 2 (BatchNorm needs more than one value per channel)"
        );
        anyhow::ensure!(
            self.epochs >= 1 && self.steps_per_epoch >= 1,
            "--epochs and --steps-per-epoch must be at least 1"
        );
        anyhow::ensure!(
            self.warmup <= self.epochs,
            "--warmup ({}) is more than --epochs ({}): beta would never be searched",
            self.warmup,
            self.epochs
        );
        let (h, w) = self.crop;
        anyhow::ensure!(
            h >= 65 && w >= 65 && (h - 1) % 32 == 0 && (w - 1) % 32 == 0,
            "--crop {h}x{w}: each side must be 32k+1 and at least 65 (e.g. 65x129), so every level's grid lines up"
        );
        anyhow::ensure!(self.filters >= 2 && self.filters % 2 == 0, "--filters must be a positive even number");
        anyhow::ensure!(self.head_width >= 1, "--head-width must be positive");
        Ok(())
    }
}

/// Where a search keeps its files.
pub struct SearchFiles {
    pub dir: PathBuf,
}

impl RunFolder for SearchFiles {
    /// The checkpoint holds supernet weights, beta, optimiser state, step and history.
    const KIND: Kind =
        Kind { checkpoint: "search_checkpoint.safetensors", key: "add_studio.search_state", name: "search" };
    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl SearchFiles {
    /// The architecture card of the latest decoded path.
    pub fn card(&self) -> PathBuf {
        self.dir.join("arch.json")
    }
    /// Beta and the decoded path per epoch.
    pub fn history(&self) -> PathBuf {
        self.dir.join("search_history.json")
    }
}

/// Steps in an epoch when not given: one pass over half A (its images / batch, rounded up).
pub fn default_steps_per_epoch(images: usize, batch: usize) -> usize {
    images.div_ceil(2).div_ceil(batch.max(1)).max(1)
}

/// Splits `ds` into halves A (weights) and B (architecture) by a seeded shuffle.
pub fn split_halves(ds: &Dataset, seed: u64) -> anyhow::Result<(Dataset, Dataset)> {
    anyhow::ensure!(ds.len() >= 2, "{}: the search needs at least 2 training images (one per half)", ds.root.display());
    let mut idx: Vec<usize> = (0..ds.len()).collect();
    idx.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let half = ds.len().div_ceil(2);
    let pick = |ids: &[usize]| Dataset { samples: ids.iter().map(|&i| ds.samples[i].clone()).collect(), ..ds.clone() };
    Ok((pick(&idx[..half]), pick(&idx[half..])))
}
