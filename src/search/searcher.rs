//! The search loop: first-order bi-level optimisation of the supernet.
//!
//! The train split is shuffled (seeded) into halves A and B. Every step updates the weights
//! on a batch of A (SGD + poly lr); from epoch `warmup` on, it then updates beta (and, in a
//! cell search, alpha) on a batch of B (Adam, weight decay 0), as the reference's `search.py`
//! alternates them (first order: the architecture gradient is taken at the current weights).
//! Batches depend only on (seed, step), so a resumed run sees the batches it would have seen;
//! the checkpoint holds weights, BatchNorm statistics, beta, alpha, the optimisers' state, the
//! step and the history, and is written atomically at the end of every epoch, on `until`, and
//! on Ctrl-C.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::adam::Adam;
use super::cell_search;
use super::result::{EpochRecord, History, early_exits, searched_card, template_card};
use super::supernet::{HEAD_LEVEL, Supernet};
use super::trellis::{self, CELLS, LEVELS, RATES};
use crate::data::augment::AugmentParams;
use crate::data::datasets::Dataset;
use crate::network::ArchCard;
use crate::network::checkpoint::{self, TensorFile};
use crate::train::batches::batch;
use crate::train::loss::multi_exit_loss;
use crate::train::optim::{Sgd, poly_lr};

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
    pub fn total_steps(&self) -> usize {
        self.epochs * self.steps_per_epoch
    }

    fn check(&self) -> anyhow::Result<()> {
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

impl SearchFiles {
    /// Supernet weights, beta, optimiser state, step and history: what `--resume` reads.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("search_checkpoint.safetensors")
    }
    /// The architecture card of the latest decoded path.
    pub fn card(&self) -> PathBuf {
        self.dir.join("arch.json")
    }
    /// Beta and the decoded path per epoch.
    pub fn history(&self) -> PathBuf {
        self.dir.join("search_history.json")
    }
}

/// How a call to [`search`] ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every epoch done; the card of the final path.
    Finished(ArchCard),
    /// Stopped at this step (checkpoint saved) by `until` or Ctrl-C.
    Paused(usize),
}

const STATE_KEY: &str = "add_studio.search_state";
const BETA: &str = "arch.beta";
const ADAM_M: &str = "arch.adam_m";
const ADAM_V: &str = "arch.adam_v";
const ALPHA: &str = "arch.alpha";
const ALPHA_M: &str = "arch.alpha_adam_m";
const ALPHA_V: &str = "arch.alpha_adam_v";
const MOMENTUM_PREFIX: &str = "momentum.";
/// Mixed into the seed for half B's batches so they differ from half A's at the same step.
const ARCH_STREAM: u64 = 0xB5EA_4C11_0000_0001;

/// Progress of the epoch in flight (kept in the checkpoint so a pause loses nothing).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct EpochAcc {
    loss_sum: f64,
    loss_n: usize,
    arch_sum: f64,
    arch_n: usize,
    seconds: f64,
}

#[derive(Serialize, Deserialize)]
struct SearchState {
    step: usize,
    adam_t: usize,
    config: SearchConfig,
    history: Vec<EpochRecord>,
    acc: EpochAcc,
    /// Steps of alpha's Adam (cell search only).
    #[serde(default)]
    alpha_adam_t: usize,
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

/// The supernet's variables and modules, beta, alpha (cell search) and the optimisers.
struct Run {
    varmap: VarMap,
    net: Supernet,
    beta: Var,
    sgd: Sgd,
    adam: Adam,
    /// Alpha (edges x ops) and its Adam, in a cell search.
    alpha: Option<(Var, Adam)>,
}

impl Run {
    /// Softmax of alpha over each edge's ops, in a cell search (candle's composed softmax:
    /// `softmax_last_dim` has no backward).
    fn op_weights(&self) -> candle_core::Result<Option<Tensor>> {
        self.alpha.as_ref().map(|(a, _)| candle_nn::ops::softmax(a.as_tensor(), candle_core::D::Minus1)).transpose()
    }

