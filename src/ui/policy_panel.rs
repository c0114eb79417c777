//! The policy panel: which signal decides (EDM, EDM-map, entropy, confident-pixel fraction,
//! or a fixed exit), its threshold, the card's presets, and the decision re-evaluated at once
//! from the stored per-exit statistics, with the reason at each exit. A rerun is only needed
//! when the new decision lands on an exit that was never computed, and the panel says so.

use super::decision;
use super::panel::{Action, Actions, Ctx};
use super::results::RunStatus;
use crate::engine::Policy;
use eframe::egui::{self, RichText};

/// The policy kinds offered, with a default policy of each kind.
fn kinds(threshold: f32) -> [(&'static str, Policy); 5] {
    [
        ("EDM score", Policy::Edm { threshold }),
        ("EDM-map mean", Policy::EdmMap { threshold }),
        ("Mean entropy", Policy::Entropy { threshold }),
        (
            "Confident-pixel fraction",
            Policy::ConfidentFraction { prob: crate::engine::policy::DEFAULT_CONFIDENT_PROB, threshold },
        ),
        ("Fixed exit", Policy::FixedExit(0)),
    ]
}

fn kind_name(p: &Policy) -> &'static str {
    kinds(0.0)
        .into_iter()
        .find(|(_, k)| std::mem::discriminant(k) == std::mem::discriminant(p))
        .map(|(n, _)| n)
        .unwrap_or("?")
}

/// The policy being edited this frame, and whether it follows a card preset.
struct Choice {
    policy: Policy,
    preset: Option<String>,
}

pub fn show(ui: &mut egui::Ui, ctx: &Ctx) -> Actions {
    let mut acts = Actions::default();
    ui.heading("Exit policy");
    let before = ctx.settings.policy;
    let mut c = Choice { policy: before, preset: ctx.settings.preset.clone() };
    let t = before.threshold().unwrap_or(0.3);
    egui::ComboBox::from_label("Policy").selected_text(kind_name(&before)).show_ui(ui, |ui| {
        for (name, p) in kinds(t) {
            ui.selectable_value(&mut c.policy, p, name);
        }
    });
    match c.policy {
        Policy::FixedExit(k) => {
            let n = ctx.num_exits();
            let mut e = k.min(n - 1) + 1;
            if ui.add(egui::Slider::new(&mut e, 1..=n).text("Exit")).changed() {
                c.policy = Policy::FixedExit(e - 1);
            }
        }
        p => {
            let mut t = p.threshold().unwrap_or(0.3);
            // no max_decimals: egui rounds the value it shows and would move a preset's threshold
            if ui.add(egui::Slider::new(&mut t, 0.0..=1.0).text("Threshold").min_decimals(2)).changed() {
                c.policy = p.with_threshold(t);
            }
        }
    }
    if c.policy != before {
        c.preset = None; // set by hand: no longer follows a card preset
    }
    presets(ui, ctx, &mut c);
    let now = c.policy;
    if c.policy != before || c.preset != ctx.settings.preset {
        let Choice { policy, preset } = c;
        acts.settings(move |s| {
            s.policy = policy;
            s.preset = preset;
        });
    }
    ui.add_space(4.0);
    decision_lines(ui, ctx, &now);
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(ctx.results.is_some(), egui::Button::new("Rerun"))
            .on_hover_text("Run again with this policy")
            .clicked()
        {
            acts.push(Action::Rerun { analysis: ctx.settings.analysis });
        }
        if ui
            .add_enabled(ctx.results.is_some(), egui::Button::new("Compute all exits"))
            .on_hover_text("Run every head (analysis mode)")
            .clicked()
        {
            acts.push(Action::Rerun { analysis: true });
        }
    });
    acts.edit_setting(
        &ctx.settings.analysis,
        |s| &mut s.analysis,
        |v| {
            ui.checkbox(v, "Always compute all exits");
        },
    );
    acts
}

fn presets(ui: &mut egui::Ui, ctx: &Ctx, c: &mut Choice) {
    let card_presets = ctx.add_model.info().map(|i| i.card.presets.clone()).unwrap_or_default();
    ui.horizontal(|ui| {
        ui.label("Presets:");
        for name in ["accurate", "fast"] {
            let preset = card_presets.get(name);
            let parsed = preset.and_then(|p| p.policy.parse::<Policy>().ok());
            let active = parsed == Some(c.policy);
            let mut b = ui.add_enabled(parsed.is_some(), egui::Button::new(name).selected(active));
            b = match preset {
                Some(p) => {
                    let mut h = format!("policy {}", p.policy);
                    if let Some(m) = p.miou {
                        h += &format!(", mIoU {:.3}", m);
                    }
                    if let Some(s) = p.speedup {
                        h += &format!(", {s:.2}x faster");
                    }
                    b.on_hover_text(h)
                }
                None => b.on_disabled_hover_text("the model card has no such preset (written by `add eval`)"),
            };
            if b.clicked()
                && let Some(p) = parsed
            {
                c.policy = p;
                c.preset = Some(name.into());
            }
        }
    });
}

/// The decision under `policy` (this frame's, edits included) with the reason at each exit.
fn decision_lines(ui: &mut egui::Ui, ctx: &Ctx, policy: &Policy) {
    let Some(r) = ctx.results else {
        ui.label(RichText::new("Open an image to see the decision.").weak());
        return;
    };
    let policy = *policy;
    let d = decision::decide(&policy, &r.add, ctx.num_exits());
    let status = match &r.add.status {
        RunStatus::Waiting => "waiting for the worker...".to_string(),
        RunStatus::Running => format!("running: {} cells done", r.add.cells.len()),
        RunStatus::Finished { total_ms } => format!("done in {total_ms:.0} ms on {}", r.add.device),
        RunStatus::Cancelled => "cancelled".into(),
        RunStatus::Failed(m) => format!("failed: {m}"),
    };
    ui.label(status);
    let head = match d.exit {
        Some(k) => {
            let cell = r.add.exit(k).map(|e| format!(" (cell {})", e.cell)).unwrap_or_default();
            format!("Decision: exit {}{cell}", k + 1)
        }
        None if r.add.is_running() => "Decision: pending".into(),
        None => "Decision: unknown until more exits are computed".into(),
    };
    ui.label(RichText::new(head).strong());
    for (k, v) in d.verdicts.iter().enumerate() {
        let s = decision::stats_at(&r.add, k, &policy);
        ui.label(format!("exit {}: {}", k + 1, decision::reason(&policy, s, v)));
    }
    if let Some(e) = r.add.engine_choice
        && d.exit != Some(e)
    {
        ui.label(RichText::new(format!("The run itself stopped at exit {} under its policy.", e + 1)).weak());
    }
    let needs = d.needs_compute(&r.add) || (d.exit.is_none() && !r.add.is_running());
    if needs {
        ui.colored_label(ui.visuals().warn_fg_color, "This decision needs exits that were not computed.");
    }
}
