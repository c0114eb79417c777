//! Evaluation: segmentation metrics and, later, policy sweeps.
//!
//! - [`metrics`]: one confusion matrix over a whole set; IoU per class and mIoU.

pub mod metrics;

pub use metrics::ConfusionMatrix;
