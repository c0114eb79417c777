//! The dataset browser (tab "Dataset"): open a folder, run every image in the worker with a
//! progress bar and cancel, and fill a table that streams in: exit taken, EDM score, time,
//! Multi-Adds, IoU of every exit, agreement with the full output, worst class. Sort, filter
//! (e.g. "exited early but wrong"), click a row to open it in the inspector, export as CSV, and
//! a confusion matrix per exit whose cells filter the table.
//!
//! Files: [`rows`] (one image's numbers, computed on the worker), [`open`] (recognising the
//! folder), [`table`] (the virtualised table and its order), [`confusion`], [`csv`].

pub mod confusion;
pub mod csv;
pub mod open;
pub mod table;

use super::app::StudioApp;
use super::files::IoMsg;
use crate::jobs::DatasetJob;
use crate::data::datasets::Dataset;
use crate::jobs::DatasetRow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The browser's state: the dataset, the rows so far, and how the table is sorted and filtered.
pub struct Browser {
    pub root: Option<PathBuf>,
    /// The recognised layout ("Cityscapes, split val", ...).
    pub kind: String,
    pub dataset: Option<Arc<Dataset>>,
    pub difficulty: Arc<Vec<Option<f32>>>,
    pub job_id: u64,
    cancel: Arc<AtomicBool>,
    pub running: bool,
    /// A folder is being listed.
    pub opening: bool,
    /// Results, in arrival order.
    pub rows: Vec<DatasetRow>,
    /// Images that failed: (sample index, message).
    pub errors: Vec<(usize, String)>,
    pub view: table::TableView,
    /// Exit whose confusion matrix is shown.
    pub confusion_exit: usize,
    /// Dataset index of the row last opened in the inspector.
    pub opened: Option<usize>,
    /// Speed/mIoU points computed from the rows: (rows they cover, points).
    pub sweep: Option<(usize, Arc<Vec<super::plots::SweepPoint>>)>,
    /// The shown exit's merged confusion matrix, kept between frames and extended by the rows
    /// that arrived since (rows only ever arrive, or all go with a new job).
    pub confusion_cache: Option<confusion::Cached>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            root: None,
            kind: String::new(),
            dataset: None,
            difficulty: Arc::default(),
            job_id: 0,
            cancel: Arc::default(),
            running: false,
            opening: false,
            rows: Vec::new(),
            errors: Vec::new(),
            view: table::TableView::default(),
            confusion_exit: 0,
            opened: None,
            sweep: None,
            confusion_cache: None,
        }
    }
}

impl Browser {
    /// Images processed so far (done or failed).
    pub fn processed(&self) -> usize {
        self.rows.len() + self.errors.len()
    }

    pub fn total(&self) -> usize {
        self.dataset.as_ref().map_or(0, |d| d.len())
    }

