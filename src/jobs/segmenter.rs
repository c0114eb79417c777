//! What the worker runs: the [`Segmenter`] trait over the ADD engine, the Auto-DeepLab baseline
//! and the demo, the options of one run, and how a model slot is described and loaded.

use crate::engine::{Engine, Policy, RunEvent, RunOptions};
use crate::network::ArchCard;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// How one image is run (the UI's view of the engine's run options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentOptions {
    pub policy: Policy,
    /// Compute every head, still report the policy's decision.
    pub analysis: bool,
    pub max_side: usize,
}

/// A model the worker can run: the ADD engine, the Auto-DeepLab baseline, or the demo.
pub trait Segmenter: Send {
    fn card(&self) -> &ArchCard;
    fn device_name(&self) -> String;
    /// Runs one image; calls `sink` with each event in order; checks `cancel` between cells.
    fn run(
        &self,
        image: &image::RgbImage,
        opts: &SegmentOptions,
        run_id: u64,
        cancel: &AtomicBool,
        sink: &mut dyn FnMut(RunEvent),
    ) -> anyhow::Result<()>;
}

/// Which of the two model slots a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The early-exit ADD model.
    Add,
    /// The full Auto-DeepLab baseline used for comparison.
    Full,
}

/// Where a model comes from; the loader turns it into a [`Segmenter`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelSpec {
    pub model: Option<PathBuf>,
    pub card: Option<PathBuf>,
    pub device: String,
}

/// A loaded model and what the UI must say about it.
pub struct Loaded {
    pub segmenter: Box<dyn Segmenter>,
    /// A warning to show permanently (demo data, untrained weights).
    pub banner: Option<String>,
}

/// Builds models; runs on the worker thread (loading can be slow).
pub type Loader = Arc<dyn Fn(Role, &ModelSpec) -> anyhow::Result<Option<Loaded>> + Send + Sync>;

impl Segmenter for Engine {
    fn card(&self) -> &ArchCard {
        Engine::card(self)
    }

    fn device_name(&self) -> String {
        Engine::device_name(self)
    }

    fn run(
        &self,
        image: &image::RgbImage,
        opts: &SegmentOptions,
        run_id: u64,
        cancel: &AtomicBool,
        sink: &mut dyn FnMut(RunEvent),
    ) -> anyhow::Result<()> {
        let o = RunOptions {
            policy: opts.policy,
            analysis: opts.analysis,
            max_side: opts.max_side.min(u32::MAX as usize) as u32,
            edm_maps: true,
        };
        Engine::run(self, image, &o, run_id, cancel, sink)?;
        Ok(())
    }
}
