//! Dynamic inference: run an image through the network under an exit policy and report what
//! happens, cell by cell and exit by exit, as an ordered stream of events.
//!
//! - [`runner`]: the [`Engine`] (a loaded model on a device) and its run loop.
//! - [`events`]: what a run reports; [`policy`]: when to stop at an early exit.
//! - [`prepare`]: image to input tensor and back (the size rule); [`device`]: device choice.
//! - [`maps`]: an exit's logits to its class, confidence and entropy maps.
//! - [`parity`]: the same model on two devices, every exit compared (GPU against CPU).

pub mod device;
pub mod events;
pub mod maps;
pub mod parity;
pub mod policy;
pub mod prepare;
pub mod runner;

pub use events::{Decision, ExitMaps, ExitReport, RunEvent};
pub use policy::{ExitStats, Policy};
pub use runner::{Engine, EngineError, RunOptions, RunSummary};
