//! Images and datasets: safe image I/O, the procedural street-scene generator, dataset loaders
//! and training augmentation.

pub mod image_io;

pub use image_io::{DataError, check_min_side, load_label, load_rgb, save_png_atomic};

/// Options of `add synth`.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {}

/// Runs `add synth`.
pub fn run_synth(_args: SynthArgs) -> anyhow::Result<()> {
    anyhow::bail!("the generator is not built yet")
}
