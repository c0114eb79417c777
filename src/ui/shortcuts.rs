//! Keyboard shortcuts (APP.md): arrows = previous/next image of the folder, 1-9 = exit,
//! 0 = follow the policy, F full, G label, D diff (again: vs label), C confidence (again:
//! next kind, then the EDM-map), M mask, B A/B flip, S side by side, H hide overlays, R fit.

use super::app::StudioApp;
use super::settings::{ConfKind, Overlay};
use super::view_state::Selection;
use eframe::egui::{self, Key};

/// The shortcut list, for the help menu.
pub const HELP: &[(&str, &str)] = &[
    ("Left / Right", "previous / next image in the folder"),
    ("1-9", "show that exit"),
    ("0", "follow the policy's choice"),
    ("M", "exit mask"),
    ("F", "full model"),
    ("G", "label"),
    ("D", "difference (again: correct/wrong vs label)"),
    ("C", "confidence (again: entropy, then EDM-map)"),
    ("B", "A/B flip"),
    ("S", "side by side"),
    ("H", "hide / show overlays"),
    ("R", "fit the image"),
    ("I / N / P / T", "tabs: inspector, network, plots, dataset table"),
];

/// Applies the shortcuts pressed this frame (none while a text field has the keyboard).
pub fn handle(app: &mut StudioApp, ctx: &egui::Context) {
    if ctx.text_edit_focused() {
        return;
    }
    let pressed = |k: Key| ctx.input(|i| i.key_pressed(k) && i.modifiers.is_none());
    if pressed(Key::ArrowRight) {
        app.step_folder(1);
    }
    if pressed(Key::ArrowLeft) {
        app.step_folder(-1);
    }
    const NUMS: [Key; 9] =
        [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7, Key::Num8, Key::Num9];
    for (k, key) in NUMS.into_iter().enumerate() {
        if pressed(key) && k < app.num_exits() {
            app.view.selection = Selection::Exit(k);
            if matches!(app.settings.overlay, Overlay::Full | Overlay::Label | Overlay::None) {
                app.settings.overlay = Overlay::Mask;
            }
        }
    }
    if pressed(Key::Num0) {
        app.view.selection = Selection::Auto;
    }
    let s = &mut app.settings;
    let toggle = |s: &mut super::settings::Settings, o: Overlay| {
        s.overlay = if s.overlay == o { Overlay::Mask } else { o };
    };
    if pressed(Key::M) {
        s.overlay = Overlay::Mask;
    }
    if pressed(Key::F) {
        toggle(s, Overlay::Full);
    }
    if pressed(Key::G) {
        toggle(s, Overlay::Label);
    }
    if pressed(Key::D) {
        s.overlay = if s.overlay == Overlay::DiffFull { Overlay::DiffLabel } else { Overlay::DiffFull };
    }
    if pressed(Key::C) {
        (s.overlay, s.conf_kind) = match (s.overlay, s.conf_kind) {
            (Overlay::Confidence, ConfKind::MaxProb) => (Overlay::Confidence, ConfKind::Entropy),
            (Overlay::Confidence, ConfKind::Entropy) => (Overlay::EdmMap, ConfKind::MaxProb),
            _ => (Overlay::Confidence, ConfKind::MaxProb),
        };
    }
    if pressed(Key::S) {
        s.compare = !s.compare;
    }
    if pressed(Key::B) {
        app.view.flip = !app.view.flip;
    }
    if pressed(Key::H) {
        app.view.hide_all = !app.view.hide_all;
    }
    if pressed(Key::R) {
        app.view.reset_zoom();
    }
    use super::view_state::Tab;
    for (key, tab) in [(Key::I, Tab::Inspector), (Key::N, Tab::Network), (Key::P, Tab::Plots), (Key::T, Tab::Dataset)] {
        if pressed(key) {
            app.view.tab = tab;
        }
    }
}
