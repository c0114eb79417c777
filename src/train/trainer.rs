//! `add train`: trains ADD (every exit, loss averaged over exits) or the Auto-DeepLab baseline
//! (one exit) with SGD + poly lr, optionally Nesterov's momentum and class-balanced weights (the
//! reference's distributed recipe; `pytorch/add_torch` trains the same way on GPUs).
//! Checkpoints are written atomically every N steps and on Ctrl-C; `--resume` continues exactly
//! (weights, momentum, step, and the batches, which depend only on seed and step); a CSV log
//! records every step.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::batches::batch;
use super::loss::weighted_multi_exit_loss;
use super::optim::{Sgd, poly_lr};
use crate::data::augment::AugmentParams;
use crate::network::checkpoint::{self, TensorFile};
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

impl RunFiles {
    /// Weights, momentum and step: what `--resume` reads.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }
    /// Weights and card only: what the app and `add infer` load.
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("train_log.csv")
    }
}

const STATE_KEY: &str = "add_studio.train_state";
const MOMENTUM_PREFIX: &str = "momentum.";

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
        {
            let data = varmap.data().lock().expect("varmap lock");
            for (name, var) in data.iter() {
                let t = init.get(name).with_context(|| format!("initial weights lack `{name}`"))?;
                var.set(&t.to_device(device)?)?;
            }
        }
        Ok(Trainee { card: card.clone(), varmap, net })
    }

    /// Trainable variables by name (BatchNorm running statistics excluded).
    pub fn trainable(&self) -> Vec<(String, Var)> {
        let data = self.varmap.data().lock().expect("varmap lock");
        let mut v: Vec<_> = data
            .iter()
            .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Every variable's current value, by name (CPU copies).
    pub fn tensors(&self) -> anyhow::Result<HashMap<String, Tensor>> {
        let data = self.varmap.data().lock().expect("varmap lock");
        data.iter().map(|(n, v)| Ok((n.clone(), v.as_tensor().to_device(&Device::Cpu)?))).collect()
    }
}

