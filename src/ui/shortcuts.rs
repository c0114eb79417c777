//! Keyboard shortcuts (APP.md): arrows = previous/next image of the folder, 1-9 = exit,
//! 0 = follow the policy, F full, G label, D diff (again: vs label), C confidence (again:
//! next kind, then the EDM-map), M mask, B A/B flip, S side by side, H hide overlays, R fit.

use super::panel::{Action, Actions, Ctx};
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
    ("F5", "present: full screen, step by step (Space, arrows, B blank, Esc)"),
    ("I / N / P / T", "tabs: inspector, network, plots, dataset table"),
];

/// Applies the shortcuts pressed this frame (none while a text field has the keyboard).
/// The keys pressed this frame, as actions.
pub fn handle(app: &Ctx, ctx: &egui::Context) -> Actions {
    let mut acts = Actions::default();
    if ctx.text_edit_focused() {
        return acts;
    }
    let pressed = |k: Key| ctx.input(|i| i.key_pressed(k) && i.modifiers.is_none());
    if pressed(Key::F5) && app.results.is_some() {
        acts.push(Action::Present(true));
    }
    if pressed(Key::ArrowRight) {
        acts.push(Action::StepFolder(1));
    }
    if pressed(Key::ArrowLeft) {
        acts.push(Action::StepFolder(-1));
    }
    // edited as copies, applied as one action each
    let (mut settings, mut view) = (app.settings.clone(), app.view.clone());
    const NUMS: [Key; 9] =
        [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7, Key::Num8, Key::Num9];
    for (k, key) in NUMS.into_iter().enumerate() {
        if pressed(key) && k < app.num_exits() {
            view.selection = Selection::Exit(k);
            if matches!(settings.overlay, Overlay::Full | Overlay::Label | Overlay::None) {
                settings.overlay = Overlay::Mask;
            }
        }
    }
    if pressed(Key::Num0) {
        view.selection = Selection::Auto;
    }
    let s = &mut settings;
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
        view.flip = !view.flip;
    }
    if pressed(Key::H) {
        view.hide_all = !view.hide_all;
    }
    if pressed(Key::R) {
        view.reset_zoom();
    }
    use super::view_state::Tab;
    for (key, tab) in [(Key::I, Tab::Inspector), (Key::N, Tab::Network), (Key::P, Tab::Plots), (Key::T, Tab::Dataset)] {
        if pressed(key) {
            view.tab = tab;
        }
    }
    if settings != *app.settings {
        acts.settings(move |s| *s = settings);
    }
    if view != *app.view {
        acts.view(move |v| *v = view);
    }
    acts
}
