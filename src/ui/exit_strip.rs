//! The exit strip: one card per exit plus the full model, in network order, each with its
//! thumbnail, cell and level, decision signal against the threshold, mean confidence,
//! agreement with the full output, IoU against the label, time and cumulative Multi-Adds.
//! The exit the policy takes is framed; exits never computed say so and offer to compute.

use super::decision::{self, Verdict};
use super::panel::{Action as AppAction, Actions, Ctx};
use super::render;
use super::results::ModelRun;
use super::textures;
use super::view_state::Selection;
use crate::engine::ExitReport;
use crate::eval::exit_numbers::ExitDerived;
use eframe::egui::{self, Color32, RichText, Stroke, vec2};

const CARD_W: f32 = 168.0;
const THUMB_W: f32 = 156.0;

/// What one card shows.
struct CardData<'a> {
    title: String,
    report: Option<&'a ExitReport>,
    derived: Option<&'a ExitDerived>,
    verdict: Option<Verdict>,
    chosen: bool,
    selected: bool,
    thumb: Option<egui::TextureId>,
    thumb_aspect: f32,
}

/// Draws the strip; `tex` holds the thumbnails (the strip's own textures).
pub fn show(ui: &mut egui::Ui, app: &Ctx, tex: &mut textures::Textures<String>) -> Actions {
    let mut acts = Actions::default();
    let Some(r) = app.results else {
        ui.label(RichText::new("Exits appear here as the network computes them.").weak());
        return acts;
    };
    let n = app.num_exits();
    let d = decision::decide(&app.settings.policy, &r.add, n);
    let shown = app.shown_exit();
    let palette = app.palette();
    let ctx = ui.ctx().clone();
    let (iw, ih) = r.size();
    let aspect = ih as f32 / iw.max(1) as f32;
    let thumb = |name: String, run: &ModelRun, k: usize, tex: &mut textures::Textures<String>| {
        let m = run.maps(k)?;
        let key = format!("{}/{}/{}", r.image_id, run.run_id, k);
        tex.get(&ctx, &name, &key, textures::MASK, || {
            Some(render::class_thumbnail(&m.classes, (m.width, m.height), THUMB_W as usize, &palette))
        })
        .map(|t| t.0)
    };
    let mut cards = Vec::new();
    for k in 0..n {
        cards.push(CardData {
            title: format!("Exit {}", k + 1),
            report: r.add.exit(k),
            derived: r.add.derived(k),
            verdict: d.verdicts.get(k).cloned(),
            chosen: d.exit == Some(k),
            selected: shown == Some(k) && app.settings.overlay != super::settings::Overlay::Full,
            thumb: thumb(format!("thumb{k}"), &r.add, k, tex),
            thumb_aspect: aspect,
        });
    }
    if let Some(f) = &r.full {
        cards.push(CardData {
            title: "Full Auto-DeepLab".into(),
            report: f.exit(0),
            derived: f.derived(0),
            verdict: None,
            chosen: false,
            selected: app.settings.overlay == super::settings::Overlay::Full,
            thumb: thumb("thumb_full".into(), f, 0, tex),
            thumb_aspect: aspect,
        });
    }
    let threshold = app.settings.policy.threshold();
    let has_label = r.label.is_some();
    let running = r.add.is_running();
    let mut action = None;
    egui::ScrollArea::horizontal().show(ui, |ui| {
        ui.horizontal_top(|ui| {
            for (i, c) in cards.iter().enumerate() {
                if let Some(a) = card(ui, c, i, threshold, has_label, running) {
                    action = Some(a);
                }
            }
        });
    });
    use super::settings::Overlay;
    match action {
        Some(Action::Select(i)) if i < n => {
            acts.view(move |v| v.selection = Selection::Exit(i));
            if matches!(app.settings.overlay, Overlay::Full | Overlay::None) {
                acts.settings(|s| s.overlay = Overlay::Mask);
            }
        }
        Some(Action::Select(_)) => acts.settings(|s| s.overlay = Overlay::Full),
        Some(Action::Compute) => acts.push(AppAction::Rerun { analysis: true }),
        None => {}
    }
    acts
}

enum Action {
    Select(usize),
    Compute,
}

fn fmt_madds(m: u64) -> String {
    if m >= 1_000_000_000 { format!("{:.2} GMAdds", m as f64 / 1e9) } else { format!("{:.1} MMAdds", m as f64 / 1e6) }
}