/// Trains `card` on `ds` into `files.dir`, resuming from its checkpoint when `resume`, and
/// pausing (checkpoint saved) at step `until` when given, so long runs can span sessions.
pub fn train(
    card: &ArchCard,
    ds: &crate::data::datasets::Dataset,
    cfg: &TrainConfig,
    files: &RunFiles,
    resume: bool,
    until: Option<usize>,
    device: &Device,
) -> anyhow::Result<()> {
    crate::fsutil::prepare_run_dir(&files.dir)?;
    let (init, start, momentum) = if resume {
        load_state(files, card, cfg)?
    } else {
        anyhow::ensure!(
            !files.checkpoint().exists(),
            "{} exists: pass --resume to continue it, or choose another --out",
            files.checkpoint().display()
        );
        (crate::network::init::random_tensors(card, cfg.seed)?, 0, HashMap::new())
    };
    let trainee = Trainee::new(card, &init, device)?;
    let mut opt = Sgd::new(trainee.trainable(), cfg.momentum, cfg.weight_decay);
    opt.nesterov = cfg.nesterov;
    let class_weights =
        (!cfg.class_weights.is_empty()).then(|| Tensor::new(cfg.class_weights.as_slice(), device)).transpose()?;
    opt.buffers =
        momentum.into_iter().map(|(n, t)| Ok((n, t.to_device(device)?))).collect::<candle_core::Result<_>>()?;
    crate::train::interrupt::install();
    let mut log = open_log(files, card.num_exits(), start)?;
    let aug = AugmentParams { scale: cfg.scale, crop: cfg.crop, ..AugmentParams::default() };
    let bar = indicatif::ProgressBar::new(cfg.steps as u64).with_position(start as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} step {pos}/{len} {msg} [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let t0 = Instant::now();
    for step in start..cfg.steps {
        let interrupted = crate::train::interrupt::requested();
        if interrupted || until == Some(step) {
            log.flush()?;
            save_state(files, &trainee, &opt, cfg, step)?;
            let why = if interrupted { "interrupted" } else { "paused" };
            bar.abandon_with_message(format!("{why}: checkpoint at step {step} saved; --resume continues"));
            return Ok(());
        }
        let ts = Instant::now();
        let b = batch(ds, cfg.batch, &aug, &card.normalization, cfg.seed, step, device)?;
        let t_data = ts.elapsed().as_secs_f64();
        let outs = trainee.net.forward_t(&b.images, true)?;
        let (loss, per_exit) = weighted_multi_exit_loss(&outs, &b.labels, class_weights.as_ref())?;
        let t_fwd = ts.elapsed().as_secs_f64();
        let lr = poly_lr(cfg.lr, step, cfg.steps);
        let grads = loss.backward()?;
        let t_bwd = ts.elapsed().as_secs_f64();
        opt.step(&grads, lr)?;
        let loss = loss.to_scalar::<f32>()?;
        anyhow::ensure!(loss.is_finite(), "loss became {loss} at step {step}: lower --lr");
        let ips = cfg.batch as f64 / ts.elapsed().as_secs_f64();
        let exits: String = per_exit.iter().map(|l| format!(",{l:.5}")).collect();
        let t_all = ts.elapsed().as_secs_f64();
        writeln!(
            log,
            "{step},{loss:.5}{exits},{lr:.6},{ips:.3},{t_data:.3},{:.3},{:.3},{:.3},{:.1}",
            t_fwd - t_data,
            t_bwd - t_fwd,
            t_all - t_bwd,
            t0.elapsed().as_secs_f64()
        )?;
        bar.set_message(format!("loss {loss:.4} lr {lr:.4} {ips:.2} img/s"));
        bar.inc(1);
        if (step + 1) % cfg.checkpoint_every == 0 || step + 1 == cfg.steps {
            log.flush()?;
            save_state(files, &trainee, &opt, cfg, step + 1)?;
        }
    }
    bar.finish_with_message(format!("done: {}", files.model().display()));
    Ok(())
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

fn save_state(files: &RunFiles, t: &Trainee, opt: &Sgd, cfg: &TrainConfig, step: usize) -> anyhow::Result<()> {
    let weights = t.tensors()?;
    checkpoint::save(&files.model(), &t.card, &weights)?;
    let mut all = weights;
    for (n, b) in &opt.buffers {
        all.insert(format!("{MOMENTUM_PREFIX}{n}"), b.to_device(&Device::Cpu)?);
    }
    let state = serde_json::to_string(&TrainState { step, config: cfg.clone() })?;
    checkpoint::save_with_metadata(
        &files.checkpoint(),
        &t.card,
        &all,
        HashMap::from([(STATE_KEY.to_string(), state)]),
    )?;
    Ok(())
}

/// The step a training checkpoint was saved at.
pub fn checkpoint_step(path: &Path) -> anyhow::Result<usize> {
    let file = TensorFile::read(path)?;
    let state: TrainState = serde_json::from_str(
        file.metadata
            .get(STATE_KEY)
            .with_context(|| format!("{}: not a training checkpoint (no state)", path.display()))?,
    )?;
    Ok(state.step)
}

type Resumed = (HashMap<String, Tensor>, usize, HashMap<String, Tensor>);

fn load_state(files: &RunFiles, card: &ArchCard, cfg: &TrainConfig) -> anyhow::Result<Resumed> {
    let path = files.checkpoint();
    let file = TensorFile::read(&path)?;
    let state: TrainState = serde_json::from_str(
        file.metadata
            .get(STATE_KEY)
            .with_context(|| format!("{}: not a training checkpoint (no state)", path.display()))?,
    )
    .with_context(|| format!("{}: unreadable training state", path.display()))?;
    anyhow::ensure!(file.card.as_ref() == Some(card), "{}: was trained with another architecture card", path.display());
    anyhow::ensure!(
        state.config == *cfg,
        "{}: was started with other settings ({:?}); resume with the same ones",
        path.display(),
        state.config
    );
    let (mut weights, mut momentum) = (HashMap::new(), HashMap::new());
    for (n, t) in file.tensors {
        match n.strip_prefix(MOMENTUM_PREFIX) {
            Some(m) => momentum.insert(m.to_string(), t),
            None => weights.insert(n, t),
        };
    }
    Ok((weights, state.step, momentum))
}

/// The network a training run builds (`add train`, and `add card` for other trainers).
#[derive(Debug, Clone, clap::Args)]
pub struct ShapeArgs {
    /// Architecture: a card file or a preset (add-2, add-3, add-4, autodeeplab, autodeeplab-dense).
    #[arg(long)]
    pub arch: String,
    /// Filter multiplier F when --arch is a preset.
    #[arg(long, default_value_t = 8)]
    pub filters: usize,
    /// Width of the shared head (ASPP and decoder; the reference uses 256).
    #[arg(long)]
    pub head_width: Option<usize>,
    /// Width of the stem (its output doubles it; the reference uses 64 at every F, which is
    /// most of a small model's cost).
    #[arg(long)]
    pub stem_width: Option<usize>,
}

impl ShapeArgs {
    /// `arch` (file or preset) with the head and stem narrowed as asked.
    pub fn card(&self) -> anyhow::Result<ArchCard> {
        let mut card = card_arg(&self.arch, self.filters)?;
        if let Some(w) = self.head_width {
            card.head.width = w;
            card.head.low_level_width = card.head.low_level_width.min(w);
            card.validate()?;
        }
        if let Some(w) = self.stem_width {
            card.stem = crate::network::card::StemSettings::scaled(w);
            card.validate()?;
        }
        Ok(card)
    }
}

/// Options of `add train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Dataset root in the Cityscapes layout (`add synth` writes one).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder: model.safetensors, checkpoint.safetensors, train_log.csv.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Crop HxW.
    #[arg(long, default_value = "129x257")]
    pub crop: String,
    #[arg(long, default_value_t = 0.5)]
    pub scale_min: f32,
    #[arg(long, default_value_t = 1.5)]
    pub scale_max: f32,
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    #[arg(long, default_value_t = 4e-5)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Pause at this step (checkpoint saved); `--resume` continues later.
    #[arg(long)]
    pub until: Option<usize>,
    /// Weight each class's loss by 1 / ln(1.02 + its pixel frequency in the train labels).
    #[arg(long)]
    pub class_weights: bool,
    /// Nesterov's momentum instead of plain momentum.
    #[arg(long)]
    pub nesterov: bool,
    /// Leave out (and report) unpaired or unreadable samples instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
    /// Device: cpu, cuda, cuda:N, metal or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// The class weights of a run: the ones its checkpoint was started with when resuming (counting
/// again would give the same numbers, at the cost of reading every label), else counted now.
fn run_class_weights(
    files: &RunFiles,
    ds: &crate::data::datasets::Dataset,
    classes: usize,
    resume: bool,
) -> anyhow::Result<Vec<f32>> {
    if resume && files.checkpoint().exists() {
        let file = TensorFile::read(&files.checkpoint())?;
        if let Some(state) = file.metadata.get(STATE_KEY) {
            let state: TrainState = serde_json::from_str(state)
                .with_context(|| format!("{}: unreadable training state", files.checkpoint().display()))?;
            if !state.config.class_weights.is_empty() {
                return Ok(state.config.class_weights);
            }
        }
    }
    let counts = super::class_weights::class_counts(ds, classes)?;
    Ok(super::class_weights::reference_weights(&counts))
}

/// A card from a file or a preset name.
pub fn card_arg(arch: &str, filters: usize) -> anyhow::Result<ArchCard> {
    let p = Path::new(arch);
    Ok(if p.exists() { ArchCard::load(p)? } else { ArchCard::preset(arch, filters)? })
}

/// Runs `add train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let card = args.shape.card()?;
    let (h, w) = crate::cli::info::parse_size(&args.crop)?;
    let mut cfg = TrainConfig {
        steps: args.steps,
        batch: args.batch,
        crop: (h as u32, w as u32),
        scale: (args.scale_min, args.scale_max),
        lr: args.lr,
        momentum: args.momentum,
        weight_decay: args.weight_decay,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every.max(1),
        class_weights: Vec::new(),
        nesterov: args.nesterov,
    };
    anyhow::ensure!(cfg.batch >= 2, "--batch must be at least 2 (BatchNorm needs more than one value per channel)");
    let ds = crate::data::datasets::open_for_command(&args.data, "train", args.skip_bad, &card.palette())?;
    if args.class_weights {
        cfg.class_weights =
            run_class_weights(&RunFiles { dir: args.out.clone() }, &ds, card.classes.len(), args.resume)?;
    }
    let device = crate::engine::device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    train(&card, &ds, &cfg, &RunFiles { dir: args.out }, args.resume, args.until, &device)
}