    fn weights(&self) -> anyhow::Result<HashMap<String, Tensor>> {
        let data = self.varmap.data().lock().expect("varmap lock");
        data.iter().map(|(n, v)| Ok((n.clone(), v.as_tensor().to_device(&Device::Cpu)?))).collect()
    }
}

/// Trainable variables by name (BatchNorm running statistics excluded), sorted.
fn trainable(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap.data().lock().expect("varmap lock");
    let mut v: Vec<_> = data
        .iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// `n` values of 1e-3 * N(0, 1) (Box-Muller on a generator seeded with `seed`): how the
/// reference initialises its architecture weights, near-uniform with ties broken by the seed.
pub fn initial_arch_weights(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random();
            (1e-3 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

/// Initial beta (see [`initial_arch_weights`]).
fn initial_beta(seed: u64) -> anyhow::Result<Tensor> {
    let v = initial_arch_weights(CELLS * LEVELS * RATES, seed ^ ARCH_STREAM);
    Ok(Tensor::from_vec(v, (CELLS, LEVELS, RATES), &Device::Cpu)?)
}

/// Runs (or resumes) a search of `cfg` on `ds` into `files.dir`, pausing at step `until`
/// when given.
pub fn search(
    ds: &Dataset,
    cfg: &SearchConfig,
    files: &SearchFiles,
    resume: bool,
    until: Option<usize>,
    device: &Device,
) -> anyhow::Result<Outcome> {
    cfg.check()?;
    let template = template_card(cfg.filters, cfg.head_width, cfg.exits);
    anyhow::ensure!(
        ds.num_classes as usize == template.classes.len(),
        "{}: has {} classes; the search's card uses the {} Cityscapes classes",
        ds.root.display(),
        ds.num_classes,
        template.classes.len()
    );
    crate::fsutil::prepare_run_dir(&files.dir)?;
    let early = early_exits(cfg.exits);
    let mut exit_cells = early.clone();
    exit_cells.push(CELLS - 1);
    let (ds_a, ds_b) = split_halves(ds, cfg.seed)?;

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let net = Supernet::load(&template, &exit_cells, cfg.cell_search, &vb)?;
    let (init, beta0, start, mut history, mut acc, momentum, adam_state, alpha_state) = if resume {
        load_state(files, cfg)?
    } else {
        anyhow::ensure!(
            !files.checkpoint().exists(),
            "{} exists: pass --resume to continue it, or choose another --out",
            files.checkpoint().display()
        );
        let shapes = {
            let data = varmap.data().lock().expect("varmap lock");
            data.iter().map(|(n, v)| (n.clone(), v.dims().to_vec())).collect()
        };
        let init = crate::network::init::random_init(shapes, cfg.seed)?;
        let alpha = cfg.cell_search.then(|| {
            let a = cell_search::initial_alpha(template.b, cfg.seed);
            Tensor::from_vec(a, (cell_search::edges(template.b), cell_search::OPS), &Device::Cpu).map(|t| (t, None))
        });
        let alpha = alpha.transpose()?;
        (init, initial_beta(cfg.seed)?, 0, Vec::new(), EpochAcc::default(), HashMap::new(), None, alpha)
    };
    {
        let data = varmap.data().lock().expect("varmap lock");
        for (name, var) in data.iter() {
            let t = init
                .get(name)
                .with_context(|| format!("{}: lacks supernet tensor `{name}`", files.checkpoint().display()))?;
            anyhow::ensure!(
                t.dims() == var.dims(),
                "{}: `{name}` has shape {:?}, expected {:?}",
                files.checkpoint().display(),
                t.dims(),
                var.dims()
            );
            var.set(&t.to_device(device)?)?;
        }
    }
    let beta = Var::from_tensor(&beta0.to_device(device)?)?;
    let mut sgd = Sgd::new(trainable(&varmap), cfg.momentum, cfg.weight_decay);
    sgd.buffers =
        momentum.into_iter().map(|(n, t)| Ok((n, t.to_device(device)?))).collect::<candle_core::Result<_>>()?;
    let mut adam = Adam::new(&beta, cfg.arch_lr)?;
    if let Some((t, m, v)) = adam_state {
        adam.t = t;
        adam.m = m.to_device(device)?;
        adam.v = v.to_device(device)?;
    }
    let alpha = match alpha_state {
        Some((a0, state)) => {
            let var = Var::from_tensor(&a0.to_device(device)?)?;
            let mut adam = Adam::new(&var, cfg.arch_lr)?;
            if let Some((t, m, v)) = state {
                adam.t = t;
                adam.m = m.to_device(device)?;
                adam.v = v.to_device(device)?;
            }
            Some((var, adam))
        }
        None => None,
    };
    let mut run = Run { varmap, net, beta, sgd, adam, alpha };

    crate::train::interrupt::install();
    let aug = AugmentParams { scale: cfg.scale, crop: cfg.crop, ..AugmentParams::default() };
    let norm = &template.normalization;
    let total = cfg.total_steps();
    let bar = indicatif::ProgressBar::new(total as u64).with_position(start as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} step {pos}/{len} {msg} [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    for step in start..total {
        let interrupted = crate::train::interrupt::requested();
        if interrupted || until == Some(step) {
            save_state(files, &run, cfg, step, &history, &acc)?;
            let why = if interrupted { "interrupted" } else { "paused" };
            bar.abandon_with_message(format!("{why}: checkpoint at step {step} saved; --resume continues"));
            return Ok(Outcome::Paused(step));
        }
        let ts = Instant::now();
        let epoch = step / cfg.steps_per_epoch;
        let lr = poly_lr(cfg.lr, step, total);
        // weights on half A
        let b = batch(&ds_a, cfg.batch, &aug, norm, cfg.seed, step, device)?;
        let w = trellis::normalise_tensor(run.beta.as_tensor())?;
        let ops = run.op_weights()?;
        let (loss, _) = multi_exit_loss(&run.net.forward_t(&b.images, &w, ops.as_ref(), true)?, &b.labels)?;
        run.sgd.step(&loss.backward()?, lr)?;
        let loss = loss.to_scalar::<f32>()? as f64;
        anyhow::ensure!(loss.is_finite(), "weight loss became {loss} at step {step}: lower --lr");
        acc.loss_sum += loss;
        acc.loss_n += 1;
        let mut images = cfg.batch;
        // architecture on half B, after the warm-up
        let mut arch = None;
        if epoch >= cfg.warmup {
            let b = batch(&ds_b, cfg.batch, &aug, norm, cfg.seed ^ ARCH_STREAM, step, device)?;
            let w = trellis::normalise_tensor(run.beta.as_tensor())?;
            let ops = run.op_weights()?;
            let (arch_loss, _) = multi_exit_loss(&run.net.forward_t(&b.images, &w, ops.as_ref(), true)?, &b.labels)?;
            let grads = arch_loss.backward()?;
            let g = grads.get(run.beta.as_tensor()).context("beta received no gradient")?;
            run.adam.step(&run.beta, g)?;
            if let Some((alpha, adam)) = &mut run.alpha {
                adam.step(alpha, grads.get(alpha.as_tensor()).context("alpha received no gradient")?)?;
            }
            let a = arch_loss.to_scalar::<f32>()? as f64;
            anyhow::ensure!(a.is_finite(), "architecture loss became {a} at step {step}: lower --arch-lr");
            acc.arch_sum += a;
            acc.arch_n += 1;
            arch = Some(a);
            images += cfg.batch;
        }
        let secs = ts.elapsed().as_secs_f64();
        acc.seconds += secs;
        let arch_msg = arch.map(|a| format!(" arch {a:.4}")).unwrap_or_default();
        bar.set_message(format!(
            "epoch {}/{} loss {loss:.4}{arch_msg} lr {lr:.4} {:.2} img/s",
            epoch + 1,
            cfg.epochs,
            images as f64 / secs
        ));
        bar.inc(1);
        if (step + 1) % cfg.steps_per_epoch == 0 {
            let record = end_epoch(&run, epoch + 1, step + 1, &acc, &early)?;
            // through `suspend`, so the line also appears when the bar is hidden (not a terminal)
            let changed = history.last().map(|prev: &EpochRecord| cells_changed(&prev.path, &record.path));
            bar.suspend(|| {
                println!(
                    "epoch {}: loss {:.4}{} path {:?}{} decided {:.2} ({:.1} s)",
                    record.epoch,
                    record.loss,
                    record.arch_loss.map(|a| format!(" arch {a:.4}")).unwrap_or_default(),
                    record.path,
                    changed.map(|c| format!(" ({c} cells changed)")).unwrap_or_default(),
                    trellis::decisiveness(&record.beta),
                    record.seconds
                )
            });
            history.push(record);
            acc = EpochAcc::default();
            save_state(files, &run, cfg, step + 1, &history, &acc)?;
            write_outputs(files, cfg, &template, &exit_cells, &history)?;
        }
    }
    let card = write_outputs(files, cfg, &template, &exit_cells, &history)?;
    bar.finish_with_message(format!(
        "done: path {:?}, exits {:?} -> {}",
        card.path,
        card.exits,
        files.card().display()
    ));
    if let Some(warning) = undecided_warning(&history) {
        eprintln!("warning: {warning}");
    }
    Ok(Outcome::Finished(card))
}

/// Cells whose level differs between two decoded paths.
pub fn cells_changed(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

/// Below this [`trellis::decisiveness`] a finished search's path is reported as undecided.
pub const UNDECIDED_BELOW: f64 = 0.25;

/// What to tell the user when the final path is not to be trusted: beta still close to
/// uniform, or the path still changing in the last epoch.
pub fn undecided_warning(history: &[EpochRecord]) -> Option<String> {
    let last = history.last()?;
    let d = trellis::decisiveness(&last.beta);
    let changed = history.len().checked_sub(2).map(|i| cells_changed(&history[i].path, &last.path)).unwrap_or(0);
    (d < UNDECIDED_BELOW || changed > 0).then(|| {
        format!(
            "the path is not settled: beta is {d:.2} of the way from uniform to one edge per node \
             (below {UNDECIDED_BELOW} the decoded path is mostly noise) and {changed} cell(s) changed level in \
             the last epoch. Short searches decode noise (on this CPU, two seeds of 6 x 15 steps agreed on 3 to \
             5 of the 12 cells); search longer, or raise --arch-lr, until the path stops changing."
        )
    })
}

/// Decodes beta at the end of an epoch into its history record.
fn end_epoch(run: &Run, epoch: usize, step: usize, acc: &EpochAcc, early: &[usize]) -> anyhow::Result<EpochRecord> {
    let beta = trellis::beta_from_tensor(&run.beta.as_tensor().to_device(&Device::Cpu)?)?;
    let weights = trellis::normalise(&beta);
    let path = trellis::viterbi(&weights, early);
    let alpha = match &run.alpha {
        Some((a, _)) => Some(a.as_tensor().to_device(&Device::Cpu)?.to_vec2::<f32>()?),
        None => None,
    };
    let op_weights = alpha.as_deref().map(cell_search::normalise);
    let genotype = op_weights.as_deref().map(|w| cell_search::decode(w, run.net.card.b));
    Ok(EpochRecord {
        epoch,
        step,
        beta,
        path_weight: trellis::path_weight(&weights, &path),
        weights,
        path,
        loss: acc.loss_sum / acc.loss_n.max(1) as f64,
        arch_loss: (acc.arch_n > 0).then(|| acc.arch_sum / acc.arch_n as f64),
        seconds: acc.seconds,
        alpha,
        op_weights,
        genotype,
    })
}

/// Writes the card of the latest decoded path and the history, atomically. Returns the card.
fn write_outputs(
    files: &SearchFiles,
    cfg: &SearchConfig,
    template: &ArchCard,
    exit_cells: &[usize],
    history: &[EpochRecord],
) -> anyhow::Result<ArchCard> {
    let last = history.last().context("no epoch finished")?;
    let mut template = template.clone();
    if let Some(g) = &last.genotype {
        template.genotype = g.clone();
    }
    let card = searched_card(&template, &last.path, &exit_cells[..exit_cells.len() - 1])?;
    crate::fsutil::atomic_write(&files.card(), card.to_json().as_bytes())
        .with_context(|| format!("{}: cannot write", files.card().display()))?;
    let h = History {
        config: cfg.clone(),
        exit_cells: exit_cells.to_vec(),
        head_level: HEAD_LEVEL,
        epochs: history.to_vec(),
    };
    let text = serde_json::to_string_pretty(&h)?;
    crate::fsutil::atomic_write(&files.history(), text.as_bytes())
        .with_context(|| format!("{}: cannot write", files.history().display()))?;
    Ok(card)
}

fn save_state(
    files: &SearchFiles,
    run: &Run,
    cfg: &SearchConfig,
    step: usize,
    history: &[EpochRecord],
    acc: &EpochAcc,
) -> anyhow::Result<()> {
    let mut all = run.weights()?;
    for (n, b) in &run.sgd.buffers {
        all.insert(format!("{MOMENTUM_PREFIX}{n}"), b.to_device(&Device::Cpu)?);
    }
    all.insert(BETA.into(), run.beta.as_tensor().to_device(&Device::Cpu)?);
    all.insert(ADAM_M.into(), run.adam.m.to_device(&Device::Cpu)?);
    all.insert(ADAM_V.into(), run.adam.v.to_device(&Device::Cpu)?);
    if let Some((alpha, adam)) = &run.alpha {
        all.insert(ALPHA.into(), alpha.as_tensor().to_device(&Device::Cpu)?);
        all.insert(ALPHA_M.into(), adam.m.to_device(&Device::Cpu)?);
        all.insert(ALPHA_V.into(), adam.v.to_device(&Device::Cpu)?);
    }
    let state = SearchState {
        step,
        adam_t: run.adam.t,
        config: cfg.clone(),
        history: history.to_vec(),
        acc: acc.clone(),
        alpha_adam_t: run.alpha.as_ref().map_or(0, |(_, adam)| adam.t),
    };
    let meta = HashMap::from([(STATE_KEY.to_string(), serde_json::to_string(&state)?)]);
    // the embedded card is the supernet's template (a valid card; the found one is arch.json)
    checkpoint::save_with_metadata(&files.checkpoint(), &run.net.card, &all, meta)?;
    Ok(())
}

type AdamState = Option<(usize, Tensor, Tensor)>;
/// Alpha and its Adam state (none before the first architecture step), in a cell search.
type AlphaState = Option<(Tensor, AdamState)>;
type Resumed = (
    HashMap<String, Tensor>,
    Tensor,
    usize,
    Vec<EpochRecord>,
    EpochAcc,
    HashMap<String, Tensor>,
    AdamState,
    AlphaState,
);

fn load_state(files: &SearchFiles, cfg: &SearchConfig) -> anyhow::Result<Resumed> {
    let path = files.checkpoint();
    anyhow::ensure!(
        path.exists(),
        "{}: no search checkpoint to resume (run without --resume to start one)",
        path.display()
    );
    let file = TensorFile::read(&path)?;
    let state: SearchState = serde_json::from_str(
        file.metadata
            .get(STATE_KEY)
            .with_context(|| format!("{}: not a search checkpoint (no search state)", path.display()))?,
    )
    .with_context(|| format!("{}: unreadable search state", path.display()))?;
    anyhow::ensure!(
        state.config == *cfg,
        "{}: was started with other settings ({:?}); resume with the same ones",
        path.display(),
        state.config
    );
    let (mut weights, mut momentum) = (HashMap::new(), HashMap::new());
    let (mut beta, mut m, mut v) = (None, None, None);
    let (mut alpha, mut am, mut av) = (None, None, None);
    for (n, t) in file.tensors {
        match n.as_str() {
            BETA => beta = Some(t),
            ADAM_M => m = Some(t),
            ADAM_V => v = Some(t),
            ALPHA => alpha = Some(t),
            ALPHA_M => am = Some(t),
            ALPHA_V => av = Some(t),
            _ => match n.strip_prefix(MOMENTUM_PREFIX) {
                Some(name) => {
                    momentum.insert(name.to_string(), t);
                }
                None => {
                    weights.insert(n, t);
                }
            },
        }
    }
    let missing = |what: &str| anyhow::anyhow!("{}: search checkpoint lacks `{what}`", path.display());
    let beta = beta.ok_or_else(|| missing(BETA))?;
    anyhow::ensure!(beta.dims() == [CELLS, LEVELS, RATES], "{}: beta has shape {:?}", path.display(), beta.dims());
    let adam = Some((state.adam_t, m.ok_or_else(|| missing(ADAM_M))?, v.ok_or_else(|| missing(ADAM_V))?));
    let alpha = if cfg.cell_search {
        let alpha = alpha.ok_or_else(|| missing(ALPHA))?;
        let shape = [cell_search::edges(template_card(cfg.filters, cfg.head_width, cfg.exits).b), cell_search::OPS];
        anyhow::ensure!(
            alpha.dims() == shape,
            "{}: alpha has shape {:?}, expected {shape:?}",
            path.display(),
            alpha.dims()
        );
        let adam = (state.alpha_adam_t, am.ok_or_else(|| missing(ALPHA_M))?, av.ok_or_else(|| missing(ALPHA_V))?);
        Some((alpha, Some(adam)))
    } else {
        None
    };
    Ok((weights, beta, state.step, state.history, state.acc, momentum, adam, alpha))
}

/// Reads a finished or paused search's history file.
pub fn read_history(path: &Path) -> anyhow::Result<History> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a search history", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::datasets::{OnBad, cityscapes};
    use crate::data::synth::writer::{DatasetPlan, write_dataset};

    fn dataset(dir: &Path) -> Dataset {
        let plan = DatasetPlan {
            out: dir.to_path_buf(),
            count: 4,
            width: 128,
            height: 96,
            seed: 9,
            val_fraction: 0.0,
            difficulty: (0.0, 0.5),
        };
        write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
        cityscapes::open(dir, "train", OnBad::Fail).unwrap()
    }

    fn cfg(epochs: usize) -> SearchConfig {
        SearchConfig {
            filters: 2,
            head_width: 8,
            exits: 2,
            epochs,
            warmup: 1,
            steps_per_epoch: 1,
            batch: 2,
            crop: (65, 65),
            scale: (0.75, 1.25),
            lr: 0.02,
            momentum: 0.9,
            weight_decay: 1e-4,
            arch_lr: 3e-3,
            seed: 4,
            cell_search: false,
        }
    }

    fn beta_of(files: &SearchFiles) -> Vec<f32> {
        let f = TensorFile::read(&files.checkpoint()).unwrap();
        f.tensors[BETA].flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn a_two_step_search_writes_a_valid_card_and_history() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(&tmp.path().join("data"));
        let files = SearchFiles { dir: tmp.path().join("s") };
        let out = search(&ds, &cfg(2), &files, false, None, &Device::Cpu).unwrap();
        let Outcome::Finished(card) = out else { panic!("not finished: {out:?}") };
        let loaded = ArchCard::load(&files.card()).unwrap();
        assert_eq!(loaded, card);
        assert_eq!(card.exits, vec![5]);
        assert_eq!(card.path.len(), 12);
        assert_eq!((card.f, card.head.width, card.low_level_cell), (2, 8, 0));
        let h = read_history(&files.history()).unwrap();
        assert_eq!(h.epochs.len(), 2);
        assert_eq!(h.exit_cells, vec![5, 11]);
        assert!(h.epochs[0].arch_loss.is_none(), "epoch 1 is warm-up");
        assert!(h.epochs[1].arch_loss.is_some(), "epoch 2 searches beta");
        assert_ne!(h.epochs[0].beta, h.epochs[1].beta, "beta moved after the warm-up");
        assert_eq!(h.epochs[1].path, card.path);
        // two steps decide nothing, and the search says so; a settled history passes
        let w = undecided_warning(&h.epochs).expect("a two-step search is not settled");
        assert!(w.contains("not settled"), "{w}");
        let mut settled = h.epochs.clone();
        settled[0].path = settled[1].path.clone();
        for cell in settled[1].beta.iter_mut() {
            for node in cell.iter_mut() {
                node[1] = 20.0;
            }
        }
        assert!(undecided_warning(&settled).is_none());
        // nothing half-written left behind
        let stray: Vec<_> = std::fs::read_dir(&files.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }

    #[test]
    fn a_cell_search_decodes_alpha_into_the_card_and_resumes_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(&tmp.path().join("data"));
        let cfg = SearchConfig { cell_search: true, arch_lr: 0.05, ..cfg(3) };
        let straight = SearchFiles { dir: tmp.path().join("a") };
        let Outcome::Finished(card) = search(&ds, &cfg, &straight, false, None, &Device::Cpu).unwrap() else {
            panic!("not finished")
        };
        let h = read_history(&straight.history()).unwrap();
        let last = h.epochs.last().unwrap();
        let (first, alpha) = (h.epochs[0].alpha.clone().unwrap(), last.alpha.clone().unwrap());
        assert_eq!((alpha.len(), alpha[0].len()), (20, 8));
        assert_ne!(first, alpha, "alpha moved after the warm-up");
        assert_eq!(last.genotype.as_ref(), Some(&card.genotype), "the card carries the decoded genotype");
        assert_eq!(card.genotype, cell_search::decode(last.op_weights.as_ref().unwrap(), 5));
        ArchCard::load(&straight.card()).unwrap().validate().unwrap();
        // paused after one architecture step and resumed: alpha and its Adam state survive
        let paused = SearchFiles { dir: tmp.path().join("b") };
        assert!(matches!(search(&ds, &cfg, &paused, false, Some(2), &Device::Cpu).unwrap(), Outcome::Paused(2)));
        let plain = SearchConfig { cell_search: false, ..cfg.clone() };
        assert!(
            search(&ds, &plain, &paused, true, None, &Device::Cpu).unwrap_err().to_string().contains("other settings")
        );
        search(&ds, &cfg, &paused, true, None, &Device::Cpu).unwrap();
        let resumed = read_history(&paused.history()).unwrap().epochs.last().unwrap().alpha.clone().unwrap();
        let diff =
            alpha.iter().flatten().zip(resumed.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-7, "resumed alpha differs by {diff}");
    }

    #[test]
    fn paused_and_resumed_equals_uninterrupted() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(&tmp.path().join("data"));
        let straight = SearchFiles { dir: tmp.path().join("a") };
        search(&ds, &cfg(3), &straight, false, None, &Device::Cpu).unwrap();
        let paused = SearchFiles { dir: tmp.path().join("b") };
        // pause after one architecture update, so Adam's state must survive the restart
        assert!(matches!(search(&ds, &cfg(3), &paused, false, Some(2), &Device::Cpu).unwrap(), Outcome::Paused(2)));
        assert!(search(&ds, &cfg(3), &paused, false, None, &Device::Cpu).unwrap_err().to_string().contains("--resume"));
        assert!(
            search(&ds, &cfg(4), &paused, true, None, &Device::Cpu).unwrap_err().to_string().contains("other settings")
        );
        search(&ds, &cfg(3), &paused, true, None, &Device::Cpu).unwrap();
        let (a, b) = (beta_of(&straight), beta_of(&paused));
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-7, "resumed beta differs by {diff}");
        let (ha, hb) = (read_history(&straight.history()).unwrap(), read_history(&paused.history()).unwrap());
        let paths = |h: &History| h.epochs.iter().map(|e| (e.path.clone(), e.loss)).collect::<Vec<_>>();
        assert_eq!(paths(&ha).len(), 3);
        for ((pa, la), (pb, lb)) in paths(&ha).iter().zip(&paths(&hb)) {
            assert_eq!(pa, pb);
            assert!((la - lb).abs() < 1e-5, "epoch loss {la} vs {lb}");
        }
        // and beta did move away from its start (the comparison above is not vacuous)
        let first = ha.epochs[0].beta.iter().flatten().flatten().copied().collect::<Vec<_>>();
        assert_ne!(first, a);
    }
}
