//! The plots tab (egui_plot): the current image (per-exit confidence and EDM score against the
//! threshold, time per cell), the dataset (speed against mIoU across thresholds for each policy
//! with the baseline and presets marked, the histogram of exits taken by difficulty), and the
//! search history (beta over epochs).
//!
//! Files: [`current`], [`dataset`], [`search`].

pub mod current;
pub mod dataset;
pub mod search;

use super::extras::SweepPoint;
use super::panel::{Actions, Ctx};
use eframe::egui;
use std::sync::Arc;

/// What the tab keeps between frames: the sweep over the dataset run's rows, with the
/// (job, rows) it covers (a sweep over 5,000 images takes a moment: not every frame).
#[derive(Default)]
pub struct PlotsState {
    sweep: Option<((u64, usize), Arc<Vec<SweepPoint>>)>,
}

/// Draws the tab.
pub fn show(ui: &mut egui::Ui, ctx: &Ctx, st: &mut PlotsState) -> Actions {
    let mut acts = Actions::default();
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.heading("Current image");
        current::show(ui, ctx);
        ui.separator();
        ui.heading("Dataset");
        dataset::show(ui, ctx, st);
        ui.separator();
        ui.heading("Search history");
        search::show(ui, ctx, &mut acts);
    });
    acts
}
