//! The top bar: open (dialog, folder, recent, samples), model switch, export, the overlay
//! choice, opacity, compare and flip; below it the banners (demo data, untrained weights) and
//! the messages (bad files, exports).

use super::app::{ModelSlot, StudioApp};
use super::settings::{ConfKind, Overlay};
use super::shortcuts;
use crate::jobs::Role;
use eframe::egui::{self, Color32, RichText};

pub fn show(ui: &mut egui::Ui, app: &mut StudioApp) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        file_menus(ui, app);
        ui.separator();
        if let Some(nav) = app.folder.clone() {
            if ui.button("< Prev").on_hover_text("Previous image (Left)").clicked() {
                app.step_folder(-1);
            }
            ui.label(format!("{}/{}", nav.index + 1, nav.files.len()));
            if ui.button("Next >").on_hover_text("Next image (Right)").clicked() {
                app.step_folder(1);
            }
        }
        if let Some(r) = &app.results {
            ui.label(RichText::new(&r.name).strong());
            let (w, h) = r.size();
            ui.label(format!("{w}x{h}{}", if r.label.is_some() { ", labelled" } else { "" }));
        }
        if let Some(p) = &app.io.loading {
            ui.label(format!("opening {}...", p.file_name().unwrap_or_default().to_string_lossy()));
        }
    });
    ui.horizontal_wrapped(|ui| {
        for o in Overlay::ALL {
            ui.selectable_value(&mut app.settings.overlay, o, o.name());
        }
        if app.settings.overlay == Overlay::Confidence {
            ui.separator();
            for k in [ConfKind::MaxProb, ConfKind::Entropy] {
                ui.selectable_value(&mut app.settings.conf_kind, k, k.name());
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.add(egui::Slider::new(&mut app.settings.opacity, 0.0..=1.0).text("Opacity"));
        ui.checkbox(&mut app.settings.compare, "Side by side").on_hover_text("Selected exit | full model (S)");
        ui.toggle_value(&mut app.view.flip, "A/B flip").on_hover_text("Swap A and B (B)");
        ui.toggle_value(&mut app.view.hide_all, "Hide overlays").on_hover_text("H");
        if ui.button("Fit").on_hover_text("Fit the image (R, or double-click)").clicked() {
            app.view.reset_zoom();
        }
        ui.menu_button("Keys", |ui| {
            egui::Grid::new("keys").show(ui, |ui| {
                for (k, what) in shortcuts::HELP {
                    ui.label(RichText::new(*k).monospace());
                    ui.label(*what);
                    ui.end_row();
                }
            });
        });
    });
    banners(ui, app);
    messages(ui, app);
    ui.add_space(2.0);
}

fn file_menus(ui: &mut egui::Ui, app: &mut StudioApp) {
    if ui.button("Open image...").clicked() {
        app.io.pick_image(app.settings.last_dir.clone());
    }
    if ui.button("Open folder...").clicked() {
        app.io.pick_folder(app.settings.last_dir.clone());
    }
    ui.menu_button("Recent", |ui| {
        if app.settings.recent.is_empty() {
            ui.label("nothing yet");
        }
        for p in app.settings.recent.clone() {
            if ui.button(p.display().to_string()).clicked() {
                app.open_path(p);
                ui.close();
            }
        }
    });
    ui.menu_button("Samples", |ui| {
        if app.gallery.is_empty() {
            ui.label("no sample gallery found (assets/samples)");
        }
        for s in app.gallery.clone() {
            let b = ui.button(&s.name);
            let b = match &s.note {
                Some(n) => b.on_hover_text(n),
                None => b,
            };
            if b.clicked() {
                app.open_path(s.path.clone());
                ui.close();
            }
        }
    });
    ui.menu_button("Model", |ui| {
        model_line(ui, "ADD", &app.add_model);
        model_line(ui, "Baseline", &app.full_model);
        ui.separator();
        if ui.button("Open ADD model...").clicked() {
            app.io.pick_model(Role::Add);
            ui.close();
        }
        if ui.button("Open baseline model...").clicked() {
            app.io.pick_model(Role::Full);
            ui.close();
        }
    });
    ui.menu_button("Export", |ui| {
        let enabled = app.results.is_some();
        if ui.add_enabled(enabled, egui::Button::new("Export view, masks and stats...")).clicked() {
            app.io.pick_export_dir();
            ui.close();
        }
    });
}

fn model_line(ui: &mut egui::Ui, what: &str, slot: &ModelSlot) {
    let text = match slot {
        ModelSlot::Loading => format!("{what}: loading..."),
        ModelSlot::Ready(i) => format!("{what}: {} on {}", i.card.name, i.device),
        ModelSlot::Absent => format!("{what}: none"),
        ModelSlot::Failed(e) => format!("{what}: failed: {e}"),
    };
    ui.label(text);
}

fn banners(ui: &mut egui::Ui, app: &StudioApp) {
    let mut lines: Vec<String> = app.add_model.info().and_then(|i| i.banner.clone()).into_iter().collect();
    match &app.add_model {
        ModelSlot::Loading => lines.push("loading the model...".into()),
        ModelSlot::Failed(e) => lines.push(format!("no model: {e}")),
        _ => {}
    }
    for line in lines {
        egui::Frame::new().fill(Color32::from_rgb(120, 60, 0)).inner_margin(4.0).corner_radius(3.0).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(line).color(Color32::WHITE).strong());
        });
    }
}

fn messages(ui: &mut egui::Ui, app: &mut StudioApp) {
    let mut dismiss = None;
    for (i, m) in app.messages.iter().enumerate() {
        ui.horizontal(|ui| {
            let color = if m.error { ui.visuals().error_fg_color } else { ui.visuals().text_color() };
            if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                dismiss = Some(i);
            }
            ui.label(RichText::new(&m.text).color(color));
        });
    }
    if let Some(i) = dismiss {
        app.messages.remove(i);
    }
}
