//! The dataset browser (tab "Dataset"): open a folder, run every image in the worker with a
//! progress bar and cancel, and fill a table that streams in: exit taken, EDM score, time,
//! Multi-Adds, IoU of every exit, agreement with the full output, worst class. Sort, filter
//! (e.g. "exited early but wrong"), click a row to open it in the inspector, export as CSV, and
//! a confusion matrix per exit whose cells filter the table.
//!
//! The rows come from the app's [`DatasetRun`] (computed on the worker by
//! [`crate::jobs::dataset`]); this panel owns only how they are shown: [`table`] (the
//! virtualised table and its order), [`confusion`], [`csv`].

pub mod confusion;
pub mod csv;
pub mod table;

use super::dataset_run::{DatasetRun, ReportExport};
use super::files::IoMsg;
use super::panel::{Action, Actions, Ctx};
use super::playlist::Playlist;
use super::view_state::Tab;
use eframe::egui;

/// What the browser owns: how the rows are shown. The rows themselves are the app's.
#[derive(Default)]
pub struct BrowserState {
    pub view: table::TableView,
    /// The exit whose confusion matrix is shown.
    pub confusion_exit: usize,
    /// The sample opened in the inspector from this table (highlighted).
    pub opened: Option<usize>,
    pub confusion_cache: Option<confusion::Cached>,
    /// The job the order and the caches were computed for.
    job_id: u64,
}

impl BrowserState {
    /// The dataset indices of the rows shown (filtered), in the table's order.
    pub fn shown_samples(&self, rows: &[crate::jobs::DatasetRow]) -> Vec<usize> {
        self.view.order.iter().filter_map(|&r| rows.get(r).map(|r| r.index)).collect()
    }

    /// Starts over when a new job replaced the rows.
    fn follow(&mut self, run: &DatasetRun) {
        if self.job_id != run.job_id {
            self.job_id = run.job_id;
            self.view.invalidate();
            self.opened = None;
        }
    }
}

/// Asks for a dataset folder (the answer comes back as [`IoMsg::PickedDataset`]).
pub fn pick_folder(ctx: &Ctx, acts: &mut Actions) {
    let start = ctx.settings.last_dir.clone();
    acts.spawn(move || {
        let mut d = rfd::FileDialog::new().set_title("Open a dataset folder");
        if let Some(dir) = start {
            d = d.set_directory(dir);
        }
        d.pick_folder().map(IoMsg::PickedDataset)
    });
}

/// Opens row `row` (an index into the rows) in the inspector.
fn open_row(ctx: &Ctx, state: &mut BrowserState, acts: &mut Actions, row: usize) {
    let run = ctx.dataset;
    let (Some(ds), Some(r)) = (run.dataset.clone(), run.rows.get(row)) else { return };
    state.opened = Some(r.index);
    acts.push(Action::OpenSample(ds, r.index));
    acts.tab(Tab::Inspector);
}

/// Presents the rows shown (filtered, in the table's order), from the first.
fn present_rows(ctx: &Ctx, state: &BrowserState, acts: &mut Actions) {
    let Some(ds) = ctx.dataset.dataset.clone() else { return };
    let order = state.shown_samples(&ctx.dataset.rows);
    acts.push(Action::PresentPlaylist(Playlist::of_rows(ds, &order, None)));
}

/// The report being written: how far, and its Cancel.
fn report_progress(ui: &mut egui::Ui, r: &ReportExport, acts: &mut Actions) {
    let (done, total) = r.progress;
    let bar = egui::ProgressBar::new(done as f32 / total.max(1) as f32)
        .text(format!("report: {done} / {total} images"))
        .desired_width(220.0);
    ui.add(bar);
    if r.cancelling() {
        ui.label("cancelling...");
    } else if ui.button("Cancel report").clicked() {
        acts.push(Action::CancelReport);
    }
}

/// Draws the tab.
pub fn show(ui: &mut egui::Ui, ctx: &Ctx, state: &mut BrowserState) -> Actions {
    let mut acts = Actions::default();
    let b = ctx.dataset;
    state.follow(b);
    ui.horizontal_wrapped(|ui| {
        if ui.button("Open dataset folder...").clicked() {
            pick_folder(ctx, &mut acts);
        }
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
                    acts.push(Action::CancelDataset);
                }
            } else if done < total {
                ui.label("cancelled");
            }
        }
        if !b.errors.is_empty() {
            let n = b.errors.len();
            ui.menu_button(format!("{n} failed"), |ui| {
                for (i, m) in b.errors.iter().take(50) {
                    ui.label(format!("#{i}: {m}"));
                }
            });
        }
        if ui.add_enabled(!b.rows.is_empty(), egui::Button::new("Export CSV...")).clicked() {
            csv::save(ctx, state, &mut acts);
        }
        let present =
            ui.add_enabled(b.dataset.is_some() && !state.view.order.is_empty(), egui::Button::new("Present rows"));
        if present
            .on_hover_text("Presenter mode over the rows shown, in the table's order (F5 steps, Esc leaves)")
            .clicked()
        {
            present_rows(ctx, state, &mut acts);
        }
        let done = !b.running && b.rows.iter().any(|r| r.labelled) && b.report.is_none();
        let report = ui.add_enabled(done, egui::Button::new("Export report..."));
        let report = report.on_hover_text(
            "A self-contained HTML failure report (add report) over this folder, under the current policy: \
             worst images by four criteria, per-class IoU, the confusion matrix. Needs labels.",
        );
        if report.on_disabled_hover_text("after a run over labelled images").clicked() {
            acts.spawn(|| {
                let d = rfd::FileDialog::new().set_title("An empty folder for the report");
                d.pick_folder().map(IoMsg::PickedReportDir)
            });
        }
        if let Some(r) = &b.report {
            report_progress(ui, r, &mut acts);
        }
    });
    if b.dataset.is_none() && !b.opening {
        ui.add_space(20.0);
        ui.label(
            "Open a folder of images to run the model over all of it: a Cityscapes tree (or one made by \
             `add synth`), PASCAL VOC, images/ + masks/, or images with *_label.png masks beside them.",
        );
        return acts;
    }
    ui.separator();
    egui::Panel::right("confusion").default_size(380.0).show(ui, |ui| confusion::show(ui, ctx, state));
    if let Some(row) = table::show(ui, ctx, state) {
        open_row(ctx, state, &mut acts, row);
    }
    acts
}