fn card(
    ui: &mut egui::Ui,
    c: &CardData,
    i: usize,
    threshold: Option<f32>,
    has_label: bool,
    running: bool,
) -> Option<Action> {
    let visuals = ui.visuals().clone();
    let stroke = if c.chosen {
        Stroke::new(3.0, Color32::from_rgb(255, 200, 40))
    } else if c.selected {
        Stroke::new(2.0, visuals.selection.stroke.color)
    } else {
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color)
    };
    let mut action = None;
    egui::Frame::group(ui.style()).stroke(stroke).inner_margin(5.0).show(ui, |ui| {
        ui.set_width(CARD_W - 10.0);
        ui.vertical(|ui| {
            ui.horizontal(|ui| {
                if ui
                    .selectable_label(c.selected, RichText::new(&c.title).strong())
                    .on_hover_text("Show this output")
                    .clicked()
                {
                    action = Some(Action::Select(i));
                }
                if c.chosen {
                    ui.label(RichText::new("CHOSEN").strong().color(Color32::from_rgb(255, 200, 40)));
                }
            });
            if thumbnail(ui, c, running) {
                action = Some(Action::Select(i));
            }
            let Some(e) = c.report else {
                if !running {
                    ui.label(RichText::new("not reached").weak());
                    if ui.button(format!("Compute {}", c.title.to_lowercase())).clicked() {
                        action = Some(Action::Compute);
                    }
                }
                return;
            };
            if numbers(ui, c, e, threshold, has_label, running) {
                action = Some(Action::Compute);
            }
            ui.label(format!("{:.0} ms - {}", e.time_ms, fmt_madds(e.cum_madds)));
        });
    });
    action
}

/// The card's mask thumbnail (a click selects the exit), or a grey plate saying why there is
/// none. Returns whether it was clicked.
fn thumbnail(ui: &mut egui::Ui, c: &CardData, running: bool) -> bool {
    let size = vec2(THUMB_W, (THUMB_W * c.thumb_aspect).clamp(30.0, 120.0));
    match c.thumb {
        Some(t) => {
            let img = egui::Image::new((t, size)).sense(egui::Sense::click()).alt_text(format!("{} mask", c.title));
            let resp = ui.add(img);
            if resp.clicked() {
                return true;
            }
        }
        None => {
            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, Color32::from_gray(40));
            let text = if c.report.is_none() && running { "computing..." } else { "not computed" };
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(13.0),
                Color32::from_gray(170),
            );
        }
    }
    false
}

/// The card's numbers: where the exit sits, the decision signal against the threshold, the
/// verdict, confidence, agreement and IoU. Returns whether "Compute" was clicked.
fn numbers(
    ui: &mut egui::Ui,
    c: &CardData,
    e: &ExitReport,
    threshold: Option<f32>,
    has_label: bool,
    running: bool,
) -> bool {
    let visuals = ui.visuals().clone();
    let mut compute = false;
    ui.label(format!("cell {} - level {} (1/{})", e.cell, e.level, 4 << e.level));
    if let (Some(s), Some(t)) = (e.edm_score.or(e.edm_map_score), threshold) {
        let cmp = if s <= t { "<=" } else { ">" };
        ui.label(format!("EDM {s:.3} {cmp} {t:.2}"));
    }
    if let Some(v) = &c.verdict {
        let (txt, col) = match v {
            Verdict::Stop => ("policy: stop", Color32::from_rgb(120, 220, 120)),
            Verdict::Continue => ("policy: go on", visuals.weak_text_color()),
            Verdict::Final => ("last exit", visuals.weak_text_color()),
            _ => ("policy: ?", visuals.warn_fg_color),
        };
        ui.label(RichText::new(txt).color(col));
    }
    match c.derived {
        Some(d) => {
            ui.label(format!("mean conf {:.3}", d.mean_conf));
            if let Some(a) = d.agree_full {
                ui.label(format!("agrees with full {:.1}%", a * 100.0));
            }
            if has_label {
                ui.label(
                    d.iou_label.map(|v| format!("IoU vs label {v:.3}")).unwrap_or_else(|| "IoU vs label -".into()),
                );
            }
        }
        None => {
            ui.label(RichText::new("head not computed").weak());
            if !running && ui.button(format!("Compute {}", c.title.to_lowercase())).clicked() {
                compute = true;
            }
        }
    }
    compute
}
