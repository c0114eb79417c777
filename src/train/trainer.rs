//! `add train`: trains ADD (every exit, loss averaged over exits) or the Auto-DeepLab baseline
//! (one exit) with SGD + poly lr, optionally Nesterov's momentum and class-balanced weights (the
//! reference's distributed recipe; `pytorch/add_torch` trains the same way on GPUs).
//! The loop, checkpoints and resume are [`crate::fit`]'s: checkpoints are written atomically
//! every N steps and on Ctrl-C; `--resume` continues exactly (weights, momentum, step, and the
//! batches, which depend only on seed and step); a CSV log records every step.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::data::augment::AugmentParams;
use crate::data::datasets::Dataset;
use crate::fit::batches::batch;
use crate::fit::checkpoint::{self, Kind, RunFolder};
use crate::fit::loss::weighted_multi_exit_loss;
use crate::fit::optim::{Sgd, poly_lr};
use crate::fit::{Ended, Steps, vars};
use crate::network::checkpoint::TensorFile;
use crate::network::{AddNet, ArchCard, BuildMode};

/// Everything that defines a training run (saved in its checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    /// Crop (height, width).
    pub crop: (u32, u32),
    /// Random scale range applied before cropping.
    pub scale: (f32, f32),
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub checkpoint_every: usize,
    /// Loss weight per class (empty: unweighted); computed once from the train labels.
    #[serde(default)]
    pub class_weights: Vec<f32>,
    #[serde(default)]
    pub nesterov: bool,
}

/// Where a run keeps its files.
pub struct RunFiles {
    pub dir: PathBuf,
}

impl RunFolder for RunFiles {
    /// The checkpoint holds weights, momentum and step.
    const KIND: Kind = Kind { checkpoint: "checkpoint.safetensors", key: "add_studio.train_state", name: "training" };
    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl RunFiles {
    /// Weights and card only: what the app and `add infer` load.
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("train_log.csv")
    }
}

#[derive(Serialize, Deserialize)]
struct TrainState {
    step: usize,
    config: TrainConfig,
}

/// A network being trained: its variables and the built modules.
pub struct Trainee {
    pub card: ArchCard,
    pub varmap: VarMap,
    pub net: AddNet,
}

impl Trainee {
    /// Builds the network on fresh variables initialised from `init` (every tensor the card
    /// needs, by name).
    pub fn new(card: &ArchCard, init: &HashMap<String, Tensor>, device: &Device) -> anyhow::Result<Trainee> {
        let varmap = VarMap::new();
        let net = AddNet::load(card, VarBuilder::from_varmap(&varmap, DType::F32, device), BuildMode::Unfolded)?;
        vars::assign(&varmap, init, device, "initial weights")?;
        Ok(Trainee { card: card.clone(), varmap, net })
    }

    /// Trainable variables by name (BatchNorm running statistics excluded).
    pub fn trainable(&self) -> Vec<(String, Var)> {
        vars::trainable(&self.varmap)
    }

    /// Every variable's current value, by name (CPU copies).
    pub fn tensors(&self) -> anyhow::Result<HashMap<String, Tensor>> {
        Ok(vars::values(&self.varmap)?)
    }
}

/// A training run as `add train` and `add pipeline` start it.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub card: ArchCard,
    /// Dataset root; its train split is read.
    pub data: PathBuf,
    /// The run folder.
    pub out: PathBuf,
    /// The settings; [`run`] fills in `class_weights` when `balance_classes`.
    pub config: TrainConfig,
    /// Weight each class's loss by 1 / ln(1.02 + its pixel frequency in the train labels).
    pub balance_classes: bool,
    pub resume: bool,
    /// Pause at this step (checkpoint saved).
    pub until: Option<usize>,
    /// Leave out (and report) unpaired or unreadable samples instead of stopping.
    pub skip_bad: bool,
    /// Device: cpu, cuda, cuda:N, metal or auto.
    pub device: String,
}

