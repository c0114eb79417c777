//! Evaluation: segmentation metrics, and what each exit policy buys (`add eval`).
//!
//! - [`metrics`]: one confusion matrix over a whole set; IoU per class and mIoU.
//! - [`image_record`]: the one path from an image's runs (and label) to its record, per exit:
//!   confusion, scores, piece times, confidence, agreement, IoU ([`exit_numbers`], [`label`]).
//! - [`collect`]: runs a labelled set through a model (and the baseline) image by image.
//! - [`summary`]: each exit's and the baseline's quality over a set, the set's cost table.
//! - [`sweep`]: thresholds -> exit rates, mIoU, time, Multi-Adds, speed-up; preset picking.
//! - [`run`]: the command, its tables and the presets written into the card; [`eval_file`]:
//!   `eval.json` as typed structs, written here and read by the app and the model card.

pub mod collect;
pub mod difficulty;
pub mod eval_file;
pub mod exit_numbers;
pub mod image_record;
pub mod label;
pub mod metrics;
pub mod run;
pub mod summary;
pub mod sweep;

pub use metrics::ConfusionMatrix;
