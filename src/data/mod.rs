//! Images and datasets: safe image I/O ([`image_io`]), the procedural street-scene generator
//! ([`synth`], behind `add synth`), dataset loaders ([`datasets`]: Cityscapes, PASCAL VOC, plain
//! folders), training augmentation ([`augment`]) and the one rule for image sizes given on the
//! command line ([`size`]).

pub mod augment;
pub mod datasets;
pub mod image_io;
pub mod size;
pub mod synth;

pub use image_io::{DataError, load_label, load_rgb, save_png_atomic};
