//! The class legend: palette colour, name, pixel share in the shown mask, and a checkbox per
//! class to hide it from masks (hidden classes let the photo show through).

use super::panel::{Actions, Ctx};
use eframe::egui::{self, Color32, RichText, Sense, vec2};

pub fn show(ui: &mut egui::Ui, ctx: &Ctx) -> Actions {
    let mut acts = Actions::default();
    ui.heading("Classes");
    let classes = ctx.classes();
    let shown = ctx.shown_exit();
    let derived = ctx.results.and_then(|r| shown.and_then(|k| r.add.derived(k)).cloned());
    ui.horizontal(|ui| {
        if ui.button("Show all").clicked() {
            acts.settings(|s| s.hidden_classes.clear());
        }
        if ui.button("Hide all").clicked() {
            let n = classes.len();
            acts.settings(move |s| s.hidden_classes = (0..n).collect());
        }
    });
    ui.label(RichText::new("share of pixels in the shown exit's mask").small().weak());
    egui::Grid::new("legend").num_columns(3).spacing(vec2(6.0, 2.0)).show(ui, |ui| {
        for (c, info) in classes.iter().enumerate() {
            let (rect, _) = ui.allocate_exact_size(vec2(14.0, 14.0), Sense::hover());
            let col = Color32::from_rgb(info.color[0], info.color[1], info.color[2]);
            ui.painter().rect_filled(rect, 2.0, col);
            let mut visible = !ctx.settings.is_hidden(c);
            if ui.checkbox(&mut visible, &info.name).changed() {
                acts.settings(move |s| s.set_hidden(c, !visible));
            }
            let share = derived.as_ref().map(|d| d.share(c));
            let text = match share {
                Some(s) if s > 0.0 && s < 0.001 => "<0.1%".to_string(),
                Some(s) => format!("{:.1}%", s * 100.0),
                None => "-".to_string(),
            };
            let weak = share.is_none_or(|s| s == 0.0);
            ui.label(if weak { RichText::new(text).weak() } else { RichText::new(text) });
            ui.end_row();
        }
    });
    acts
}
