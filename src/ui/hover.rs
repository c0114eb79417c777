//! The hover read-out: for the pixel under the pointer, its position and colour, the label,
//! and the class and confidence at every exit and in the full model, so one glance shows
//! where along the network a pixel's answer settled.

use super::panel::Ctx;
use crate::engine::ExitMaps;
use crate::eval::label::resample;
use eframe::egui::{self, Color32, RichText, vec2};

/// Class and confidence of `maps` at image pixel (x, y).
fn at(maps: &ExitMaps, x: usize, y: usize, image: (usize, usize)) -> (u8, f32) {
    let i = resample(x, y, image, (maps.width, maps.height));
    (maps.classes[i], maps.max_prob[i])
}

pub fn show(ui: &mut egui::Ui, ctx: &Ctx) {
    ui.heading("Pixel");
    let Some(r) = ctx.results else {
        ui.label(RichText::new("Point at the image.").weak());
        return;
    };
    let Some((x, y)) = ctx.view.hover else {
        ui.label(RichText::new("Point at the image to read every exit at that pixel.").weak());
        return;
    };
    let classes = ctx.classes();
    let name = |c: u8| {
        classes
            .get(c as usize)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| if c == 255 { "ignore".into() } else { format!("class {c}") })
    };
    let swatch = |ui: &mut egui::Ui, c: u8| {
        let col = classes
            .get(c as usize)
            .map(|i| Color32::from_rgb(i.color[0], i.color[1], i.color[2]))
            .unwrap_or(Color32::GRAY);
        let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter().rect_filled(rect, 2.0, col);
    };
    let size = r.size();
    let p = r.image.get_pixel(x as u32, y as u32).0;
    ui.label(format!("x {x}, y {y}"));
    ui.label(format!("RGB {} {} {}", p[0], p[1], p[2]));
    let label = r.label.as_ref().map(|l| l.classes[resample(x, y, size, (l.width, l.height))]);
    egui::Grid::new("readout").num_columns(3).spacing(vec2(6.0, 3.0)).show(ui, |ui| {
        ui.label(RichText::new("output").strong());
        ui.label(RichText::new("class").strong());
        ui.label(RichText::new("conf").strong());
        ui.end_row();
        if let Some(l) = label {
            ui.label("label");
            ui.horizontal(|ui| {
                swatch(ui, l);
                ui.label(name(l));
            });
            ui.label("");
            ui.end_row();
        }
        let n = ctx.num_exits();
        let mut rows: Vec<(String, Option<&ExitMaps>)> =
            (0..n).map(|k| (format!("exit {}", k + 1), r.add.maps(k).map(|m| m.as_ref()))).collect();
        if let Some(f) = &r.full {
            rows.push(("full".into(), f.maps(0).map(|m| m.as_ref())));
        }
        for (what, maps) in rows {
            ui.label(what);
            match maps {
                Some(m) => {
                    let (c, conf) = at(m, x, y, size);
                    let right = label.is_some_and(|l| l == c);
                    ui.horizontal(|ui| {
                        swatch(ui, c);
                        let t = RichText::new(name(c));
                        ui.label(if label.is_some() && !right && label != Some(255) {
                            t.color(ui.visuals().error_fg_color)
                        } else {
                            t
                        });
                    });
                    ui.label(format!("{conf:.2}"));
                }
                None => {
                    ui.label(RichText::new("not computed").weak());
                    ui.label("");
                }
            }
            ui.end_row();
        }
    });
}
