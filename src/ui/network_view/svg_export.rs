//! The network view's diagrams as SVG: every primitive of a [`Diagram`] becomes one element, so
//! a figure for a paper or slide scales without blur. (PNG export grabs the painted pixels.)

use super::diagram::{Diagram, Prim};
use eframe::egui::{self, Align, Color32};
use std::fmt::Write as _;

fn color(c: Color32) -> String {
    let [r, g, b, a] = c.to_srgba_unmultiplied();
    if a == 255 { format!("rgb({r},{g},{b})") } else { format!("rgba({r},{g},{b},{:.3})", a as f32 / 255.0) }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn stroke_attr(stroke: &Option<(f32, Color32)>) -> String {
    match stroke {
        Some((w, c)) => format!(r#" stroke="{}" stroke-width="{w:.1}""#, color(*c)),
        None => String::new(),
    }
}

/// The diagram as a standalone SVG document.
pub fn to_svg(d: &Diagram) -> String {
    let (w, h) = (d.size.x.ceil(), d.size.y.ceil());
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="{}"/>"#, color(d.background));
    for p in &d.prims {
        let _ = match p {
            Prim::Line { a, b, width, color: c } => writeln!(
                s,
                r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="{width:.1}" stroke-linecap="round"/>"#,
                a.x,
                a.y,
                b.x,
                b.y,
                color(*c)
            ),
            Prim::Curve { pts, width, color: c } => writeln!(
                s,
                r#"<path d="M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="none" stroke="{}" stroke-width="{width:.1}"/>"#,
                pts[0].x,
                pts[0].y,
                pts[1].x,
                pts[1].y,
                pts[2].x,
                pts[2].y,
                pts[3].x,
                pts[3].y,
                color(*c)
            ),
            Prim::Circle { center, radius, fill, stroke } => writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{radius:.1}" fill="{}"{}/>"#,
                center.x,
                center.y,
                color(*fill),
                stroke_attr(stroke)
            ),
            Prim::Rect { rect, radius, fill, stroke } => writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{radius:.1}" fill="{}"{}/>"#,
                rect.min.x,
                rect.min.y,
                rect.width(),
                rect.height(),
                color(*fill),
                stroke_attr(stroke)
            ),
            Prim::Poly { pts, fill } => {
                let points: Vec<String> = pts.iter().map(|p| format!("{:.1},{:.1}", p.x, p.y)).collect();
                writeln!(s, r#"<polygon points="{}" fill="{}"/>"#, points.join(" "), color(*fill))
            }
            Prim::Text { pos, text, size, color: c, anchor, bg } => {
                text_svg(&mut s, *pos, text, *size, *c, *anchor, *bg)
            }
        };
    }
    s.push_str("</svg>\n");
    s
}

/// One text primitive (and its background box) as SVG; SVG has no box behind text.
fn text_svg(
    s: &mut String,
    pos: egui::Pos2,
    text: &str,
    size: f32,
    c: Color32,
    anchor: egui::Align2,
    bg: Option<Color32>,
) -> std::fmt::Result {
    let tw = Diagram::text_width(text, size);
    let (x0, anchor_attr) = match anchor.x() {
        Align::Min => (pos.x, "start"),
        Align::Center => (pos.x - tw / 2.0, "middle"),
        Align::Max => (pos.x - tw, "end"),
    };
    let top = match anchor.y() {
        Align::Min => pos.y,
        Align::Center => pos.y - size * 0.6,
        Align::Max => pos.y - size * 1.2,
    };
    if let Some(bg) = bg {
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2" fill="{}"/>"#,
            x0 - 2.0,
            top,
            tw + 4.0,
            size * 1.2,
            color(bg)
        );
    }
    writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="{size:.1}" fill="{}" text-anchor="{anchor_attr}">{}</text>"#,
        pos.x,
        top + size * 0.95,
        color(c),
        escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use eframe::egui::{Align2, Rect, pos2, vec2};

    #[test]
    fn every_primitive_becomes_an_element_and_text_is_escaped() {
        let d = Diagram {
            size: vec2(100.0, 50.0),
            background: Color32::BLACK,
            prims: vec![
                Prim::Line { a: pos2(0.0, 0.0), b: pos2(10.0, 10.0), width: 2.0, color: Color32::RED },
                Prim::Rect {
                    rect: Rect::from_min_size(pos2(1.0, 1.0), vec2(5.0, 5.0)),
                    radius: 1.0,
                    fill: Color32::BLUE,
                    stroke: None,
                },
                Prim::Text {
                    pos: pos2(50.0, 25.0),
                    text: "a<b & c".into(),
                    size: 12.0,
                    color: Color32::WHITE,
                    anchor: Align2::CENTER_CENTER,
                    bg: None,
                },
            ],
        };
        let svg = to_svg(&d);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<line").count(), 1);
        assert_eq!(svg.matches("<rect").count(), 2, "background and the rect");
        assert!(svg.contains("a&lt;b &amp; c"));
        assert!(svg.contains(r#"stroke="rgb(255,0,0)""#));
    }
}
