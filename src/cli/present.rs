//! `add present`: presenter mode exported without a window, as an animated GIF or numbered PNG
//! slides ([`crate::ui::present_export`]).

use crate::data::size::parse_size;
use crate::ui::present_export::{self, PresentJob};
use std::path::PathBuf;

/// Options of `add present`.
#[derive(Debug, Clone, clap::Args)]
pub struct PresentArgs {
    /// The images, in order: files, or folders (their images in name order).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// talk.gif: an animated GIF; any other name: a folder of numbered PNGs, one per step.
    #[arg(long, value_name = "PATH")]
    pub export: PathBuf,
    /// Replace --export if it exists (a slides folder only when it holds nothing but slides).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub models: super::app::ModelChoiceArgs,
    /// Compute and show every exit, not only the ones the policy reaches.
    #[arg(long)]
    pub analysis: bool,
    /// Frame size as HEIGHTxWIDTH.
    #[arg(long, default_value = "576x1024", value_parser = |s: &str| parse_size("--size", s))]
    pub size: (u32, u32),
    /// Frames per second while a mask fades in.
    #[arg(long, default_value_t = 10)]
    pub fps: u32,
}

/// Runs `add present`.
pub fn run(args: PresentArgs) -> anyhow::Result<()> {
    let images = super::inputs::expand_images(&args.images)?;
    let (h, w) = args.size;
    let job = PresentJob {
        images,
        models: args.models.into(),
        analysis: args.analysis,
        size: [w, h],
        fps: args.fps,
        out: args.export.clone(),
        force: args.force,
    };
    let done = present_export::run(&job, &mut |line| eprintln!("add present: {line}"))?;
    let what = if present_export::is_gif(&args.export) {
        format!("{} frames, {:.1} s", done.frames, done.seconds)
    } else {
        format!("{} slides", done.frames)
    };
    eprintln!(
        "add present: wrote {} ({what}, {} steps, {:.1} MB)",
        args.export.display(),
        done.steps,
        done.bytes as f64 / 1e6
    );
    Ok(())
}
