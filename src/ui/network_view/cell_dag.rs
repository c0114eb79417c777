//! One cell's DAG as the model really runs it: inputs h0 and h1, the B blocks (each the sum of
//! two ops over earlier states), and the concatenated output. Every edge is labelled with its
//! op, assigned to branches the way the network applies them ([`ArchCard::ops_as_run`]), so
//! what this view shows is what the weights compute.

use super::diagram::{Diagram, Palette, Prim};
use crate::network::card::{ArchCard, OP_NAMES, branch_offset};
use eframe::egui::{Align2, Pos2, Rect, pos2, vec2};

/// Height of the diagram.
pub const HEIGHT: f32 = 350.0;
/// Narrowest width the labels fit in.
pub const MIN_WIDTH: f32 = 620.0;
const BOX: [f32; 2] = [58.0, 30.0];
/// The row the blocks sit on; h0 above-left, h1 below-left.
const MID: f32 = 150.0;

/// One labelled edge of the DAG: state index over [h0, h1, b0, b1, ...] into block `block`.
#[derive(Debug, Clone, PartialEq)]
pub struct DagEdge {
    pub from: usize,
    pub block: usize,
    pub op: &'static str,
}

/// Name of state `s` over [h0, h1, b0, b1, ...].
pub fn state_name(s: usize) -> String {
    match s {
        0 => "h0".into(),
        1 => "h1".into(),
        b => format!("b{}", b - 2),
    }
}

/// The edges of `card`'s cell, in the order the network applies them.
pub fn edges(card: &ArchCard) -> Vec<DagEdge> {
    let mut out = Vec::new();
    for (branch, op) in card.ops_as_run() {
        let block = (0..card.b).rfind(|&k| branch_offset(k) <= branch).expect("validated genotype");
        out.push(DagEdge { from: branch - branch_offset(block), block, op: OP_NAMES[op] });
    }
    out
}

fn centre(s: usize, b: usize, width: f32) -> Pos2 {
    let dx = (width - 170.0 - 150.0) / (b.max(2) - 1) as f32;
    match s {
        0 => pos2(60.0, MID - 72.0),
        1 => pos2(60.0, MID + 72.0),
        k => pos2(170.0 + (k - 2) as f32 * dx, MID),
    }
}

fn text(pos: Pos2, s: impl Into<String>, size: f32, color: eframe::egui::Color32, anchor: Align2) -> Prim {
    Prim::Text { pos, text: s.into(), size, color, anchor, bg: None }
}

/// Builds the DAG of `card`'s cell for cell `cell` (the title and input notes name it). Each
/// block's first input arrives from above and its second from below, each op's name sits where
/// its edge enters the block, so no two labels share a place.
pub fn build(card: &ArchCard, cell: usize, notes: &[String], width: f32, pal: &Palette) -> Diagram {
    let width = width.max(MIN_WIDTH);
    let b = card.b;
    let mut p = Vec::new();
    let level = card.path[cell];
    let title = format!(
        "Cell {cell}: {b} blocks of {} channels at level {level} (1/{}), output {} channels",
        card.block_channels(level),
        4 << level,
        card.cell_channels(level)
    );
    p.push(text(pos2(12.0, 10.0), title, 13.0, pal.text, Align2::LEFT_TOP));
    let out_c = pos2(width - 50.0, MID);
    let rect_of = |s: usize| Rect::from_center_size(centre(s, b, width), vec2(BOX[0], BOX[1]));
    // Every block feeds the concatenated output: arcs below everything else.
    for k in 0..b {
        let a = rect_of(k + 2).center_bottom();
        let depth = 100.0 + 7.0 * (b - k) as f32;
        let end = out_c + vec2(0.0, BOX[1] / 2.0);
        let pts = [a, a + vec2(0.0, depth), end + vec2(0.0, depth), end];
        p.push(Prim::Curve { pts, width: 1.0, color: pal.weak_text.gamma_multiply(0.6) });
    }
    let es = edges(card);
    let mut labels = Vec::new();
    for (n, e) in es.iter().enumerate() {
        let first = es.iter().position(|x| x.block == e.block) == Some(n);
        let sgn = if first { -1.0 } else { 1.0 };
        let to = rect_of(e.block + 2);
        let end = to.center() + vec2(0.0, sgn * BOX[1] / 2.0);
        let from = rect_of(e.from);
        let pts = if e.from < 2 {
            let s = from.right_center();
            [s, s + vec2(70.0, 0.0), end + vec2(0.0, sgn * 55.0), end]
        } else {
            let s = from.center() + vec2(0.0, sgn * BOX[1] / 2.0);
            let lift = 28.0 + 10.0 * (e.block + 2 - e.from) as f32;
            [s, s + vec2(0.0, sgn * lift), end + vec2(0.0, sgn * lift), end]
        };
        p.push(Prim::Curve { pts, width: 1.8, color: pal.path });
        labels.push(Prim::Text {
            pos: end + vec2(0.0, sgn * 13.0),
            text: e.op.to_string(),
            size: 11.0,
            color: pal.text,
            anchor: Align2::CENTER_CENTER,
            bg: Some(pal.text_plate),
        });
    }
    for s in 0..b + 2 {
        let r = rect_of(s);
        let fill = if s < 2 { pal.faint } else { pal.path };
        p.push(Prim::Rect { rect: r, radius: 5.0, fill, stroke: None });
        let label = if s < 2 { state_name(s) } else { format!("{} +", state_name(s)) };
        p.push(text(r.center(), label, 13.0, super::diagram::ink_on(fill), Align2::CENTER_CENTER));
    }
    let out = Rect::from_center_size(out_c, vec2(BOX[0] + 14.0, BOX[1]));
    p.push(Prim::Rect { rect: out, radius: 5.0, fill: pal.faint, stroke: None });
    p.push(text(out.center(), "concat", 13.0, pal.text, Align2::CENTER_CENTER));
    p.extend(labels);
    for (n, note) in notes.iter().enumerate() {
        p.push(text(pos2(12.0, HEIGHT - 38.0 + 16.0 * n as f32), note.clone(), 12.0, pal.weak_text, Align2::LEFT_TOP));
    }
    Diagram { size: vec2(width, HEIGHT), background: pal.background, prims: p }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_follow_the_reference_branch_order() {
        let card = ArchCard::preset("add-2", 8).unwrap();
        let e = edges(&card);
        assert_eq!(e.len(), 10);
        // block 4's rows are (19, dil_conv_5x5), (18, sep_conv_5x5): branch 18 (b2) gets dil_conv_5x5
        let b4: Vec<_> = e.iter().filter(|x| x.block == 4).collect();
        assert_eq!((b4[0].from, b4[0].op), (4, "dil_conv_5x5"));
        assert_eq!((b4[1].from, b4[1].op), (5, "sep_conv_5x5"));
        assert_eq!((e[0].from, e[0].op, e[0].block), (0, "dil_conv_5x5", 0));
        assert_eq!(state_name(4), "b2");
    }
}
