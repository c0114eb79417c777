//! `add synth`: the options of the street-scene generator ([`crate::data::synth`]).

use crate::data::size::parse_size;
use crate::data::synth::writer::{self, DatasetPlan};

/// Options of `add synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Output folder (Cityscapes layout: leftImg8bit/, gtFine/, manifest.jsonl).
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Number of scenes.
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    /// Image size as HEIGHTxWIDTH.
    #[arg(long, default_value = "256x512", value_parser = |s: &str| parse_size("--size", s))]
    pub size: (u32, u32),
    /// Dataset seed; scene i depends only on (seed, i, size, difficulty range).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Share of scenes put in the val split (drawn per scene from its seed).
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f32,
    /// Lowest difficulty knob (0 = easy).
    #[arg(long, default_value_t = 0.0)]
    pub difficulty_min: f32,
    /// Highest difficulty knob (1 = hard).
    #[arg(long, default_value_t = 1.0)]
    pub difficulty_max: f32,
    /// Write a flat gallery (scene_NN.png, scene_NN_label.png, samples.json, contact_sheet.jpg)
    /// with difficulties evenly spaced, as in assets/samples.
    #[arg(long)]
    pub gallery: bool,
}

/// Runs `add synth`.
pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let plan = DatasetPlan {
        out: args.out,
        count: args.count,
        width: args.size.1,
        height: args.size.0,
        seed: args.seed,
        val_fraction: args.val_fraction,
        difficulty: (args.difficulty_min, args.difficulty_max),
    };
    writer::run(&plan, args.gallery)
}