/// Runs a training job: opens the data, counts the class weights, picks the device, trains.
pub fn run(job: TrainJob) -> anyhow::Result<()> {
    let mut cfg = job.config;
    anyhow::ensure!(cfg.batch >= 2, "--batch must be at least 2 (BatchNorm needs more than one value per channel)");
    let ds = crate::data::datasets::open_for_command(&job.data, "train", job.skip_bad, &job.card.palette())?;
    let files = RunFiles { dir: job.out };
    if job.balance_classes {
        cfg.class_weights = run_class_weights(&files, &ds, job.card.classes.len(), job.resume)?;
    }
    let device = crate::engine::device::select(Some(&job.device)).map_err(anyhow::Error::msg)?;
    train(&job.card, &ds, &cfg, &files, job.resume, job.until, &device)
}

/// The class weights of a run: the ones its checkpoint was started with when resuming (counting
/// again would give the same numbers, at the cost of reading every label), else counted now.
fn run_class_weights(files: &RunFiles, ds: &Dataset, classes: usize, resume: bool) -> anyhow::Result<Vec<f32>> {
    if resume && files.checkpoint().exists() {
        let file = TensorFile::read(&files.checkpoint())?;
        if file.metadata.contains_key(RunFiles::KIND.key) {
            let state: TrainState = checkpoint::state(&file, &RunFiles::KIND)?;
            if !state.config.class_weights.is_empty() {
                return Ok(state.config.class_weights);
            }
        }
    }
    let counts = super::class_weights::class_counts(ds, classes)?;
    Ok(super::class_weights::reference_weights(&counts))
}

/// Trains `card` on `ds` into `files.dir`, resuming from its checkpoint when `resume`, and
/// pausing (checkpoint saved) at step `until` when given, so long runs can span sessions.
pub fn train(
    card: &ArchCard,
    ds: &Dataset,
    cfg: &TrainConfig,
    files: &RunFiles,
    resume: bool,
    until: Option<usize>,
    device: &Device,
) -> anyhow::Result<()> {
    checkpoint::begin(files, resume)?;
    let (init, start, momentum) = if resume {
        let r = resume_from(files, card, cfg)?;
        (r.tensors, r.state.step, r.momentum)
    } else {
        (crate::network::init::random_tensors(card, cfg.seed)?, 0, HashMap::new())
    };
    let trainee = Trainee::new(card, &init, device)?;
    let mut opt = Sgd::new(trainee.trainable(), cfg.momentum, cfg.weight_decay);
    opt.nesterov = cfg.nesterov;
    opt.restore(momentum, device)?;
    let class_weights =
        (!cfg.class_weights.is_empty()).then(|| Tensor::new(cfg.class_weights.as_slice(), device)).transpose()?;
    let mut run = Training {
        log: open_log(files, card.num_exits(), start)?,
        aug: AugmentParams { scale: cfg.scale, crop: cfg.crop, ..AugmentParams::default() },
        t0: Instant::now(),
        trainee,
        opt,
        class_weights,
        ds,
        cfg,
        files,
        device,
    };
    if let Ended::Finished(bar) = crate::fit::drive(&mut run, start, cfg.steps, until)? {
        bar.finish_with_message(format!("done: {}", files.model().display()));
    }
    Ok(())
}

/// A run in flight: what each step reads and updates.
struct Training<'a> {
    trainee: Trainee,
    opt: Sgd,
    class_weights: Option<Tensor>,
    log: std::fs::File,
    aug: AugmentParams,
    t0: Instant,
    ds: &'a Dataset,
    cfg: &'a TrainConfig,
    files: &'a RunFiles,
    device: &'a Device,
}

