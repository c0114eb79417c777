//! What the main view shows before any image: how to start, and the sample gallery.

use super::app::StudioApp;
use eframe::egui::{self, RichText};

pub fn show(ui: &mut egui::Ui, app: &mut StudioApp) {
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.15);
        ui.heading("ADD Studio");
        ui.label("See how Auto-Dynamic-DeepLab segments an image, exit by exit.");
        ui.add_space(10.0);
        ui.label("Drop an image on the window, or:");
        ui.horizontal(|ui| {
            ui.add_space((ui.available_width() - 220.0).max(0.0) / 2.0);
            if ui.button("Open image...").clicked() {
                app.io.pick_image(app.settings.last_dir.clone());
            }
            if ui.button("Open folder...").clicked() {
                app.io.pick_folder(app.settings.last_dir.clone());
            }
        });
        ui.add_space(14.0);
        if app.gallery.is_empty() {
            ui.label(RichText::new("No sample gallery found (assets/samples).").weak());
            return;
        }
        ui.label(RichText::new("Samples").strong());
        ui.horizontal_wrapped(|ui| {
            for s in app.gallery.clone() {
                let b = ui.button(&s.name);
                let b = match &s.note {
                    Some(n) => b.on_hover_text(n),
                    None => b,
                };
                if b.clicked() {
                    app.open_path(s.path.clone());
                }
            }
        });
    });
}
