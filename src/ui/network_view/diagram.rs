//! A diagram as a flat list of drawing primitives in its own coordinates (origin top-left).
//! The trellis and the cell DAG are built once as a `Diagram`; the same list is painted with
//! egui's Painter and written as SVG, so the screen and the export cannot drift apart.

use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, Vec2};

/// One thing to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Prim {
    Line {
        a: Pos2,
        b: Pos2,
        width: f32,
        color: Color32,
    },
    /// A cubic Bezier curve (dense connections, DAG edges).
    Curve {
        pts: [Pos2; 4],
        width: f32,
        color: Color32,
    },
    Circle {
        center: Pos2,
        radius: f32,
        fill: Color32,
        stroke: Option<(f32, Color32)>,
    },
    Rect {
        rect: Rect,
        radius: f32,
        fill: Color32,
        stroke: Option<(f32, Color32)>,
    },
    /// A filled convex polygon (exit markers).
    Poly {
        pts: Vec<Pos2>,
        fill: Color32,
    },
    /// Text anchored at `pos`; `bg` paints a plate behind it so it stays readable over lines.
    Text {
        pos: Pos2,
        text: String,
        size: f32,
        color: Color32,
        anchor: Align2,
        bg: Option<Color32>,
    },
}

/// A diagram of a fixed size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagram {
    pub size: Vec2,
    pub background: Color32,
    pub prims: Vec<Prim>,
}

/// The colours a diagram is drawn with, from the current theme.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    pub background: Color32,
    pub text: Color32,
    pub weak_text: Color32,
    /// Nodes and edges that exist in the search space but are not used.
    pub faint: Color32,
    /// The searched path, nodes not executed yet.
    pub path: Color32,
    pub skipped: Color32,
    /// The exit taken: gold, as the inspector marks the chosen exit (the time ramp avoids it).
    pub exit_taken: Color32,
    pub dense: Color32,
    pub selected: Color32,
    pub text_plate: Color32,
}

impl Palette {
    pub fn from_visuals(v: &egui::Visuals) -> Palette {
        if v.dark_mode {
            Palette {
                background: Color32::from_rgb(24, 26, 30),
                text: Color32::from_gray(230),
                weak_text: Color32::from_gray(160),
                faint: Color32::from_gray(70),
                path: Color32::from_rgb(90, 140, 200),
                skipped: Color32::from_gray(95),
                exit_taken: Color32::from_rgb(255, 205, 40),
                dense: Color32::from_rgba_unmultiplied(80, 200, 220, 150),
                selected: Color32::WHITE,
                text_plate: Color32::from_rgba_unmultiplied(24, 26, 30, 220),
            }
        } else {
            Palette {
                background: Color32::from_rgb(250, 250, 252),
                text: Color32::from_gray(20),
                weak_text: Color32::from_gray(90),
                faint: Color32::from_gray(200),
                path: Color32::from_rgb(40, 90, 170),
                skipped: Color32::from_gray(170),
                exit_taken: Color32::from_rgb(230, 150, 0),
                dense: Color32::from_rgba_unmultiplied(0, 140, 170, 150),
                selected: Color32::BLACK,
                text_plate: Color32::from_rgba_unmultiplied(250, 250, 252, 220),
            }
        }
    }
}

/// Colour of a cell that took `t` of the slowest cell's time: dark violet through crimson to
/// peach, a sequential ramp that reads in both themes and never reaches the gold of the exit taken.
pub fn time_color(t: f32) -> Color32 {
    let stops = [(0.0, [70, 45, 130]), (0.5, [196, 58, 96]), (1.0, [252, 170, 130])];
    let t = t.clamp(0.0, 1.0);
    let (a, b) = if t <= 0.5 { (stops[0], stops[1]) } else { (stops[1], stops[2]) };
    let u = (t - a.0) / (b.0 - a.0);
    let c = |i: usize| (a.1[i] as f32 + (b.1[i] as f32 - a.1[i] as f32) * u).round() as u8;
    Color32::from_rgb(c(0), c(1), c(2))
}

/// Black or white, whichever reads better on `fill`.
pub fn ink_on(fill: Color32) -> Color32 {
    let l = 0.299 * fill.r() as f32 + 0.587 * fill.g() as f32 + 0.114 * fill.b() as f32;
    if l > 140.0 { Color32::BLACK } else { Color32::WHITE }
}

impl Diagram {
    /// Paints the diagram with its top-left corner at `origin`.
    pub fn paint(&self, painter: &egui::Painter, origin: Pos2) {
        let o = origin.to_vec2();
        painter.rect_filled(Rect::from_min_size(origin, self.size), 4.0, self.background);
        for p in &self.prims {
            match p {
                Prim::Line { a, b, width, color } => {
                    painter.line_segment([*a + o, *b + o], Stroke::new(*width, *color));
                }
                Prim::Curve { pts, width, color } => {
                    let shape = egui::epaint::CubicBezierShape::from_points_stroke(
                        pts.map(|p| p + o),
                        false,
                        Color32::TRANSPARENT,
                        Stroke::new(*width, *color),
                    );
                    painter.add(shape);
                }
                Prim::Circle { center, radius, fill, stroke } => {
                    let s = stroke.map_or(Stroke::NONE, |(w, c)| Stroke::new(w, c));
                    painter.circle(*center + o, *radius, *fill, s);
                }
                Prim::Rect { rect, radius, fill, stroke } => {
                    let s = stroke.map_or(Stroke::NONE, |(w, c)| Stroke::new(w, c));
                    painter.rect(rect.translate(o), *radius, *fill, s, StrokeKind::Inside);
                }
                Prim::Poly { pts, fill } => {
                    painter.add(egui::Shape::convex_polygon(pts.iter().map(|p| *p + o).collect(), *fill, Stroke::NONE));
                }
                Prim::Text { pos, text, size, color, anchor, bg } => {
                    let galley = painter.layout_no_wrap(text.clone(), FontId::proportional(*size), *color);
                    let rect = anchor.anchor_size(*pos + o, galley.size());
                    if let Some(bg) = bg {
                        painter.rect_filled(rect.expand2(Vec2::new(2.0, 0.5)), 2.0, *bg);
                    }
                    painter.galley(rect.min, galley, *color);
                }
            }
        }
    }

    /// Rough width of `text` at `size` (for layout decisions made before any painter exists,
    /// and for the plates behind SVG text).
    pub fn text_width(text: &str, size: f32) -> f32 {
        text.chars().count() as f32 * size * 0.56
    }
}
