//! The search history written by `add search`: how the weight of each cell's chosen edge (the
//! normalised beta along the final path) grew over the epochs, and the two losses. ADD keeps the
//! Auto-DeepLab cell fixed, so there is no alpha to show; the plot says so.

use crate::search::result::History;
use crate::search::trellis::target;
use crate::ui::app::StudioApp;
use crate::ui::files::IoMsg;
use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

/// Per cell, the normalised beta of the edge the final path takes, at every epoch.
pub fn path_weights(h: &History) -> Vec<Vec<[f64; 2]>> {
    let Some(last) = h.epochs.last() else { return Vec::new() };
    let path = &last.path;
    (0..path.len())
        .map(|i| {
            let s = if i == 0 { 0 } else { path[i - 1] as usize };
            let r = (0..3).find(|&r| target(s, r) == Some(path[i] as usize)).unwrap_or(1);
            h.epochs.iter().map(|e| [e.epoch as f64, e.weights[i][s][r] as f64]).collect()
        })
        .collect()
}

pub fn show(ui: &mut egui::Ui, app: &mut StudioApp) {
    ui.horizontal(|ui| {
        if ui.button("Open search history...").clicked() {
            app.io.spawn(|| {
                let p = rfd::FileDialog::new().add_filter("search history", &["json"]).pick_file()?;
                let dir = p.parent()?.to_path_buf();
                let mut x = super::read_extras(&dir);
                x.sweep = None;
                Some(IoMsg::ModelExtras(Box::new(x)))
            });
        }
        ui.label("Cell-level alpha is not searched: ADD keeps the Auto-DeepLab cell.");
    });
    let Some(h) = app.network.history.clone() else {
        ui.label("No search_history.json next to the model (written by `add search`).");
        return;
    };
    let lines = path_weights(&h);
    ui.label(format!(
        "{} epochs; final path {:?}",
        h.epochs.len(),
        h.epochs.last().map(|e| e.path.clone()).unwrap_or_default()
    ));
    ui.columns(2, |cols| {
        Plot::new("beta_epochs")
            .height(240.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("beta on the path")
            .include_y(0.0)
            .include_y(1.0)
            .show(&mut cols[0], |p| {
                for (i, pts) in lines.iter().enumerate() {
                    p.line(Line::new(format!("cell {i}"), PlotPoints::new(pts.clone())));
                }
            });
        Plot::new("search_loss")
            .height(240.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("loss")
            .show(&mut cols[1], |p| {
                let w: Vec<[f64; 2]> = h.epochs.iter().map(|e| [e.epoch as f64, e.loss]).collect();
                let a: Vec<[f64; 2]> = h.epochs.iter().filter_map(|e| Some([e.epoch as f64, e.arch_loss?])).collect();
                p.line(Line::new("weight loss (half A)", PlotPoints::new(w)));
                p.line(Line::new("architecture loss (half B)", PlotPoints::new(a)));
            });
    });
}
