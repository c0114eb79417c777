//! What the main view shows before any image: how to start, and the sample gallery as a grid
//! of previews (or a generated scene when no gallery ships with the build).

use super::files;
use super::panel::{Action, Actions, Ctx};
use eframe::egui::{self, RichText, vec2};

pub fn show(ui: &mut egui::Ui, ctx: &Ctx, acts: &mut Actions) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space(30.0);
            ui.heading("ADD Studio");
            ui.label("See how Auto-Dynamic-DeepLab segments an image, exit by exit.");
            ui.add_space(10.0);
            ui.label("Drop an image on the window, or:");
            ui.horizontal(|ui| {
                ui.add_space((ui.available_width() - 220.0).max(0.0) / 2.0);
                if ui.button("Open image...").clicked() {
                    acts.spawn(files::pick_image(ctx.settings.last_dir.clone()));
                }
                if ui.button("Open folder...").clicked() {
                    acts.spawn(files::pick_folder(ctx.settings.last_dir.clone()));
                }
            });
            ui.add_space(14.0);
            if ctx.gallery.is_empty() {
                ui.label(RichText::new("No sample gallery found (assets/samples).").weak());
                if ui.button("Try a generated street scene").clicked() {
                    let (image, label) = crate::jobs::demo::street_scene(1024, 512);
                    acts.push(Action::ShowImage { name: "generated street scene".into(), image, label: Some(label) });
                }
                return;
            }
            ui.label(RichText::new("Samples, easy to hard").strong());
        });
        gallery(ui, ctx, acts);
    });
}

fn gallery(ui: &mut egui::Ui, ctx: &Ctx, acts: &mut Actions) {
    let mut open = None;
    let w = super::files::THUMB_W as f32;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing = vec2(10.0, 10.0);
        for s in ctx.gallery {
            ui.vertical(|ui| {
                ui.set_width(w);
                let clicked = match ctx.gallery_thumbs.get(&s.path) {
                    Some(t) => {
                        let size = t.size_vec2() * (w / t.size_vec2().x.max(1.0));
                        let img = egui::Image::new((t.id(), size))
                            .sense(egui::Sense::click())
                            .alt_text(format!("Open {}", s.name));
                        ui.add(img).clicked()
                    }
                    None => false,
                };
                let b = ui.button(&s.name);
                let b = match &s.note {
                    Some(n) => b.on_hover_text(n),
                    None => b,
                };
                if clicked || b.clicked() {
                    open = Some(s.path.clone());
                }
            });
        }
    });
    if let Some(p) = open {
        acts.push(Action::Open(p));
    }
}
