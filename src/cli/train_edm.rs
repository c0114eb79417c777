//! `add train-edm`: the options of the decision makers' training ([`crate::train::edm`]).

use std::path::PathBuf;

use crate::network::EdmKind;
use crate::train::edm::{EdmTraining, MapTarget};

/// Options of `add train-edm`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainEdmArgs {
    /// The trained multi-exit model (its card says where the early exits are).
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    #[arg(long)]
    pub card: Option<PathBuf>,
    /// Dataset root in the Cityscapes layout (train split to learn, val split to measure).
    #[arg(long)]
    pub data: PathBuf,
    /// Output model (the input's weights plus the decision makers).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Which decision makers to train: scalar, map or both.
    #[arg(long, default_value = "both")]
    pub kind: String,
    /// What the EDM-map predicts.
    #[arg(long, value_enum, default_value = "entropy")]
    pub map_target: MapTarget,
    /// Width of the scalar EDM's convolution (the card's otherwise; the reference's is 128).
    /// The EDM runs before every early exit it is asked about, so at small F its cost is a
    /// visible share of an early answer.
    #[arg(long)]
    pub edm_channels: Option<usize>,
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// At most this many training images.
    #[arg(long, default_value_t = 2000)]
    pub max_images: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 2049)]
    pub max_side: u32,
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long)]
    pub force: bool,
}

/// Parses `--kind`: scalar, map or both.
fn parse_kind(kind: &str) -> anyhow::Result<EdmKind> {
    Ok(match kind {
        "scalar" => EdmKind::Scalar,
        "map" => EdmKind::Map,
        "both" => EdmKind::Both,
        other => anyhow::bail!("--kind `{other}`: expected scalar, map or both"),
    })
}

/// Runs `add train-edm`.
pub fn run(args: TrainEdmArgs) -> anyhow::Result<()> {
    let training = EdmTraining {
        kind: parse_kind(&args.kind)?,
        model: args.model,
        card: args.card,
        data: args.data,
        out: args.out,
        map_target: args.map_target,
        edm_channels: args.edm_channels,
        epochs: args.epochs,
        lr: args.lr,
        batch: args.batch,
        max_images: args.max_images,
        seed: args.seed,
        max_side: args.max_side,
        device: args.device,
        force: args.force,
    };
    crate::train::edm::run(&training)
}
