//! The central view: builds the panes (A = the selected exit, B = the full model; flipped or
//! side by side) from the overlay settings, keeps their textures current, and hands them to
//! the image view. Before any image it shows the welcome page.

use super::app::StudioApp;
use super::image_view::{self, Layer, Pane};
use super::overlay::{self, Content};
use super::textures;
use eframe::egui::{self, Color32};

pub fn show(ui: &mut egui::Ui, app: &mut StudioApp) {
    let Some(r) = &app.results else {
        super::welcome::show(ui, app);
        return;
    };
    let k = app.shown_exit().unwrap_or(0);
    let s = &app.settings;
    let a = Content::side_a(s.overlay, k, s.conf_kind);
    let b = Content::side_b(s.overlay, k, s.conf_kind);
    let (first, second) = if app.view.flip { (b, a) } else { (a, b) };
    let mut sides = vec![(if app.view.flip { "B" } else { "A" }, first)];
    if s.compare {
        sides.push((if app.view.flip { "A" } else { "B" }, second));
    }
    let ctx = ui.ctx().clone();
    let (palette, hidden) = (app.palette(), app.settings.hidden_classes.clone());
    let tint = Color32::from_white_alpha((app.settings.opacity.clamp(0.0, 1.0) * 255.0).round() as u8);
    let photo_key = format!("{}", r.image_id);
    let photo = app.tex.get(&ctx, "photo", &photo_key, textures::PHOTO, || {
        let img = &r.image;
        Some(egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw()))
    });
    let mut panes = Vec::new();
    for (i, (side, c)) in sides.into_iter().enumerate() {
        let mut layers: Vec<Layer> = photo.iter().map(|p| Layer { texture: p.0, tint: Color32::WHITE }).collect();
        let note = overlay::missing_note(c, r);
        if !app.view.hide_all && c != Content::Photo {
            let key = overlay::content_key(c, r, &hidden);
            if let Some((tex, _)) = app.tex.get(&ctx, &format!("overlay{i}"), &key, textures::MASK, || {
                overlay::content_image(c, r, &palette, &hidden)
            }) {
                layers.push(Layer { texture: tex, tint });
            }
        }
        panes.push(Pane {
            title: format!("{side}: {}", c.caption(r)),
            layers,
            colorbar: c.colorbar().filter(|_| !app.view.hide_all),
            note,
        });
    }
    let size = r.size();
    image_view::show(ui, &mut app.view, size, &panes);
}
