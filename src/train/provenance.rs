//! Models trained outside `add train`: pytorch/add_torch writes its provenance into the models
//! it saves, so `add pipeline` can take over from them and the model card can say who trained.

use std::path::Path;

use anyhow::Context;

/// Provenance that pytorch/add_torch stores in the models it writes.
#[derive(Debug, serde::Deserialize)]
pub struct TrainedElsewhere {
    pub trainer: String,
    pub step: usize,
    pub steps: usize,
    pub complete: bool,
    #[serde(default)]
    pub images_seen: usize,
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub recipe: serde_json::Value,
    /// The learning-rate schedule and where it stands (pytorch/add_torch/schedule.py): a `wsd`
    /// run records its warm-up and, on a branched decay, the step it started from.
    #[serde(default)]
    pub schedule: serde_json::Value,
    /// Seconds of training over the model's whole lineage (a decay branch counts the stable
    /// run it left); 0 where the trainer did not record it.
    #[serde(default)]
    pub compute_s: f64,
}

/// Metadata key of [`TrainedElsewhere`].
pub const TRAINED_KEY: &str = "add_studio.trained";

/// The provenance of a model trained outside `add train`, if `model` is one.
pub fn trained_elsewhere(model: &Path) -> anyhow::Result<Option<TrainedElsewhere>> {
    if !model.exists() {
        return Ok(None);
    }
    let file = crate::network::checkpoint::TensorFile::read(model)?;
    file.metadata
        .get(TRAINED_KEY)
        .map(|v| {
            serde_json::from_str(v).with_context(|| format!("{}: unreadable `{TRAINED_KEY}` metadata", model.display()))
        })
        .transpose()
}