impl Steps for Training<'_> {
    fn step(&mut self, step: usize, bar: &ProgressBar) -> anyhow::Result<()> {
        let (cfg, card) = (self.cfg, &self.trainee.card);
        let ts = Instant::now();
        let b = batch(self.ds, cfg.batch, &self.aug, &card.normalization, cfg.seed, step, self.device)?;
        let t_data = ts.elapsed().as_secs_f64();
        let outs = self.trainee.net.forward_t(&b.images, true)?;
        let (loss, per_exit) = weighted_multi_exit_loss(&outs, &b.labels, self.class_weights.as_ref())?;
        let t_fwd = ts.elapsed().as_secs_f64();
        let lr = poly_lr(cfg.lr, step, cfg.steps);
        let grads = loss.backward()?;
        let t_bwd = ts.elapsed().as_secs_f64();
        self.opt.step(&grads, lr)?;
        let loss = loss.to_scalar::<f32>()?;
        anyhow::ensure!(loss.is_finite(), "loss became {loss} at step {step}: lower --lr");
        let ips = cfg.batch as f64 / ts.elapsed().as_secs_f64();
        let exits: String = per_exit.iter().map(|l| format!(",{l:.5}")).collect();
        let t_all = ts.elapsed().as_secs_f64();
        writeln!(
            self.log,
            "{step},{loss:.5}{exits},{lr:.6},{ips:.3},{t_data:.3},{:.3},{:.3},{:.3},{:.1}",
            t_fwd - t_data,
            t_bwd - t_fwd,
            t_all - t_bwd,
            self.t0.elapsed().as_secs_f64()
        )?;
        bar.set_message(format!("loss {loss:.4} lr {lr:.4} {ips:.2} img/s"));
        Ok(())
    }

    fn stepped(&mut self, done: usize, _: &ProgressBar) -> anyhow::Result<()> {
        if done % self.cfg.checkpoint_every == 0 || done == self.cfg.steps {
            self.save(done)?;
        }
        Ok(())
    }

    /// The log so far, the model, and the checkpoint (model plus momentum and state).
    fn save(&mut self, step: usize) -> anyhow::Result<()> {
        self.log.flush()?;
        let weights = self.trainee.tensors()?;
        crate::network::checkpoint::save(&self.files.model(), &self.trainee.card, &weights)?;
        let state = TrainState { step, config: self.cfg.clone() };
        checkpoint::write(&self.files.checkpoint(), &self.trainee.card, &RunFiles::KIND, &state, weights, &self.opt)
    }
}

fn open_log(files: &RunFiles, exits: usize, start: usize) -> anyhow::Result<std::fs::File> {
    let path = files.log();
    // keep the rows of the steps before `start` (a resumed run rewrites what came after)
    let kept: Vec<String> = if start > 0 && path.exists() {
        std::fs::read_to_string(&path)?
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                *i == 0 || l.split(',').next().and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s < start)
            })
            .map(|(_, l)| l.to_string())
            .collect()
    } else {
        let exits: String = (0..exits).map(|k| format!(",loss_exit{k}")).collect();
        vec![format!("step,loss{exits},lr,images_per_s,data_s,forward_s,backward_s,update_s,elapsed_s")]
    };
    let mut f = std::fs::File::create(&path).with_context(|| format!("{}: cannot write", path.display()))?;
    for l in kept {
        writeln!(f, "{l}")?;
    }
    Ok(f)
}

/// The step a training checkpoint was saved at.
pub fn checkpoint_step(path: &Path) -> anyhow::Result<usize> {
    let state: TrainState = checkpoint::state(&TensorFile::read(path)?, &RunFiles::KIND)?;
    Ok(state.step)
}

/// The checkpoint of `files`, refused when it was trained with another card or settings.
fn resume_from(
    files: &RunFiles,
    card: &ArchCard,
    cfg: &TrainConfig,
) -> anyhow::Result<checkpoint::Resumed<TrainState>> {
    let path = files.checkpoint();
    let r = checkpoint::read::<TrainState>(&path, &RunFiles::KIND)?;
    anyhow::ensure!(r.card.as_ref() == Some(card), "{}: was trained with another architecture card", path.display());
    checkpoint::same_settings(&path, &r.state.config, cfg)?;
    Ok(r)
}
