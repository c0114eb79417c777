//! Training: the multi-exit network and the Auto-DeepLab baseline (`add train`), their
//! BatchNorm statistics on full-size images (`add calibrate-bn`), and the decision makers on the
//! frozen network (`add train-edm`). Each stage is a typed function that takes a typed job;
//! the command line parses the flags into it, and `add pipeline` (in the CLI layer) chains them.
//!
//! - [`trainer`]: the training step, the log, the run's files and state (the loop, checkpoints
//!   and resume are [`crate::fit`]'s, shared with the search); [`shape`]: the network a run
//!   builds; [`class_weights`]: the reference's class-balanced loss weights.
//! - [`bn_calibrate`]: precise BN; [`edm`]: the decision makers.
//! - [`provenance`]: models trained elsewhere (pytorch/add_torch) that a pipeline takes over.

pub mod bn_calibrate;
pub mod class_weights;
pub mod edm;
pub mod provenance;
pub mod shape;
pub mod trainer;
