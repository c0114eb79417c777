//! Evaluation: segmentation metrics, and what each exit policy buys (`add eval`).
//!
//! - [`metrics`]: one confusion matrix over a whole set; IoU per class and mIoU.
//! - [`collect`]: per image and exit, confusion, decision scores and measured piece times.
//! - [`summary`]: each exit's and the baseline's quality over a set, the set's cost table.
//! - [`sweep`]: thresholds -> exit rates, mIoU, time, Multi-Adds, speed-up; preset picking.
//! - [`run`]: the command, its tables and the presets written into the card.

pub mod collect;
pub mod difficulty;
pub mod metrics;
pub mod run;
pub mod summary;
pub mod sweep;

pub use metrics::ConfusionMatrix;
