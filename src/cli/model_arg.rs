//! How the command line names a model: a weights file (safetensors or reference .pth) with an
//! optional card, or a built-in preset with random weights.

use std::path::PathBuf;

use anyhow::Context;

use crate::engine::{Engine, device};
use std::collections::HashMap;

use candle_core::Tensor;

use crate::network::{ArchCard, checkpoint};

/// Which model to use and on which device.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Weights: our .safetensors or a reference PyTorch checkpoint (.pth).
    #[arg(long, short = 'm')]
    pub model: Option<PathBuf>,
    /// Architecture card (JSON); default: embedded in the model, or <model>.json beside it.
    #[arg(long)]
    pub card: Option<PathBuf>,
    /// A built-in card (add-2, add-3, add-4, autodeeplab, autodeeplab-dense) with random weights.
    #[arg(long, conflicts_with = "model")]
    pub preset: Option<String>,
    /// Filter multiplier F for --preset.
    #[arg(long, default_value_t = 20)]
    pub filters: usize,
    /// Device: cpu, cuda, cuda:N, metal or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

impl ModelArgs {
    /// The card this model uses. Weights, when given, are loaded and checked against it, so
    /// that a broken or mismatched file is reported rather than described.
    pub fn card(&self) -> anyhow::Result<ArchCard> {
        if let Some(p) = &self.preset {
            return Ok(ArchCard::preset(p, self.filters)?);
        }
        if let (Some(c), None) = (&self.card, &self.model) {
            return Ok(ArchCard::load(c)?);
        }
        Ok(self.engine()?.card().clone())
    }

    /// Loads the model on the chosen device.
    pub fn engine(&self) -> anyhow::Result<Engine> {
        let dev = device::select(Some(&self.device)).map_err(anyhow::Error::msg)?;
        if let Some(p) = &self.preset {
            let card = ArchCard::preset(p, self.filters)?;
            return Ok(Engine::random(card, 0, &dev)?);
        }
        let model = self.model.as_ref().context("no model given: pass --model FILE or --preset NAME")?;
        let engine = Engine::load(model, self.card.as_deref(), &dev)?;
        for note in engine.notes() {
            eprintln!("note: {note}");
        }
        Ok(engine)
    }
}

impl ModelArgs {
    /// The card and the tensors themselves (a preset's are seeded random weights, the same
    /// ones [`ModelArgs::engine`] builds), for tools that build the network their own way.
    pub fn weights(&self) -> anyhow::Result<(ArchCard, HashMap<String, Tensor>)> {
        if let Some(p) = &self.preset {
            let card = ArchCard::preset(p, self.filters)?;
            let tensors = crate::network::init::random_tensors(&card, 0)?;
            return Ok((card, tensors));
        }
        let model = self.model.as_ref().context("no model given: pass --model FILE or --preset NAME")?;
        let file = checkpoint::TensorFile::read(model)?;
        let card = checkpoint::resolve_card(&file, self.card.as_deref())?;
        checkpoint::check_against(&card, &model.display().to_string(), &file.tensors)?;
        Ok((card, file.tensors))
    }
}
