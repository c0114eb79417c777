//! Plots of the image on screen: each exit's mean confidence, mean entropy and EDM score on
//! one [0, 1] axis with the policy's threshold as a line (the decision is where the score
//! crosses it), and the time each cell took.

use crate::engine::Policy;
use crate::ui::panel::Ctx;
use eframe::egui;
use egui_plot::{Bar, BarChart, HLine, Legend, Line, Plot, PlotPoints, Points};

/// (exit, mean max-prob, mean entropy, EDM score) of every exit reached.
pub fn exit_scores(ctx: &Ctx) -> Vec<(usize, Option<f32>, Option<f32>, Option<f32>)> {
    let Some(r) = ctx.results else { return Vec::new() };
    (0..r.add.exits.len())
        .filter_map(|k| {
            let e = r.add.exit(k)?;
            let d = r.add.derived(k);
            Some((
                k,
                d.map(|d| d.mean_conf),
                e.mean_entropy.or(d.map(|d| d.mean_entropy)),
                e.edm_score.or(e.edm_map_score),
            ))
        })
        .collect()
}

pub fn show(ui: &mut egui::Ui, ctx: &Ctx) {
    let Some(r) = ctx.results else {
        ui.label("Open an image to see its per-exit scores and cell times.");
        return;
    };
    let scores = exit_scores(ctx);
    let policy = ctx.settings.policy;
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.label(format!("Per exit, policy {policy}"));
        Plot::new("exit_scores")
            .height(220.0)
            .legend(Legend::default())
            .include_y(0.0)
            .include_y(1.0)
            .x_axis_label("exit")
            .allow_scroll(false)
            .show(ui, |p| {
                let bars = scores
                    .iter()
                    .filter_map(|(k, c, _, _)| Some(Bar::new(*k as f64 + 1.0, (*c)? as f64).width(0.5)))
                    .collect();
                p.bar_chart(BarChart::new("mean confidence", bars));
                let ent: Vec<[f64; 2]> =
                    scores.iter().filter_map(|(k, _, e, _)| Some([*k as f64 + 1.0, (*e)? as f64])).collect();
                p.line(Line::new("mean entropy", PlotPoints::new(ent.clone())));
                p.points(Points::new("mean entropy", PlotPoints::new(ent)).radius(3.0));
                let edm: Vec<[f64; 2]> =
                    scores.iter().filter_map(|(k, _, _, s)| Some([*k as f64 + 1.0, (*s)? as f64])).collect();
                p.points(
                    Points::new("EDM score", PlotPoints::new(edm)).radius(5.0).shape(egui_plot::MarkerShape::Diamond),
                );
                if let Some(t) = policy.threshold() {
                    let name = match policy {
                        Policy::ConfidentFraction { .. } => "threshold (confident fraction)",
                        Policy::Entropy { .. } => "threshold (entropy)",
                        _ => "threshold (EDM score)",
                    };
                    p.hline(HLine::new(name, t as f64).color(egui::Color32::from_rgb(255, 190, 40)));
                }
            });
        let ui = &mut cols[1];
        ui.label("Time per cell (ms)");
        // the stem as its own bar left of cell 0, in its own colour (it runs at full resolution
        // and would otherwise make cell 0 look like the slow cell)
        let stem: Vec<Bar> = r
            .add
            .cells
            .iter()
            .find_map(|c| c.stem_ms)
            .map(|s| Bar::new(-1.0, s).width(0.7).name("stem"))
            .into_iter()
            .collect();
        let bars: Vec<Bar> = r
            .add
            .cells
            .iter()
            .map(|c| Bar::new(c.cell as f64, c.own_ms()).width(0.7).name(format!("cell {} (L{})", c.cell, c.level)))
            .collect();
        Plot::new("cell_times").height(220.0).x_axis_label("cell (stem at -1)").allow_scroll(false).show(ui, |p| {
            p.bar_chart(BarChart::new("stem", stem).color(egui::Color32::from_gray(150)));
            p.bar_chart(BarChart::new("cell time", bars).color(egui::Color32::from_rgb(222, 97, 60)));
        });
    });
}
