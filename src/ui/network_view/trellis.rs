//! The 12 x 4 trellis of the Auto-DeepLab search space as a [`Diagram`]: every possible node
//! and edge faint, the searched path bold from the stem, the exits as markers under their
//! cells, dense connections on demand, and for the current image the cells executed (coloured by
//! their time), the cells skipped (grey) and the exit taken (lit). The grid is fixed, so plain
//! arithmetic places everything; no layout engine.

use super::diagram::{Diagram, Palette, Prim, ink_on, time_color};
use crate::network::card::{ArchCard, ModelKind, NUM_CELLS, NUM_LEVELS};
use crate::search::trellis::{Beta, RATES, edge_exists, node_exists, target};
use eframe::egui::{Align2, Color32, Pos2, Rect, pos2, vec2};

const LEFT: f32 = 86.0;
const RIGHT: f32 = 28.0;
const TOP: f32 = 62.0;
const ROW: f32 = 58.0;
const NODE: [f32; 2] = [34.0, 24.0];
/// Height of the diagram (the width follows the panel).
pub const HEIGHT: f32 = TOP + 3.0 * ROW + 104.0;
/// Narrowest width the labels fit in.
pub const MIN_WIDTH: f32 = 640.0;

/// Which dense connections to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DenseMode {
    #[default]
    Off,
    /// Only the inputs of the selected cell.
    Selected,
    All,
}

/// What the current image did on the path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunState {
    /// Time of each cell executed so far, by cell (cell 0's without the stem).
    pub cell_ms: Vec<Option<f64>>,
    /// The stem's time, once cell 0 ran: told apart so that cell 0 is coloured by its own work.
    pub stem_ms: Option<f64>,
    /// The run is over: path cells without a time were skipped.
    pub finished: bool,
    /// The exit whose answer is shown (the policy's decision).
    pub exit_taken: Option<usize>,
    /// Whether each exit's head ran.
    pub exits_computed: Vec<bool>,
}

/// How to draw.
#[derive(Debug, Clone, Default)]
pub struct TrellisOpts {
    pub dense: DenseMode,
    /// Normalised beta of the search (edge thickness), when the model has a search history.
    pub beta: Option<Beta>,
    pub selected: Option<usize>,
}

fn x_of(column: usize, width: f32) -> f32 {
    LEFT + column as f32 * (width - LEFT - RIGHT) / NUM_CELLS as f32
}

fn y_of(level: u8) -> f32 {
    TOP + level as f32 * ROW
}

/// Centre of cell `i`'s node at `level` (column 0 is the stem).
fn node(i: usize, level: u8, width: f32) -> Pos2 {
    pos2(x_of(i + 1, width), y_of(level))
}

/// The box of cell `i` on the path.
pub fn cell_rect(card: &ArchCard, i: usize, width: f32) -> Rect {
    Rect::from_center_size(node(i, card.path[i], width), vec2(NODE[0], NODE[1]))
}

fn text(pos: Pos2, s: impl Into<String>, size: f32, color: Color32, anchor: Align2) -> Prim {
    Prim::Text { pos, text: s.into(), size, color, anchor, bg: None }
}

