//! The app's models: the real [`Engine`] behind the worker's [`Segmenter`] trait, the default
//! model files, and the fallbacks (random weights, demo data), each announced by a banner so
//! nobody mistakes noise for a result.

use super::segmenter::{Loaded, Loader, ModelSpec, Role};
use crate::engine::{Engine, device};
use crate::network::ArchCard;
use anyhow::anyhow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default ADD weights (the card is `<model>.json` or embedded).
pub const DEFAULT_ADD: &str = "models/add.safetensors";
/// Default full Auto-DeepLab baseline weights.
pub const DEFAULT_BASELINE: &str = "models/autodeeplab.safetensors";

/// A default model file, looked up under the working directory, then the crate.
pub fn default_file(rel: &str) -> Option<PathBuf> {
    [PathBuf::from(rel), Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)].into_iter().find(|p| p.is_file())
}

/// The loader the app uses: real models, or the demo segmenter when `demo` is set.
pub fn loader(demo: bool) -> Loader {
    Arc::new(move |role, spec| if demo { Ok(Some(demo_model(role))) } else { load(role, spec) })
}

/// The demo models (colour rules, with a banner), slowed so that streaming is visible.
pub fn demo_model(role: Role) -> Loaded {
    super::demo::model(role, std::time::Duration::from_millis(40))
}

/// Size (width, height) of the blank image a loaded model runs once before the first real one.
const WARM_UP_SIZE: (u32, u32) = (512, 256);

fn load(role: Role, spec: &ModelSpec) -> anyhow::Result<Option<Loaded>> {
    let dev =
        device::select(Some(if spec.device.is_empty() { "auto" } else { &spec.device })).map_err(|e| anyhow!(e))?;
    let default = match role {
        Role::Add => DEFAULT_ADD,
        Role::Full => DEFAULT_BASELINE,
    };
    let model = spec.model.clone().or_else(|| default_file(default));
    let (engine, banner, name) = match (role, model) {
        (_, Some(path)) => {
            let engine = Engine::load(&path, spec.card.as_deref(), &dev)
                .map_err(|e| anyhow!("cannot load {}: {e}", path.display()))?;
            let banner = (!engine.notes().is_empty()).then(|| engine.notes().join("; "));
            (engine, banner, path.display().to_string())
        }
        (Role::Add, None) => {
            let card = ArchCard::preset("add-2", 8)?;
            let banner = format!("UNTRAINED WEIGHTS: {DEFAULT_ADD} not found, masks are from a random network");
            (Engine::random(card, 0, &dev)?, Some(banner), "the untrained add-2".to_string())
        }
        (Role::Full, None) => return Ok(None),
    };
    // at the samples' size, so the first image's times are not the process's cold start
    engine.warm_up(WARM_UP_SIZE.0, WARM_UP_SIZE.1).map_err(|e| anyhow!("{name}: {e}"))?;
    Ok(Some(Loaded { segmenter: Box::new(engine), banner }))
}
