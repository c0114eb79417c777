//! The plots tab (egui_plot): the current image (per-exit confidence and EDM score against the
//! threshold, time per cell), the dataset (speed against mIoU across thresholds for each policy
//! with the baseline and presets marked, the histogram of exits taken by difficulty), and the
//! search history (beta over epochs).
//!
//! Files: [`current`], [`dataset`], [`search`].

pub mod current;
pub mod dataset;
pub mod search;

use super::app::StudioApp;
use super::files::IoMsg;
use crate::eval::eval_file::EvalFile;
use crate::search::reference::{HistoryFile, ReferenceRun, open_history_dir};
use crate::search::result::History;
use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One (policy, threshold) setting on the speed/mIoU plane.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Policy family ("edm", "entropy", "exit", ...).
    pub family: String,
    /// The full policy text, e.g. `edm:0.12`.
    pub policy: String,
    pub miou: f64,
    pub mean_ms: f64,
    /// Against the baseline when one was measured, else against this model's last exit.
    pub speedup: f64,
}

/// What `add search` and `add eval` left next to the model.
#[derive(Debug, Clone, Default)]
pub struct ModelExtras {
    pub history: Option<Arc<History>>,
    /// What a history imported from the reference search adds (mIoU per epoch).
    pub reference: Option<Arc<ReferenceRun>>,
    /// The sweep of `eval.json`, with its presets: (name, mIoU, speed-up).
    pub sweep: Option<Arc<Vec<SweepPoint>>>,
    pub presets: Vec<(String, f64, f64)>,
    /// Problems reading files that were there.
    pub notes: Vec<String>,
    /// Only a search history opened by hand: the model's evaluation stays.
    pub history_only: bool,
}

impl ModelExtras {
    fn set_history(&mut self, h: HistoryFile) {
        self.history = Some(Arc::new(h.history));
        self.reference = h.reference.map(Arc::new);
    }
}

/// Opens a search history folder as it is (on a helper thread): one `add search` wrote, or a
/// reference search experiment folder.
pub fn open_history(app: &StudioApp, dir: PathBuf) {
    app.io.spawn(move || Some(history_message(&dir)));
}

/// The message that brings the search history in `dir` (or why it cannot) to the app.
pub fn history_message(dir: &Path) -> IoMsg {
    let mut x = ModelExtras { history_only: true, ..Default::default() };
    match open_history_dir(dir) {
        Ok(h) => x.set_history(h),
        Err(e) => x.notes.push(format!("not a search history: {e}")),
    }
    IoMsg::ModelExtras(Box::new(x))
}

/// The family of a policy text (`edm:0.1` -> `edm`).
pub fn family(policy: &str) -> String {
    policy.split(':').next().unwrap_or(policy).to_string()
}

/// Whether a policy text means "always the last exit" (how `add eval` writes its reference row).
pub fn is_last_exit(policy: &str) -> bool {
    policy == "exit:last" || policy.strip_prefix("exit:").and_then(|k| k.parse::<usize>().ok()) == Some(usize::MAX)
}

/// The sweep and presets of an `eval.json` written by `add eval`: points whose speed-up is
/// unknown (no baseline, no last-exit row) are left out, and so are presets without numbers.
pub fn parse_eval(v: &EvalFile) -> (Vec<SweepPoint>, Vec<(String, f64, f64)>) {
    let last_ms = v.sweep.iter().find(|r| is_last_exit(&r.policy)).map(|r| r.mean_ms);
    let base = v.baseline.mean_ms.or(last_ms);
    let points = v
        .sweep
        .iter()
        .filter_map(|r| {
            let speedup = r.speedup.or_else(|| base.map(|b| b / r.mean_ms))?;
            let policy = r.policy.clone();
            Some(SweepPoint { family: family(&policy), policy, miou: r.miou, mean_ms: r.mean_ms, speedup })
        })
        .collect();
    let presets = v.presets.iter().filter_map(|(n, p)| Some((n.clone(), p.miou?, p.speedup?))).collect();
    (points, presets)
}

/// Reads `search_history.json` and `eval.json` from `dir` (either may be missing).
pub fn read_extras(dir: &Path) -> ModelExtras {
    let mut x = ModelExtras::default();
    let hist = dir.join("search_history.json");
    if hist.is_file() {
        match std::fs::read_to_string(&hist)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<HistoryFile>(&t).map_err(|e| e.to_string()))
        {
            Ok(h) => x.set_history(h),
            Err(e) => x.notes.push(format!("{}: not a search history: {e}", hist.display())),
        }
    }
    let eval = dir.join("eval.json");
    if eval.is_file() {
        match EvalFile::read(&eval) {
            Ok(v) => {
                let (points, presets) = parse_eval(&v);
                x.sweep = Some(Arc::new(points));
                x.presets = presets;
            }
            Err(e) => x.notes.push(format!("{e:#}")),
        }
    }
    x
}

/// Loads what sits next to the model file `model` (on a helper thread).
pub fn load_extras(app: &StudioApp, model: PathBuf) {
    app.io.spawn(move || {
        let dir = model.parent().map(Path::to_path_buf).unwrap_or_default();
        Some(IoMsg::ModelExtras(Box::new(read_extras(&dir))))
    });
}

/// Takes loaded extras in. A history opened by hand stays when a model without one loads.
pub fn extras_arrived(app: &mut StudioApp, mut x: ModelExtras) {
    for n in &x.notes {
        app.say(n.clone(), true);
    }
    if x.history.is_some() {
        app.network.history = x.history.clone();
        app.network.show_beta = true;
    } else {
        x.history = app.extras.history.take();
        x.reference = app.extras.reference.take();
    }
    if x.history_only {
        x.sweep = app.extras.sweep.take();
        x.presets = std::mem::take(&mut app.extras.presets);
    }
    app.extras = x;
}

/// Draws the tab.
pub fn show(ui: &mut egui::Ui, app: &mut StudioApp) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.heading("Current image");
        current::show(ui, app);
        ui.separator();
        ui.heading("Dataset");
        dataset::show(ui, app);
        ui.separator();
        ui.heading("Search history");
        search::show(ui, app);
    });
}
