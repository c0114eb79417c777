//! The central view: builds the panes (A = the selected exit, B = the full model; flipped or
//! side by side) from the overlay settings, keeps their textures current, and hands them to
//! the image view. Before any image it shows the welcome page.

use super::image_view::{self, Layer, Pane};
use super::overlay::{self, Content};
use super::panel::{Actions, Ctx};
use super::textures;
use eframe::egui::{self, Color32};

/// Draws the view; `tex` holds the photo and overlay textures (the view's own).
pub fn show(ui: &mut egui::Ui, app: &Ctx, tex: &mut textures::Textures<String>) -> Actions {
    let mut acts = Actions::default();
    let Some(r) = app.results else {
        super::welcome::show(ui, app, &mut acts);
        return acts;
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
    let photo = tex.get(&ctx, "photo", &photo_key, textures::PHOTO, || {
        let img = &r.image;
        Some(egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw()))
    });
    let mut panes = Vec::new();
    for (i, (side, c)) in sides.into_iter().enumerate() {
        let mut layers: Vec<Layer> = photo.iter().map(|p| Layer { texture: p.0, tint: Color32::WHITE }).collect();
        let note = overlay::missing_note(c, r);
        if !app.view.hide_all && c != Content::Photo {
            let key = overlay::content_key(c, r, &hidden);
            if let Some((t, _)) = tex.get(&ctx, &format!("overlay{i}"), &key, textures::MASK, || {
                overlay::content_image(c, r, &palette, &hidden)
            }) {
                layers.push(Layer { texture: t, tint });
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
    // zoom, pan and the hovered pixel are shared view state: edit a copy, hand back a change
    let mut view = app.view.clone();
    image_view::show(ui, &mut view, size, &panes);
    if view != *app.view {
        acts.view(move |v| *v = view);
    }
    acts
}
