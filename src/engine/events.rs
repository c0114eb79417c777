//! What a run reports, in order: the run starts, each cell finishes, each exit is reached (with
//! its maps when its head ran), and the run finishes, is cancelled or fails. Plain data only:
//! the UI never touches tensors.

use std::sync::Arc;

/// What the policy decided at an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Decision {
    /// The policy stops here: this exit's output is the answer.
    Stop,
    /// The policy goes on to the next cell.
    Continue,
    /// The last exit: always the answer when reached.
    Final,
}

/// Per-pixel results of one exit head at image resolution (row-major, `width * height`).
#[derive(Debug, Clone)]
pub struct ExitMaps {
    pub width: usize,
    pub height: usize,
    /// Arg-max class per pixel.
    pub classes: Vec<u8>,
    /// Max softmax probability per pixel, in [0, 1].
    pub max_prob: Vec<f32>,
    /// Normalised entropy per pixel (-sum p log p / log K), in [0, 1].
    pub entropy: Vec<f32>,
}

/// One exit reached during a run.
#[derive(Debug, Clone)]
pub struct ExitReport {
    pub run_id: u64,
    /// Exit number, 0-based, the last cell's exit included.
    pub exit: usize,
    /// Cell the exit sits on.
    pub cell: usize,
    /// Level of that cell.
    pub level: u8,
    /// Scalar EDM score (predicted mean normalised entropy), when the model has one.
    pub edm_score: Option<f32>,
    /// EDM-map at image resolution (predicted per-pixel normalised entropy), when present.
    pub edm_map: Option<Arc<Vec<f32>>>,
    /// Mean of the EDM-map, when present.
    pub edm_map_score: Option<f32>,
    /// What the policy decided here.
    pub decision: Decision,
    /// The head's output if it ran (analysis mode runs every head).
    pub maps: Option<Arc<ExitMaps>>,
    /// Mean normalised entropy of the head's output, if it ran.
    pub mean_entropy: Option<f32>,
    /// Fraction of pixels whose max probability exceeds the policy's confidence level, if it ran.
    pub confident_fraction: Option<f32>,
    /// Time the scalar EDM took at this exit, in milliseconds (0 when it did not run).
    pub edm_ms: f64,
    /// Time the EDM-map took at this exit, in milliseconds (0 when it did not run: an `edm`
    /// policy with a scalar EDM does not need it unless the map is to be shown).
    pub edm_map_ms: f64,
    /// Time the head took, if it ran, in milliseconds: the network's head and turning its
    /// logits into the maps.
    pub head_ms: Option<f64>,
    /// The part of `head_ms` spent on the maps (class, confidence, entropy at image size).
    pub maps_ms: f64,
    /// Milliseconds since the run started when this exit was done.
    pub time_ms: f64,
    /// Multi-Adds executed so far in this run.
    pub cum_madds: u64,
}

/// The ordered stream of a run's events.
#[derive(Debug, Clone)]
pub enum RunEvent {
    Started {
        run_id: u64,
        /// Size of the image as given (width, height).
        image_size: (usize, usize),
        /// Size the network runs at (width, height), after any downscaling and padding.
        input_size: (usize, usize),
        device: String,
    },
    CellDone {
        run_id: u64,
        cell: usize,
        level: u8,
        /// Time this cell took, in milliseconds (cell 0's includes the stem).
        cell_ms: f64,
        /// Cell 0 only: the part of `cell_ms` that was the stem, so views can show the two
        /// apart (the stem works at full resolution and often outweighs several cells).
        stem_ms: Option<f64>,
        time_ms: f64,
        cum_madds: u64,
    },
    Exit(ExitReport),
    Finished {
        run_id: u64,
        /// The exit whose output is the answer under the policy.
        chosen_exit: usize,
        total_ms: f64,
        cum_madds: u64,
    },
    Cancelled {
        run_id: u64,
    },
    Failed {
        run_id: u64,
        message: String,
    },
}

impl RunEvent {
    /// The run this event belongs to.
    pub fn run_id(&self) -> u64 {
        match self {
            RunEvent::Started { run_id, .. }
            | RunEvent::CellDone { run_id, .. }
            | RunEvent::Finished { run_id, .. }
            | RunEvent::Cancelled { run_id }
            | RunEvent::Failed { run_id, .. } => *run_id,
            RunEvent::Exit(r) => r.run_id,
        }
    }
}
