//! Training: the multi-exit network and the Auto-DeepLab baseline (`add train`), and the
//! decision makers on the frozen network (`add train-edm`), and every stage from a fixed seed
//! (`add pipeline`).
//!
//! - [`trainer`]: the loop, checkpoints and resume; [`batches`]: seeded batches;
//!   [`loss`]: cross-entropy ignoring 255, averaged over exits; [`optim`]: SGD + poly lr;
//!   [`class_weights`]: the reference's class-balanced loss weights.

pub mod batches;
pub mod bn_calibrate;
pub mod class_weights;
pub mod edm;
pub mod interrupt;
pub mod loss;
pub mod model_card;
pub mod optim;
pub mod pipeline;
pub mod trainer;
