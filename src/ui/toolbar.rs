//! The top bar: open (dialog, folder, recent, samples), model switch, export, the overlay
//! choice, opacity, compare and flip; below it the banners (demo data, untrained weights) and
//! the messages (bad files, exports).

use super::files;
use super::model_slot::ModelSlot;
use super::panel::{Action, Actions, Ctx};
use super::settings::{ConfKind, Overlay};
use super::shortcuts;
use crate::export::ExportFormat;
use crate::jobs::Role;
use eframe::egui::{self, Color32, RichText};

pub fn show(ui: &mut egui::Ui, ctx: &Ctx) -> Actions {
    let mut acts = Actions::default();
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        file_menus(ui, ctx, &mut acts);
        ui.separator();
        if let Some(nav) = ctx.folder {
            if ui.button("< Prev").on_hover_text("Previous image (Left)").clicked() {
                acts.push(Action::StepFolder(-1));
            }
            ui.label(format!("{}/{}", nav.index + 1, nav.files.len()));
            if ui.button("Next >").on_hover_text("Next image (Right)").clicked() {
                acts.push(Action::StepFolder(1));
            }
        }
        if let Some(r) = ctx.results {
            if ui.button("Present").on_hover_text("Full screen, step by step (F5)").clicked() {
                acts.push(Action::Present(true));
            }
            ui.label(RichText::new(&r.name).strong());
            let (w, h) = r.size();
            ui.label(format!("{w}x{h}{}", if r.label.is_some() { ", labelled" } else { "" }));
        }
        if let Some(p) = ctx.loading {
            ui.label(format!("opening {}...", p.file_name().unwrap_or_default().to_string_lossy()));
        }
    });
    overlay_rows(ui, ctx, &mut acts);
    banners(ui, ctx);
    messages(ui, ctx, &mut acts);
    ui.add_space(2.0);
    acts
}

/// The overlay choice, then opacity, compare, flip, hide, fit and the keys' help.
fn overlay_rows(ui: &mut egui::Ui, ctx: &Ctx, acts: &mut Actions) {
    let s = ctx.settings;
    ui.horizontal_wrapped(|ui| {
        acts.edit_setting(
            &s.overlay,
            |s| &mut s.overlay,
            |v| {
                for o in Overlay::ALL {
                    ui.selectable_value(v, o, o.name());
                }
            },
        );
        if s.overlay == Overlay::Confidence {
            ui.separator();
            acts.edit_setting(
                &s.conf_kind,
                |s| &mut s.conf_kind,
                |v| {
                    for k in [ConfKind::MaxProb, ConfKind::Entropy] {
                        ui.selectable_value(v, k, k.name());
                    }
                },
            );
        }
    });
    ui.horizontal_wrapped(|ui| {
        acts.edit_setting(
            &s.opacity,
            |s| &mut s.opacity,
            |v| {
                ui.add(egui::Slider::new(v, 0.0..=1.0).text("Opacity"));
            },
        );
        acts.edit_setting(
            &s.compare,
            |s| &mut s.compare,
            |v| {
                ui.checkbox(v, "Side by side").on_hover_text("Selected exit | full model (S)");
            },
        );
        acts.edit_view(
            &ctx.view.flip,
            |v| &mut v.flip,
            |v| {
                ui.toggle_value(v, "A/B flip").on_hover_text("Swap A and B (B)");
            },
        );
        acts.edit_view(
            &ctx.view.hide_all,
            |v| &mut v.hide_all,
            |v| {
                ui.toggle_value(v, "Hide overlays").on_hover_text("H");
            },
        );
        if ui.button("Fit").on_hover_text("Fit the image (R, or double-click)").clicked() {
            acts.view(|v| v.reset_zoom());
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
}

fn file_menus(ui: &mut egui::Ui, ctx: &Ctx, acts: &mut Actions) {
    if ui.button("Open image...").clicked() {
        acts.spawn(files::pick_image(ctx.settings.last_dir.clone()));
    }
    if ui.button("Open folder...").clicked() {
        acts.spawn(files::pick_folder(ctx.settings.last_dir.clone()));
    }
    ui.menu_button("Recent", |ui| {
        if ctx.settings.recent.is_empty() {
            ui.label("nothing yet");
        }
        for p in &ctx.settings.recent {
            if ui.button(p.display().to_string()).clicked() {
                acts.push(Action::Open(p.clone()));
                ui.close();
            }
        }
    });
    ui.menu_button("Samples", |ui| {
        if ctx.gallery.is_empty() {
            ui.label("no sample gallery found (assets/samples)");
        }
        for s in ctx.gallery {
            let b = ui.button(&s.name);
            let b = match &s.note {
                Some(n) => b.on_hover_text(n),
                None => b,
            };
            if b.clicked() {
                acts.push(Action::Open(s.path.clone()));
                ui.close();
            }
        }
    });
    ui.menu_button("Model", |ui| {
        model_line(ui, "ADD", ctx.add_model);
        model_line(ui, "Baseline", ctx.full_model);
        ui.separator();
        if ui.button("Open ADD model...").clicked() {
            acts.spawn(files::pick_model(Role::Add));
            ui.close();
        }
        if ui.button("Open baseline model...").clicked() {
            acts.spawn(files::pick_model(Role::Full));
            ui.close();
        }
    });
    ui.menu_button("Export", |ui| {
        let enabled = ctx.results.is_some();
        if ui.add_enabled(enabled, egui::Button::new("Export view, masks and stats...")).clicked() {
            acts.spawn(files::pick_export_dir());
            ui.close();
        }
        ui.separator();
        ui.label("The shown mask for an annotation tool:");
        let formats = [
            (ExportFormat::Cvat, "CVAT (Segmentation mask 1.1 zip)..."),
            (ExportFormat::Coco, "COCO JSON (RLE)..."),
            (ExportFormat::Cityscapes, "Cityscapes label files..."),
        ];
        for (format, name) in formats {
            if ui.add_enabled(enabled, egui::Button::new(name)).clicked() {
                acts.spawn(files::pick_mask_export(format));
                ui.close();
            }
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

fn banners(ui: &mut egui::Ui, ctx: &Ctx) {
    let mut lines: Vec<String> = ctx.add_model.info().and_then(|i| i.banner.clone()).into_iter().collect();
    match ctx.add_model {
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

fn messages(ui: &mut egui::Ui, ctx: &Ctx, acts: &mut Actions) {
    let mut dismiss = None;
    for (i, m) in ctx.messages.iter().enumerate() {
        ui.horizontal(|ui| {
            let color = if m.error { ui.visuals().error_fg_color } else { ui.visuals().text_color() };
            if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                dismiss = Some(i);
            }
            ui.label(RichText::new(&m.text).color(color));
        });
    }
    if let Some(i) = dismiss {
        acts.push(Action::DismissMessage(i));
    }
}
