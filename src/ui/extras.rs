//! What `add search` and `add eval` left next to the model (or a search history opened by
//! hand): read on a helper thread, kept by the app, drawn by the plots tab and the network view.

use crate::eval::eval_file::EvalFile;
use crate::search::reference::{HistoryFile, ReferenceRun, open_history_dir};
use crate::search::result::History;
use std::path::Path;
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

/// The search history in `dir` as extras of its own (or why it cannot be read, in `notes`).
pub fn history_extras(dir: &Path) -> ModelExtras {
    let mut x = ModelExtras { history_only: true, ..Default::default() };
    match open_history_dir(dir) {
        Ok(h) => x.set_history(h),
        Err(e) => x.notes.push(format!("not a search history: {e}")),
    }
    x
}

/// The family of a policy text (`edm:0.1` -> `edm`).
pub fn family(policy: &str) -> String {
    policy.split(':').next().unwrap_or(policy).to_string()
}

/// Whether a policy text means "always the last exit" (how `add eval` writes its reference row).
pub fn is_last_exit(policy: &str) -> bool {
    policy == "full"
        || policy == "exit:last"
        || policy.strip_prefix("exit:").and_then(|k| k.parse::<usize>().ok()) == Some(usize::MAX)
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

impl ModelExtras {
    /// Takes newly loaded extras in and returns the problems to report. A history opened by
    /// hand stays when a model without one loads; the model's evaluation stays when only a
    /// history is opened.
    pub fn merge(&mut self, mut x: ModelExtras) -> Vec<String> {
        if x.history.is_none() {
            x.history = self.history.take();
            x.reference = self.reference.take();
        }
        if x.history_only {
            x.sweep = self.sweep.take();
            x.presets = std::mem::take(&mut self.presets);
        }
        let notes = std::mem::take(&mut x.notes);
        *self = x;
        notes
    }
}
