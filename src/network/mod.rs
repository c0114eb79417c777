//! The network family: the architecture card (the single source of truth for a model's shape)
//! and the candle modules built from it, with parameter names equal to the reference
//! `state_dict` so that reference checkpoints load unchanged.
//!
//! - [`card`]: the JSON card and its validation; [`presets`]: the reference variants.
//! - [`layers`]: conv (+ folded BN), ReLU-conv-BN, factorised reductions, resizing.
//! - [`ops`]: the eight cell ops; [`cell`]: plain and dense cells; [`stem`].
//! - [`head`]: level adapters, the shared ASPP and DeepLabv3+ decoder.
//! - [`edm`]: the scalar EDM and our per-pixel EDM-map.
//! - [`model`]: the whole network, run step by step.
//! - [`checkpoint`]: weights on disk; [`pickle_guard`]: PyTorch pickles are checked as data first.
//! - [`summary`]: parameter and Multi-Add tables; [`cost`]: the executed Multi-Add counter.

pub mod card;
pub mod cell;
pub mod checkpoint;
pub mod cost;
pub mod edm;
pub mod head;
pub mod init;
pub mod layers;
pub mod model;
pub mod ops;
pub mod pickle_guard;
pub mod presets;
pub mod stem;
pub mod summary;

pub use card::{ArchCard, CardError, ClassInfo, EdmKind, ModelKind};
pub use layers::BuildMode;
pub use model::{AddNet, Trace};
pub use summary::{CostTable, ParamTable};
