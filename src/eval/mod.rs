//! Evaluation: segmentation metrics, and what each exit policy buys (`add eval`).
//!
//! - [`metrics`]: one confusion matrix over a whole set; IoU per class and mIoU.
//! - [`collect`]: per image and exit, confusion, decision scores and measured piece times.
//! - [`sweep`]: thresholds -> exit rates, mIoU, time, Multi-Adds, speed-up; preset picking.
//! - [`run`]: the command, its tables and the presets written into the card.

pub mod collect;
pub mod difficulty;
pub mod metrics;
pub mod run;
pub mod sweep;

pub use metrics::ConfusionMatrix;