    /// Stops the running job (the worker stops between cells).
    pub fn cancel(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Takes a listed dataset and returns the job that runs it.
    pub fn start(&mut self, root: PathBuf, set: open::OpenedSet, max_side: usize, with_full: bool) -> DatasetJob {
        self.cancel();
        self.job_id += 1;
        self.cancel = Arc::new(AtomicBool::new(false));
        self.root = Some(root);
        self.kind = set.kind;
        self.difficulty = Arc::new(set.difficulty);
        let ds = Arc::new(set.dataset);
        self.dataset = Some(ds.clone());
        self.rows.clear();
        self.errors.clear();
        self.sweep = None;
        self.view.invalidate();
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

    /// Applies a worker message about the dataset run; false if it belongs to an older job.
    pub fn apply(&mut self, msg: crate::jobs::WorkerMsg) -> bool {
        use crate::jobs::WorkerMsg as M;
        match msg {
            M::DatasetRow { job_id, row } if job_id == self.job_id => self.rows.push(*row),
            M::DatasetError { job_id, index, message } if job_id == self.job_id => self.errors.push((index, message)),
            M::DatasetDone { job_id, .. } if job_id == self.job_id => self.running = false,
            _ => return false,
        }
        true
    }
}

/// Asks for a dataset folder (native dialog off the UI thread).
pub fn pick_folder(app: &StudioApp) {
    let start = app.settings.last_dir.clone();
    app.io.spawn(move || {
        let mut d = rfd::FileDialog::new().set_title("Open a dataset folder");
        if let Some(dir) = start {
            d = d.set_directory(dir);
        }
        d.pick_folder().map(IoMsg::PickedDataset)
    });
}

/// Lists `root` on a helper thread; the answer comes back as [`IoMsg::DatasetOpened`].
pub fn open_folder(app: &mut StudioApp, root: PathBuf) {
    app.browser.opening = true;
    app.browser.root = Some(root.clone());
    let classes = app.classes();
    app.io.spawn(move || Some(IoMsg::DatasetOpened(open::open_dataset(&root, &classes).map(Box::new))));
}

/// A listed dataset arrived: start running it, or say why not.
pub fn opened(app: &mut StudioApp, result: Result<Box<open::OpenedSet>, String>) {
    app.browser.opening = false;
    let set = match result {
        Ok(s) => s,
        Err(e) => {
            app.say(e, true);
            return;
        }
    };
    let root = app.browser.root.clone().unwrap_or_else(|| set.dataset.root.clone());
    if !set.dataset.skipped.is_empty() {
        app.say(
            format!("{}: left out {} unreadable or unpaired file(s)", root.display(), set.dataset.skipped.len()),
            true,
        );
    }
    let with_full = matches!(app.full_model, super::app::ModelSlot::Ready(_));
    let job = app.browser.start(root, *set, app.settings.max_side, with_full);
    if let Some(w) = app.worker.as_mut() {
        w.run_dataset(job);
    }
}

/// Opens the row's image in the inspector.
pub fn open_row(app: &mut StudioApp, row: usize) {
    let (Some(ds), Some(r)) = (app.browser.dataset.clone(), app.browser.rows.get(row)) else { return };
    app.browser.opened = Some(r.index);
    app.io.open_sample(ds, r.index);
    app.view.tab = super::view_state::Tab::Inspector;
}

/// Draws the tab.
pub fn show(ui: &mut eframe::egui::Ui, app: &mut StudioApp) {
    use eframe::egui;
    ui.horizontal_wrapped(|ui| {
        if ui.button("Open dataset folder...").clicked() {
            pick_folder(app);
        }
        let b = &app.browser;
        if b.opening {
            ui.spinner();
            ui.label("listing the folder...");
        }
        if let Some(root) = &b.root {
            ui.label(egui::RichText::new(root.display().to_string()).strong());
            if !b.kind.is_empty() {
                ui.label(format!("({})", b.kind));
            }
        }
        let (done, total) = (b.processed(), b.total());
        if total > 0 {
            let bar = egui::ProgressBar::new(done as f32 / total as f32)
                .text(format!("{done} / {total} images"))
                .desired_width(220.0);
            ui.add(bar);
            if b.running {
                if ui.button("Cancel").clicked() {
                    app.browser.cancel();
                }
            } else if done < total {
                ui.label("cancelled");
            }
        }
        if !app.browser.errors.is_empty() {
            let n = app.browser.errors.len();
            ui.menu_button(format!("{n} failed"), |ui| {
                for (i, m) in app.browser.errors.iter().take(50) {
                    ui.label(format!("#{i}: {m}"));
                }
            });
        }
        if ui.add_enabled(!app.browser.rows.is_empty(), egui::Button::new("Export CSV...")).clicked() {
            csv::save(app);
        }
    });
    if app.browser.dataset.is_none() && !app.browser.opening {
        ui.add_space(20.0);
        ui.label(
            "Open a folder of images to run the model over all of it: a Cityscapes tree (or one made by \
             `add synth`), PASCAL VOC, images/ + masks/, or images with *_label.png masks beside them.",
        );
        return;
    }
    ui.separator();
    egui::Panel::right("confusion").default_size(380.0).show(ui, |ui| confusion::show(ui, app));
    table::show(ui, app);
}
