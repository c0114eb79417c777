//! Results: what the models produced for the current image, filled in event by event as the
//! worker streams them. Nothing here is persisted or drawn; panels read it.

use crate::engine::{ExitMaps, ExitReport, RunEvent};
use crate::eval::exit_numbers::{self as metrics, ExitDerived};
pub use crate::eval::label::LabelMap;
use crate::jobs::Role;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    /// Sent to the worker, nothing back yet.
    Waiting,
    Running,
    Finished {
        total_ms: f64,
    },
    Cancelled,
    Failed(String),
}

/// One cell's timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellTime {
    pub cell: usize,
    pub level: u8,
    /// The cell's time; cell 0's includes the stem's.
    pub cell_ms: f64,
    /// Cell 0: how much of `cell_ms` was the stem.
    pub stem_ms: Option<f64>,
}

impl CellTime {
    /// The cell's own time, without the stem.
    pub fn own_ms(&self) -> f64 {
        self.cell_ms - self.stem_ms.unwrap_or(0.0)
    }
}

/// What one model produced for the current image.
#[derive(Debug, Clone)]
pub struct ModelRun {
    pub run_id: u64,
    pub status: RunStatus,
    /// Indexed by exit; `None` = not reached (yet).
    pub exits: Vec<Option<ExitReport>>,
    /// Derived statistics of each exit whose head ran.
    pub derived: Vec<Option<ExitDerived>>,
    pub cells: Vec<CellTime>,
    /// The exit the engine chose under the policy it ran with.
    pub engine_choice: Option<usize>,
    pub input_size: Option<(usize, usize)>,
    pub device: String,
}

impl ModelRun {
    pub fn new(run_id: u64) -> ModelRun {
        ModelRun {
            run_id,
            status: RunStatus::Waiting,
            exits: Vec::new(),
            derived: Vec::new(),
            cells: Vec::new(),
            engine_choice: None,
            input_size: None,
            device: String::new(),
        }
    }

    /// The report of exit `k`, if reached.
    pub fn exit(&self, k: usize) -> Option<&ExitReport> {
        self.exits.get(k).and_then(|e| e.as_ref())
    }

    /// The maps of exit `k`, if its head ran.
    pub fn maps(&self, k: usize) -> Option<&Arc<ExitMaps>> {
        self.exit(k).and_then(|e| e.maps.as_ref())
    }

    pub fn derived(&self, k: usize) -> Option<&ExitDerived> {
        self.derived.get(k).and_then(|d| d.as_ref())
    }

    /// The deepest exit whose head ran.
    pub fn last_computed(&self) -> Option<usize> {
        (0..self.exits.len()).rev().find(|&k| self.maps(k).is_some())
    }

    pub fn is_running(&self) -> bool {
        matches!(self.status, RunStatus::Waiting | RunStatus::Running)
    }

    /// Time of the whole run, or of the run so far.
    pub fn total_ms(&self) -> Option<f64> {
        match self.status {
            RunStatus::Finished { total_ms } => Some(total_ms),
            _ => None,
        }
    }
}

/// Everything known about the image on screen.
#[derive(Debug, Clone)]
pub struct ImageResults {
    /// File it came from, if any.
    pub path: Option<PathBuf>,
    pub name: String,
    pub image: Arc<image::RgbImage>,
    pub label: Option<Arc<LabelMap>>,
    pub add: ModelRun,
    /// The full Auto-DeepLab baseline's run, when a baseline is loaded.
    pub full: Option<ModelRun>,
    /// Bumped on every change, so views know when to redraw their textures.
    pub version: u64,
    /// Bumped when a new image replaces the old one.
    pub image_id: u64,
}

impl ImageResults {
    pub fn new(name: String, path: Option<PathBuf>, image: Arc<image::RgbImage>, label: Option<Arc<LabelMap>>) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        ImageResults {
            path,
            name,
            image,
            label,
            add: ModelRun::new(0),
            full: None,
            version: 0,
            image_id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Image size (width, height).
    pub fn size(&self) -> (usize, usize) {
        (self.image.width() as usize, self.image.height() as usize)
    }

    /// Starts fresh runs (results of earlier runs are dropped).
    pub fn begin_run(&mut self, run_id: u64, with_full: bool) {
        self.add = ModelRun::new(run_id);
        self.full = with_full.then(|| ModelRun::new(run_id));
        self.version += 1;
    }

    /// The output the exits are compared with: the baseline if loaded, else ADD's last exit.
    pub fn full_maps(&self) -> Option<&Arc<ExitMaps>> {
        match &self.full {
            Some(f) => f.maps(0),
            None => self.add.exits.len().checked_sub(1).and_then(|k| {
                let last = self.add.exit(k)?;
                (last.decision == crate::engine::Decision::Final).then_some(last.maps.as_ref()?)
            }),
        }
    }

    /// Applies one event of the worker. Returns false if it belongs to another run.
    pub fn apply(&mut self, role: Role, event: RunEvent) -> bool {
        let run = match role {
            Role::Add => &mut self.add,
            Role::Full => match &mut self.full {
                Some(f) => f,
                None => return false,
            },
        };
        if event.run_id() != run.run_id {
            return false;
        }
        match event {
            RunEvent::Started { input_size, device, .. } => {
                run.status = RunStatus::Running;
                run.input_size = Some(input_size);
                run.device = device;
            }
            RunEvent::CellDone { cell, level, cell_ms, stem_ms, .. } => {
                run.status = RunStatus::Running;
                run.cells.push(CellTime { cell, level, cell_ms, stem_ms });
            }
            RunEvent::Exit(report) => {
                let k = report.exit;
                if run.exits.len() <= k {
                    run.exits.resize(k + 1, None);
                    run.derived.resize(k + 1, None);
                }
                run.derived[k] = report.maps.as_ref().map(|m| metrics::derive(m));
                run.exits[k] = Some(report);
            }
            RunEvent::Finished { chosen_exit, total_ms, .. } => {
                run.engine_choice = Some(chosen_exit);
                run.status = RunStatus::Finished { total_ms };
            }
            RunEvent::Cancelled { .. } => run.status = RunStatus::Cancelled,
            RunEvent::Failed { message, .. } => run.status = RunStatus::Failed(message),
        }
        self.refresh_comparisons();
        self.version += 1;
        true
    }

    /// Agreement with the full output and IoU against the label, for every computed exit.
    fn refresh_comparisons(&mut self) {
        let full = self.full_maps().cloned();
        let label = self.label.clone();
        let runs = std::iter::once(&mut self.add).chain(self.full.as_mut());
        for run in runs {
            for k in 0..run.exits.len() {
                let Some(maps) = run.exits[k].as_ref().and_then(|e| e.maps.clone()) else { continue };
                let Some(d) = run.derived[k].as_mut() else { continue };
                if d.agree_full.is_none() {
                    d.agree_full = full.as_ref().map(|f| metrics::agreement(&maps, f) as f32);
                }
                if d.iou_label.is_none() {
                    d.iou_label = label.as_ref().map(|l| metrics::miou(&maps, l));
                }
            }
        }
    }

    /// Whether every requested run is over (finished, cancelled or failed).
    pub fn is_done(&self) -> bool {
        !self.add.is_running() && self.full.as_ref().is_none_or(|f| !f.is_running())
    }
}
