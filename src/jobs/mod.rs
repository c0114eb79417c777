//! Work that runs off the UI thread and needs no window: the worker thread that owns the models
//! and streams each run's events ([`worker`]), what it runs ([`segmenter`], [`models`], the
//! colour-rule [`demo`]) and dataset runs image by image ([`open_set`] lists a folder,
//! [`dataset`] runs it). The app drives these and draws what comes back; nothing here imports
//! egui, so tests and other front ends can use them.

pub mod dataset;
pub mod demo;
pub mod models;
pub mod open_set;
pub mod segmenter;
pub mod worker;

pub use dataset::{DatasetJob, DatasetRow};
pub use segmenter::{Loaded, Loader, ModelSpec, Role, SegmentOptions, Segmenter};
pub use worker::{Worker, WorkerMsg};
