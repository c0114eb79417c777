//! `add train`: the options of training ([`crate::train::trainer`]), turned into a [`TrainJob`].

use std::path::PathBuf;

use crate::data::size::parse_size;
use crate::network::ArchCard;
use crate::train::shape::Shape;
use crate::train::trainer::{TrainConfig, TrainJob};

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
    /// The shape asked for.
    pub fn shape(&self) -> Shape {
        Shape {
            arch: self.arch.clone(),
            filters: self.filters,
            head_width: self.head_width,
            stem_width: self.stem_width,
        }
    }

    /// `arch` (file or preset) with the head and stem narrowed as asked.
    pub fn card(&self) -> anyhow::Result<ArchCard> {
        self.shape().card()
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

impl TrainArgs {
    /// The job these options describe.
    pub fn job(self) -> anyhow::Result<TrainJob> {
        let card = self.shape.card()?;
        let crop = parse_size("--crop", &self.crop)?;
        let config = TrainConfig {
            steps: self.steps,
            batch: self.batch,
            crop,
            scale: (self.scale_min, self.scale_max),
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            seed: self.seed,
            checkpoint_every: self.checkpoint_every.max(1),
            class_weights: Vec::new(),
            nesterov: self.nesterov,
        };
        Ok(TrainJob {
            card,
            data: self.data,
            out: self.out,
            config,
            balance_classes: self.class_weights,
            resume: self.resume,
            until: self.until,
            skip_bad: self.skip_bad,
            device: self.device,
        })
    }
}

/// Runs `add train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    crate::train::trainer::run(args.job()?)
}
