//! What the properties panel and the hover tooltip say about one cell: where it sits, its
//! width, parameters and Multi-Adds (from the card, via [`NetSummary`]), its time on the
//! current image, and where its inputs come from. One function feeds both, so they agree.

use super::trellis::dense_inputs;
use crate::network::card::ArchCard;
use crate::ui::net_summary::NetSummary;
use crate::ui::results::ModelRun;
use eframe::egui;

/// Compact count: 12.3 k, 4.56 M, 7.89 G.
pub fn si(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2} G", n / 1e9),
        n if n >= 1e6 => format!("{:.2} M", n / 1e6),
        n if n >= 1e3 => format!("{:.1} k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

fn h1_source(card: &ArchCard, i: usize) -> String {
    let (from, prev) = if i == 0 { ("the stem".to_string(), 0) } else { (format!("cell {}", i - 1), card.path[i - 1]) };
    let how = match card.path[i] as i32 - prev as i32 {
        1 => "FactorizedReduce (down one level)",
        -1 => "bilinear x2, ReLU-1x1-BN (up one level)",
        _ => "ReLU-1x1-BN (same level)",
    };
    format!("{from} via {how}")
}

fn h0_source(card: &ArchCard, i: usize) -> String {
    let dense = dense_inputs(card, i);
    if !dense.is_empty() {
        let list: Vec<String> = dense.iter().map(|j| j.to_string()).collect();
        return format!("dense: cells {} fused by ReLU-1x1-BN", list.join(", "));
    }
    match i {
        0 | 1 => "the stem".into(),
        _ => format!("cell {} (two back)", i - 2),
    }
}

/// The facts about cell `i`, as (name, value) rows.
pub fn facts(
    card: &ArchCard,
    i: usize,
    summary: Option<&NetSummary>,
    run: Option<&ModelRun>,
    exit_taken: Option<usize>,
) -> Vec<(&'static str, String)> {
    let level = card.path[i];
    let mut v = vec![
        ("Cell", format!("{i} of {}", card.path.len())),
        ("Level", format!("{level} (stride {})", 4 << level)),
        ("Channels", format!("{} out = {} blocks x {}", card.cell_channels(level), card.b, card.block_channels(level))),
    ];
    match summary {
        Some(s) => {
            v.push(("Params", si(s.cell_params[i] as f64)));
            let c = &s.table.cells[i];
            let (h, w) = s.table.input;
            v.push((
                "Multi-Adds",
                format!("{} at {w}x{h} (output {}x{})", si(c.madds as f64), c.out_size.1, c.out_size.0),
            ));
        }
        None => {
            v.push(("Params", "counting...".into()));
            v.push(("Multi-Adds", "counting...".into()));
        }
    }
    let time = run.and_then(|r| r.cells.iter().find(|c| c.cell == i)).map(|c| match c.stem_ms {
        Some(stem) => format!("{:.2} ms (the stem before it: {stem:.2} ms more)", c.own_ms()),
        None => format!("{:.2} ms", c.cell_ms),
    });
    let not_run = match run {
        Some(r) if !r.is_running() => "skipped on this image",
        Some(_) => "not reached yet",
        None => "no image",
    };
    v.push(("Time (this image)", time.unwrap_or_else(|| not_run.into())));
    v.push(("h1 from", h1_source(card, i)));
    v.push(("h0 from", h0_source(card, i)));
    if let Some(k) = card.exit_cells().iter().position(|&c| c == i) {
        let taken = if exit_taken == Some(k) { " (taken on this image)" } else { "" };
        v.push(("Exit", format!("exit {}{taken}", k + 1)));
    }
    v
}

/// Draws the facts as a two-column grid; `max_width` wraps the values (the panel), None keeps
/// each on one line (the tooltip, which sizes itself).
pub fn grid(ui: &mut egui::Ui, id: &str, rows: &[(&'static str, String)], max_width: Option<f32>) {
    let mut g = egui::Grid::new(id).num_columns(2).spacing([12.0, 4.0]);
    if let Some(w) = max_width {
        g = g.max_col_width(w);
    }
    g.show(ui, |ui| {
        for (k, v) in rows {
            ui.label(egui::RichText::new(*k).strong());
            if max_width.is_some() {
                ui.add(egui::Label::new(v).wrap());
            } else {
                ui.label(v);
            }
            ui.end_row();
        }
    });
}
