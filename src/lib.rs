//! ADD Studio: run Auto-Dynamic-DeepLab (ADD), an early-exit segmentation network, and see
//! how it decides.
//!
//! The tree follows the parts of the work:
//! - [`network`]: the architecture card and the ADD / Auto-DeepLab modules (candle).
//! - [`kernels`]: our own CPU kernels where candle's are slow (depthwise conv, resizing).
//! - [`engine`]: dynamic inference as a stream of events, the exit policies.
//! - [`data`]: images, datasets, the procedural street-scene generator.
//! - [`eval`]: the one path from a run to an image's record, metrics (confusion matrix, mIoU),
//!   policy sweeps, presets, `eval.json`.
//! - [`jobs`]: work off the UI thread without egui: the model worker, dataset runs, the demo.
//! - [`report`]: the failure report (HTML) a researcher hands to colleagues.
//! - [`export`]: masks for annotation tools (CVAT zip, COCO RLE, Cityscapes files).
//! - [`train`], [`search`]: training, precise BN, decision makers; the network-path search.
//! - [`fit`]: the training-loop core both share (resume, pause, Ctrl-C, progress, SGD, loss).
//! - [`fsutil`]: atomic writes, stale temp files.
//! - [`ui`]: the desktop app (eframe).
//! - [`cli`]: the headless `add ...` subcommands.

pub mod cli;
pub mod data;
pub mod engine;
pub mod eval;
pub mod export;
pub mod fit;
pub mod fsutil;
pub mod jobs;
pub mod kernels;
pub mod network;
pub mod report;
pub mod search;
pub mod train;
pub mod ui;
