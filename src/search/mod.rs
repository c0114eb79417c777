//! `add search`: ADD's network-level architecture search (stage one of three).
//!
//! What is searched is the path through Auto-DeepLab's 12-cell x 4-level trellis, in a
//! supernet that carries the multi-exit heads the final network will have, so the path suits
//! early exits too. The cell stays the searched Auto-DeepLab genotype, as ADD keeps it, unless
//! `--cell-search` searches it too (Auto-DeepLab's alpha).
//!
//! - [`trellis`]: beta, its softmax over each node's outgoing edges, Viterbi decoding.
//! - [`supernet`]: every reachable node with a cell, dense connections, shared exit head.
//! - [`searcher`]: first-order bi-level optimisation (weights on half A, beta on half B after
//!   a warm-up); the loop, `--resume` and Ctrl-C are [`crate::fit`]'s, as training's are.
//! - [`config`]: the settings, the run folder, the halves; [`checkpoint`]: what a search saves
//!   beyond a training run (beta, alpha, their Adam moments, the history).
//! - [`cell_search`]: the optional cell-level search (alpha over every edge's candidate ops).
//! - [`adam`]: Adam for beta (and alpha), with its state exposed for exact resumption.
//! - [`result`]: exit placement, the architecture card, the history file, the settled-path check.
//! - [`reference`], [`npy`]: the reference search's numpy outputs as a card and a history.
//!
//! Outputs in `--out`: `arch.json` (the card; `add train --arch` reads it),
//! `search_history.json` (beta, normalised weights and the decoded path per epoch, for the
//! app's plots) and `search_checkpoint.safetensors` (for `--resume`).

pub mod adam;
pub mod cell_search;
pub mod checkpoint;
pub mod config;
pub mod npy;
pub mod reference;
pub mod result;
pub mod searcher;
pub mod supernet;
pub mod trellis;

pub use config::{SearchConfig, SearchFiles};
pub use searcher::{Outcome, search};