/// Builds the trellis `width` points wide. Returns the diagram and each path cell's box (for
/// clicks and hovers).
pub fn build(
    card: &ArchCard,
    run: &RunState,
    opts: &TrellisOpts,
    width: f32,
    pal: &Palette,
) -> (Diagram, Vec<(usize, Rect)>) {
    let width = width.max(MIN_WIDTH);
    let mut p = Vec::new();
    let stem = pos2(x_of(0, width), y_of(0));
    search_space(opts, width, stem, pal, &mut p);
    // The searched path, lit where this image ran.
    for i in 0..NUM_CELLS {
        let a = if i == 0 { stem } else { node(i - 1, card.path[i - 1], width) };
        let b = node(i, card.path[i], width);
        let ran = run.cell_ms.get(i).copied().flatten().is_some();
        let color = if ran {
            pal.path
        } else if run.finished {
            pal.skipped
        } else {
            pal.path.gamma_multiply(0.55)
        };
        p.push(Prim::Line { a, b, width: 4.0, color });
    }
    dense_edges(card, opts, width, pal, &mut p);
    // Nodes: faint dots off the path, boxes on it.
    for i in 0..NUM_CELLS {
        for l in 0..NUM_LEVELS {
            if node_exists(i, l as usize) && card.path[i] != l {
                p.push(Prim::Circle { center: node(i, l, width), radius: 4.5, fill: pal.faint, stroke: None });
            }
        }
    }
    p.push(Prim::Rect {
        rect: Rect::from_center_size(stem, vec2(NODE[0], NODE[1])),
        radius: 4.0,
        fill: pal.faint,
        stroke: None,
    });
    p.push(text(stem, "S", 12.0, pal.text, Align2::CENTER_CENTER));
    let times: Vec<f64> = run.cell_ms.iter().flatten().copied().collect();
    let (tmin, tmax) = times.iter().fold((f64::MAX, 0f64), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    let hits = path_cells(card, run, opts, width, tmax, pal, &mut p);
    exit_markers(card, run, width, pal, &mut p);
    legend(run, opts, (tmin, tmax), &times, pal, &mut p);
    (Diagram { size: vec2(width, HEIGHT), background: pal.background, prims: p }, hits)
}

/// The header (cell numbers, levels) and every edge of the search space, faint; with a search
/// history, as thick as its beta.
fn search_space(opts: &TrellisOpts, width: f32, stem: Pos2, pal: &Palette, p: &mut Vec<Prim>) {
    // Headers: cell numbers and levels.
    p.push(text(pos2(stem.x, 14.0), "stem", 12.0, pal.weak_text, Align2::CENTER_TOP));
    for i in 0..NUM_CELLS {
        p.push(text(pos2(x_of(i + 1, width), 14.0), format!("{i}"), 12.0, pal.weak_text, Align2::CENTER_TOP));
    }
    for l in 0..NUM_LEVELS {
        let label = format!("L{l}  1/{}", 4 << l);
        p.push(text(pos2(10.0, y_of(l)), label, 12.0, pal.weak_text, Align2::LEFT_CENTER));
    }
    for i in 0..NUM_CELLS {
        for s in 0..NUM_LEVELS as usize {
            for r in 0..RATES {
                if !edge_exists(i, s, r) {
                    continue;
                }
                let t = target(s, r).expect("edge exists") as u8;
                let a = if i == 0 { stem } else { node(i - 1, s as u8, width) };
                let b = node(i, t, width);
                let (w, c) = match &opts.beta {
                    Some(beta) => (0.6 + 7.0 * beta[i][s][r].clamp(0.0, 1.0), pal.path.gamma_multiply(0.45)),
                    None => (1.0, pal.faint),
                };
                p.push(Prim::Line { a, b, width: w, color: c });
            }
        }
    }
}

/// The path's cells, coloured by their time (share of the slowest), the taken exit's cell
/// ringed; returns each cell's box for clicks and hovers.
fn path_cells(
    card: &ArchCard,
    run: &RunState,
    opts: &TrellisOpts,
    width: f32,
    tmax: f64,
    pal: &Palette,
    p: &mut Vec<Prim>,
) -> Vec<(usize, Rect)> {
    let newest = if run.finished { None } else { run.cell_ms.iter().rposition(|t| t.is_some()) };
    let exit_cells = card.exit_cells();
    let mut hits = Vec::new();
    for i in 0..NUM_CELLS {
        let rect = cell_rect(card, i, width);
        let fill = match run.cell_ms.get(i).copied().flatten() {
            // Share of the slowest cell's time, so near-equal cells get near-equal colours.
            Some(ms) => time_color((ms / tmax.max(1e-9)) as f32),
            None if run.finished => pal.skipped,
            None => pal.background,
        };
        let taken = run.exit_taken.and_then(|k| exit_cells.get(k)) == Some(&i);
        if taken {
            p.push(Prim::Rect { rect: rect.expand(5.0), radius: 7.0, fill: pal.exit_taken, stroke: None });
        }
        let stroke = if opts.selected == Some(i) {
            Some((2.5, pal.selected))
        } else if newest == Some(i) {
            Some((3.0, pal.text))
        } else {
            Some((1.5, pal.path))
        };
        p.push(Prim::Rect { rect, radius: 4.0, fill, stroke });
        let ink = if fill == pal.background { pal.text } else { ink_on(fill) };
        p.push(text(rect.center(), format!("{i}"), 13.0, ink, Align2::CENTER_CENTER));
        hits.push((i, rect.expand(3.0)));
    }
    hits
}

/// Cells whose h0 fuses earlier cells, with their sources.
pub fn dense_inputs(card: &ArchCard, i: usize) -> Vec<usize> {
    if card.kind == ModelKind::Add && crate::network::model::is_dense_in(card, i) {
        (0..i - 1).collect()
    } else {
        Vec::new()
    }
}

fn dense_edges(card: &ArchCard, opts: &TrellisOpts, width: f32, pal: &Palette, p: &mut Vec<Prim>) {
    let targets: Vec<usize> = match (opts.dense, opts.selected) {
        (DenseMode::Off, _) | (DenseMode::Selected, None) => return,
        (DenseMode::Selected, Some(i)) => vec![i],
        (DenseMode::All, _) => (0..NUM_CELLS).collect(),
    };
    for i in targets {
        let b = cell_rect(card, i, width).center_top();
        for j in dense_inputs(card, i) {
            let a = cell_rect(card, j, width).center_top();
            let lift = (10.0 + 3.0 * (i - j) as f32).min(30.0);
            let pts = [a, a - vec2(0.0, lift), b - vec2(0.0, lift), b];
            p.push(Prim::Curve { pts, width: 1.3, color: pal.dense });
        }
    }
}

fn exit_markers(card: &ArchCard, run: &RunState, width: f32, pal: &Palette, p: &mut Vec<Prim>) {
    for (k, &cell) in card.exit_cells().iter().enumerate() {
        let r = cell_rect(card, cell, width);
        let top = r.bottom() + 8.0;
        let c = r.center().x;
        let fill = if run.exit_taken == Some(k) {
            pal.exit_taken
        } else if run.exits_computed.get(k).copied().unwrap_or(false) {
            pal.path
        } else {
            pal.faint
        };
        p.push(Prim::Poly { pts: vec![pos2(c - 7.0, top), pos2(c + 7.0, top), pos2(c, top + 10.0)], fill });
        p.push(text(pos2(c, top + 12.0), format!("E{}", k + 1), 11.0, pal.text, Align2::CENTER_TOP));
    }
}

fn legend(
    run: &RunState,
    opts: &TrellisOpts,
    (tmin, tmax): (f64, f64),
    times: &[f64],
    pal: &Palette,
    p: &mut Vec<Prim>,
) {
    let y = HEIGHT - 24.0;
    let mut x = 12.0;
    if !times.is_empty() {
        for s in 0..20 {
            let r = Rect::from_min_size(pos2(x + s as f32 * 4.0, y - 6.0), vec2(4.0, 12.0));
            p.push(Prim::Rect { rect: r, radius: 0.0, fill: time_color(s as f32 / 19.0), stroke: None });
        }
        let stem = run.stem_ms.map(|s| format!("; stem {s:.2} ms")).unwrap_or_default();
        let label = format!("cell time 0 .. {tmax:.2} ms (fastest here {tmin:.2}){stem}");
        p.push(text(pos2(x + 86.0, y), label.clone(), 12.0, pal.text, Align2::LEFT_CENTER));
        x += 96.0 + Diagram::text_width(&label, 12.0);
    } else {
        let label = "no image run yet: open one to see executed cells";
        p.push(text(pos2(x, y), label, 12.0, pal.weak_text, Align2::LEFT_CENTER));
        x += Diagram::text_width(label, 12.0) + 16.0;
    }
    let mut item = |x: &mut f32, swatch: Prim, label: &str| {
        p.push(swatch);
        p.push(text(pos2(*x + 18.0, y), label, 12.0, pal.text, Align2::LEFT_CENTER));
        *x += 30.0 + Diagram::text_width(label, 12.0);
    };
    let sw = |x: f32| Rect::from_center_size(pos2(x + 6.0, y), vec2(12.0, 12.0));
    if run.finished && run.cell_ms.iter().any(|t| t.is_none()) {
        let swatch = Prim::Rect { rect: sw(x), radius: 2.0, fill: pal.skipped, stroke: None };
        item(&mut x, swatch, "skipped");
    }
    let tri = |x: f32| Prim::Poly {
        pts: vec![pos2(x, y - 5.0), pos2(x + 12.0, y - 5.0), pos2(x + 6.0, y + 5.0)],
        fill: pal.exit_taken,
    };
    let swatch = tri(x);
    item(&mut x, swatch, "exit taken");
    if opts.beta.is_some() {
        let line = Prim::Line { a: pos2(x, y), b: pos2(x + 12.0, y), width: 4.0, color: pal.path.gamma_multiply(0.45) };
        item(&mut x, line, "edge width = searched beta");
    }
    if opts.dense != DenseMode::Off {
        let line = Prim::Line { a: pos2(x, y), b: pos2(x + 12.0, y), width: 2.0, color: pal.dense };
        item(&mut x, line, "dense input");
    }
}
