//! The dataset run the app holds: which folder, the job on the worker, and the rows as they
//! stream in. The browser tab draws and sorts them, the plots tab sweeps them; only the app
//! changes them (it starts jobs and applies the worker's rows).

use crate::data::datasets::Dataset;
use crate::jobs::open_set::OpenedSet;
use crate::jobs::{DatasetJob, DatasetRow, WorkerMsg};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A failure report being written on a helper thread over this run's folder.
pub struct ReportExport {
    pub out: PathBuf,
    /// (images done, images in the pass), as the helper thread last said.
    pub progress: (usize, usize),
    pub cancel: Arc<AtomicBool>,
}

impl ReportExport {
    pub fn cancelling(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The dataset, the rows so far, and where the job stands.
#[derive(Default)]
pub struct DatasetRun {
    pub root: Option<PathBuf>,
    /// The recognised layout, for the status line.
    pub kind: String,
    /// The split listed, when the layout has splits.
    pub split: Option<String>,
    pub dataset: Option<Arc<Dataset>>,
    /// Known difficulty of each sample (generated sets), by index.
    pub difficulty: Arc<Vec<Option<f32>>>,
    /// The newest job's id; rows of older jobs are dropped.
    pub job_id: u64,
    cancel: Arc<AtomicBool>,
    pub running: bool,
    /// The folder is being listed.
    pub opening: bool,
    pub rows: Vec<DatasetRow>,
    /// Images that failed: (index, message).
    pub errors: Vec<(usize, String)>,
    /// The failure report being exported, if one is.
    pub report: Option<ReportExport>,
}

impl DatasetRun {
    /// Images done (rows and errors).
    pub fn processed(&self) -> usize {
        self.rows.len() + self.errors.len()
    }

    pub fn total(&self) -> usize {
        self.dataset.as_ref().map_or(0, |d| d.len())
    }

    /// Stops the running job (between cells).
    pub fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Starts a job over `set` (cancelling the old one); the worker runs the returned job.
    pub fn start(&mut self, root: PathBuf, set: OpenedSet, max_side: usize, with_full: bool) -> DatasetJob {
        self.cancel();
        self.job_id += 1;
        self.cancel = Arc::new(AtomicBool::new(false));
        self.root = Some(root);
        self.kind = set.kind;
        self.split = set.split;
        self.difficulty = Arc::new(set.difficulty);
        let ds = Arc::new(set.dataset);
        self.dataset = Some(ds.clone());
        self.rows.clear();
        self.errors.clear();
        self.running = true;
        self.opening = false;
        DatasetJob {
            job_id: self.job_id,
            dataset: ds,
            difficulty: self.difficulty.clone(),
            max_side,
            with_full,
            cancel: self.cancel.clone(),
        }
    }

    /// Applies a dataset message of the worker; false if it is not one of this job's.
    pub fn apply(&mut self, msg: WorkerMsg) -> bool {
        use WorkerMsg as M;
        match msg {
            M::DatasetRow { job_id, row } if job_id == self.job_id => self.rows.push(*row),
            M::DatasetError { job_id, index, message } if job_id == self.job_id => self.errors.push((index, message)),
            M::DatasetDone { job_id, .. } if job_id == self.job_id => self.running = false,
            _ => return false,
        }
        true
    }
}
