//! The confusion matrix of one exit over every image of the dataset run (merged from the
//! per-image matrices of [`crate::eval::metrics::ConfusionMatrix`]), rows normalised so a
//! rare class reads as clearly as a common one. Clicking a cell filters the table to the images
//! where that mistake happens.

use super::BrowserState;
use crate::eval::metrics::ConfusionMatrix;
use crate::ui::dataset_run::DatasetRun;
use crate::ui::panel::Ctx;
use eframe::egui::{self, Color32, Sense, pos2, vec2};

/// The exit's matrix over all rows, or None before any labelled row arrived.
pub fn merged(rows: &[crate::jobs::DatasetRow], exit: usize) -> Option<ConfusionMatrix> {
    let mut out: Option<ConfusionMatrix> = None;
    for r in rows.iter().filter(|r| r.labelled) {
        let Some(x) = r.record.exits.get(exit) else { continue };
        match &mut out {
            Some(m) => m.merge(&x.confusion),
            None => out = Some(x.confusion.clone()),
        }
    }
    out
}

/// A merged matrix and what it covers: the job, the exit and how many rows it has seen.
pub struct Cached {
    job_id: u64,
    exit: usize,
    rows_seen: usize,
    matrix: Option<ConfusionMatrix>,
}

/// [`merged`] for the frame being drawn, merging only the rows that arrived since the last
/// frame (the whole run's rows once per change of job or exit, not once per frame).
pub fn merged_cached(b: &mut BrowserState, run: &DatasetRun) -> Option<ConfusionMatrix> {
    let (job_id, exit, n) = (run.job_id, b.confusion_exit, run.rows.len());
    let fresh = match &b.confusion_cache {
        Some(c) => c.job_id != job_id || c.exit != exit || c.rows_seen > n,
        None => true,
    };
    if fresh {
        b.confusion_cache = Some(Cached { job_id, exit, rows_seen: 0, matrix: None });
    }
    let c = b.confusion_cache.as_mut().expect("just set");
    if c.rows_seen < n {
        if let Some(more) = merged(&run.rows[c.rows_seen..], exit) {
            match &mut c.matrix {
                Some(m) => m.merge(&more),
                None => c.matrix = Some(more),
            }
        }
        c.rows_seen = n;
    }
    c.matrix.clone()
}

/// Draws the matrix panel.
pub fn show(ui: &mut egui::Ui, ctx: &Ctx, b: &mut BrowserState) {
    let card = ctx.card();
    ui.heading("Confusion matrix");
    ui.horizontal(|ui| {
        for k in 0..card.num_exits() {
            ui.selectable_value(&mut b.confusion_exit, k, format!("Exit {}", k + 1));
        }
    });
    let Some(m) = merged_cached(b, ctx.dataset) else {
        ui.label("No labelled image yet: the matrix needs labels.");
        return;
    };
    ui.label(format!(
        "mIoU {:.1} over {} labelled images; rows = label, columns = prediction",
        100.0 * m.miou(),
        ctx.dataset.rows.iter().filter(|r| r.labelled).count()
    ));
    let k = m.classes;
    let cell = ((ui.available_width() - 90.0) / k as f32).clamp(6.0, 18.0);
    let (rect, _) = ui.allocate_exact_size(vec2(90.0 + cell * k as f32, cell * k as f32 + 4.0), Sense::hover());
    let origin = rect.min + vec2(90.0, 0.0);
    let painter = ui.painter_at(rect);
    let text = ui.visuals().text_color();
    for l in 0..k {
        let total: u64 = (0..k).map(|p| m.get(l, p)).sum();
        let name = card.classes.get(l).map_or(format!("{l}"), |c| c.name.clone());
        painter.text(
            pos2(origin.x - 4.0, origin.y + (l as f32 + 0.5) * cell),
            egui::Align2::RIGHT_CENTER,
            name,
            egui::FontId::proportional(cell.min(11.0)),
            text,
        );
        for p in 0..k {
            let n = m.get(l, p);
            let share = if total > 0 { n as f32 / total as f32 } else { 0.0 };
            let r = egui::Rect::from_min_size(
                origin + vec2(p as f32 * cell, l as f32 * cell),
                vec2(cell - 1.0, cell - 1.0),
            );
            let base = if l == p { Color32::from_rgb(40, 170, 90) } else { Color32::from_rgb(220, 70, 50) };
            let fill =
                if n == 0 { ui.visuals().faint_bg_color } else { base.gamma_multiply(0.15 + 0.85 * share.sqrt()) };
            painter.rect_filled(r, 1.0, fill);
            if n == 0 {
                continue;
            }
            let resp = ui.interact(r, ui.scope_id().with(("confusion", l, p)), Sense::click());
            let pname = card.classes.get(p).map_or(format!("{p}"), |c| c.name.clone());
            let lname = card.classes.get(l).map_or(format!("{l}"), |c| c.name.clone());
            let label = format!("{lname} predicted as {pname}");
            resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
            let resp =
                resp.on_hover_text(format!("{label}: {n} px ({:.1}% of {lname}); click to filter", 100.0 * share));
            if resp.clicked() {
                b.view.confusion = Some((b.confusion_exit, l, p));
            }
        }
    }
}
