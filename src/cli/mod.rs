//! The command line: `add` opens the app, `add <subcommand>` does the same work headless. Each
//! subcommand has its file here: its clap options, turned into the typed job the library part
//! runs (`train::trainer::TrainJob`, `eval::run::Evaluation`, ...), and `pipeline/` chains the
//! stages. Only this layer knows clap; errors become `anyhow` here, at the binary's edge.

pub mod app;
pub mod bench;
pub mod bench_app;
pub mod calibrate_bn;
pub mod card;
pub mod eval;
pub mod import;
pub mod infer;
pub mod info;
pub mod inputs;
pub mod model_arg;
pub mod parity;
pub mod pipeline;
pub mod present;
pub mod search;
pub mod synth;
pub mod train;
pub mod train_edm;

use clap::{Parser, Subcommand};

/// ADD Studio: inspect Auto-Dynamic-DeepLab, an early-exit segmentation network.
#[derive(Debug, Parser)]
#[command(name = "add", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the app, used when no subcommand is given.
    #[command(flatten)]
    pub app: app::AppArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the app (the same as no subcommand); `--screenshot` saves one and exits.
    App(app::AppArgs),
    /// Show a model's card, parameters and Multi-Adds per cell and per exit.
    Info(info::InfoArgs),
    /// Run images under an exit policy; write masks, confidence maps and JSON records.
    Infer(infer::InferArgs),
    /// Write the architecture card a training run builds (for pytorch/add_torch).
    Card(card::CardArgs),
    /// Convert a reference PyTorch checkpoint into a safetensors model with its card.
    Import(import::ImportArgs),
    /// Time the full path and each exit (ms per image, GFLOP/s).
    Bench(bench::BenchArgs),
    /// Time the app itself without a window: each exit on screen after opening an image, UI
    /// frame times while the models compute.
    BenchApp(bench_app::BenchAppArgs),
    /// Compare every exit's logits on two devices (GPU against CPU), same weights and image.
    Parity(parity::ParityArgs),
    /// Train ADD (all exits) or the Auto-DeepLab baseline; checkpoints and resumes.
    Train(train::TrainArgs),
    /// Recompute a trained model's BatchNorm statistics on full-size images (precise BN).
    CalibrateBn(calibrate_bn::CalibrateArgs),
    /// Train the decision makers (scalar EDM, EDM-map) on a frozen trained model.
    TrainEdm(train_edm::TrainEdmArgs),
    /// mIoU per exit and a speed/accuracy sweep per policy; writes presets into the card.
    Eval(eval::EvalArgs),
    /// A failure report (HTML): the worst images by four criteria, per-class IoU, confusion.
    Report(eval::ReportArgs),
    /// Presenter mode without a window: the images' step-through as an animated GIF or PNG slides.
    Present(present::PresentArgs),
    /// Every stage from a fixed seed: scenes, ADD, baseline, decision makers, evaluation.
    Pipeline(pipeline::PipelineArgs),
    /// Generate a synthetic street-scene dataset in the Cityscapes layout.
    Synth(synth::SynthArgs),
    /// Search the network-level path (supernet with multi-exit heads); writes a card.
    Search(search::SearchArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => crate::ui::run_app(cli.app.into()),
        Some(Command::App(args)) => crate::ui::run_app(args.into()),
        Some(Command::Info(args)) => info::run(args),
        Some(Command::Infer(args)) => infer::run(args),
        Some(Command::Card(args)) => card::run(args),
        Some(Command::Import(args)) => import::run(args),
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::BenchApp(args)) => bench_app::run(args),
        Some(Command::Parity(args)) => parity::run(args),
        Some(Command::Train(args)) => train::run(args),
        Some(Command::TrainEdm(args)) => train_edm::run(args),
        Some(Command::CalibrateBn(args)) => calibrate_bn::run(args),
        Some(Command::Eval(args)) => crate::eval::run::run(args.into()),
        Some(Command::Report(args)) => eval::report(args),
        Some(Command::Pipeline(args)) => pipeline::run(args),
        Some(Command::Present(args)) => present::run(args),
        Some(Command::Synth(args)) => synth::run(args),
        Some(Command::Search(args)) => search::run(args),
    }
}
