//! The main image view: the photo with overlays, zoom (wheel, about the pointer) and pan
//! (drag), double-click to fit. In compare mode it shows two panes with one shared transform,
//! so the same pixel sits at the same place in both. Drawing is plain Painter calls.

use super::render::heat_color;
use super::view_state::ViewState;
use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, TextureId, Vec2, pos2, vec2};

/// One textured layer of a pane; `tint` carries the opacity.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    pub texture: TextureId,
    pub tint: Color32,
}

/// What one pane shows.
#[derive(Debug, Clone)]
pub struct Pane {
    /// Accessible label and caption, e.g. "A: exit 2".
    pub title: String,
    pub layers: Vec<Layer>,
    /// Title of the [0, 1] colour bar, when the overlay is a heatmap.
    pub colorbar: Option<String>,
    /// A line shown over the pane when its overlay has no data (e.g. "not computed").
    pub note: Option<String>,
}

/// Draws the panes side by side and handles zoom, pan and hover.
pub fn show(ui: &mut egui::Ui, view: &mut ViewState, image_size: (usize, usize), panes: &[Pane]) {
    let full = ui.available_rect_before_wrap();
    ui.allocate_rect(full, Sense::hover());
    let n = panes.len().max(1) as f32;
    let gap = 4.0;
    let w = (full.width() - gap * (n - 1.0)) / n;
    let img = vec2(image_size.0.max(1) as f32, image_size.1.max(1) as f32);
    if view.fit {
        view.zoom = (w / img.x).min(full.height() / img.y).max(1e-3);
        view.center = (img / 2.0).to_pos2();
    }
    let mut hover = None;
    for (i, pane) in panes.iter().enumerate() {
        let rect = Rect::from_min_size(pos2(full.left() + i as f32 * (w + gap), full.top()), vec2(w, full.height()));
        let resp = ui.interact(rect, ui.scope_id().with(("pane", i)), Sense::click_and_drag());
        let title = pane.title.clone();
        resp.widget_info(move || egui::WidgetInfo::labeled(egui::Role::Image, true, &title));
        if let Some(p) = interact(ui, view, rect, &resp, img) {
            hover = Some(p);
        }
        draw(ui, view, rect, img, pane);
    }
    if view.hover != hover {
        // The read-out panel was drawn before this one: draw again so it shows this pixel.
        ui.ctx().request_repaint();
    }
    view.hover = hover;
}

/// Screen position of image point `p` in a pane.
fn to_screen(view: &ViewState, rect: Rect, p: Pos2) -> Pos2 {
    rect.center() + (p - view.center) * view.zoom
}

fn interact(
    ui: &egui::Ui,
    view: &mut ViewState,
    rect: Rect,
    resp: &egui::Response,
    img: Vec2,
) -> Option<(usize, usize)> {
    if resp.double_clicked() {
        view.fit = true;
    }
    if resp.dragged() {
        view.fit = false;
        view.center -= resp.drag_delta() / view.zoom;
    }
    let pointer = resp.hover_pos()?;
    let (scroll, pinch) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
    let factor = pinch * (scroll * 0.0025).exp();
    if (factor - 1.0).abs() > 1e-4 {
        // Keep the image point under the pointer where it is.
        let before = view.center + (pointer - rect.center()) / view.zoom;
        view.zoom = (view.zoom * factor).clamp(0.02, 64.0);
        view.center = before - (pointer - rect.center()) / view.zoom;
        view.fit = false;
    }
    let p = view.center + (pointer - rect.center()) / view.zoom;
    (p.x >= 0.0 && p.y >= 0.0 && p.x < img.x && p.y < img.y).then(|| (p.x as usize, p.y as usize))
}

fn draw(ui: &egui::Ui, view: &ViewState, rect: Rect, img: Vec2, pane: &Pane) {
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::from_gray(18));
    let image_rect = Rect::from_min_max(to_screen(view, rect, Pos2::ZERO), to_screen(view, rect, img.to_pos2()));
    let uv = Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0));
    for layer in &pane.layers {
        painter.image(layer.texture, image_rect, uv, layer.tint);
    }
    let visuals = ui.visuals();
    let font = FontId::proportional(13.0);
    let caption = painter.layout_no_wrap(pane.title.clone(), font.clone(), Color32::WHITE);
    let cap_rect = Rect::from_min_size(rect.min + vec2(6.0, 6.0), caption.size() + vec2(10.0, 6.0));
    painter.rect_filled(cap_rect, 3.0, Color32::from_black_alpha(170));
    painter.galley(cap_rect.min + vec2(5.0, 3.0), caption, Color32::WHITE);
    if let Some(note) = &pane.note {
        let g = painter.layout_no_wrap(note.clone(), font.clone(), visuals.warn_fg_color);
        let r = Rect::from_center_size(rect.center_top() + vec2(0.0, 40.0), g.size() + vec2(14.0, 8.0));
        painter.rect_filled(r, 3.0, Color32::from_black_alpha(190));
        painter.galley(r.min + vec2(7.0, 4.0), g, visuals.warn_fg_color);
    }
    if let Some(title) = &pane.colorbar {
        colorbar(&painter, rect, title);
    }
}

/// The fixed [0, 1] colour bar, bottom right of a pane.
fn colorbar(painter: &egui::Painter, pane: Rect, title: &str) {
    let size = vec2(180.0, 12.0);
    let bg = Rect::from_min_size(pane.right_bottom() - size - vec2(18.0, 36.0), size + vec2(12.0, 32.0));
    painter.rect_filled(bg, 3.0, Color32::from_black_alpha(170));
    let bar = Rect::from_min_size(bg.min + vec2(6.0, 18.0), size);
    let steps = 60;
    for s in 0..steps {
        let x0 = bar.left() + bar.width() * s as f32 / steps as f32;
        let x1 = bar.left() + bar.width() * (s + 1) as f32 / steps as f32 + 0.5;
        let r = Rect::from_min_max(pos2(x0, bar.top()), pos2(x1, bar.bottom()));
        painter.rect_filled(r, 0.0, heat_color((s as f32 + 0.5) / steps as f32));
    }
    painter.rect_stroke(bar, 0.0, Stroke::new(1.0, Color32::from_gray(200)), StrokeKind::Outside);
    let font = FontId::proportional(11.0);
    let white = Color32::from_gray(230);
    painter.text(bar.left_top() - vec2(0.0, 3.0), Align2::LEFT_BOTTOM, "0", font.clone(), white);
    painter.text(bar.right_top() - vec2(0.0, 3.0), Align2::RIGHT_BOTTOM, "1", font.clone(), white);
    painter.text(bar.center_top() - vec2(0.0, 3.0), Align2::CENTER_BOTTOM, title, font, white);
}
