//! Export: the current view as a PNG at the image's own resolution (photo + overlay at the
//! chosen opacity, hidden classes respected), every computed exit's mask (palette PNG and raw
//! class ids), and the image's statistics as JSON. Encoding runs off the UI thread; every file
//! is written to a temporary name and renamed, so a failure never leaves a half-written file
//! under a final name.

use super::decision;
use super::overlay::{self, Content};
use super::panel::Ctx;
use super::results::{ImageResults, ModelRun};
use crate::engine::Policy;
use eframe::egui::Color32;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Everything an export needs, detached from the app.
pub struct ExportJob {
    pub results: ImageResults,
    pub content: Content,
    pub palette: Vec<Color32>,
    pub hidden: Vec<usize>,
    pub opacity: f32,
    pub policy: Policy,
    pub num_exits: usize,
    pub model: String,
}

/// The export job of what is on screen now.
pub fn job(app: &Ctx) -> Option<ExportJob> {
    let r = app.results.cloned()?;
    let k = app.shown_exit().unwrap_or(0);
    let content = if app.view.hide_all {
        Content::Photo
    } else if app.view.flip {
        Content::side_b(app.settings.overlay, k, app.settings.conf_kind)
    } else {
        Content::side_a(app.settings.overlay, k, app.settings.conf_kind)
    };
    Some(ExportJob {
        results: r,
        content,
        palette: app.palette(),
        hidden: app.settings.hidden_classes.clone(),
        opacity: app.settings.opacity,
        policy: app.settings.policy,
        num_exits: app.num_exits(),
        model: app.add_model.info().map(|i| i.card.name.clone()).unwrap_or_default(),
    })
}

fn png(img: &image::DynamicImage) -> anyhow::Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// Writes the composite, the masks and the stats; returns the files written.
pub fn write(dir: &Path, job: &ExportJob) -> anyhow::Result<Vec<PathBuf>> {
    let r = &job.results;
    let stem =
        Path::new(&r.name).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "image".into());
    let mut files = Vec::new();
    let mut put = |name: String, bytes: Vec<u8>| -> anyhow::Result<()> {
        let p = dir.join(name);
        crate::fsutil::atomic_write(&p, &bytes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?;
        files.push(p);
        Ok(())
    };
    let ov = overlay::content_image(job.content, r, &job.palette, &job.hidden);
    let comp = super::render::composite(&r.image, ov.as_ref(), job.opacity);
    put(format!("{stem}_view.png"), png(&image::DynamicImage::ImageRgb8(comp))?)?;
    let runs = std::iter::once(("exit", &r.add)).chain(r.full.as_ref().map(|f| ("full", f)));
    for (kind, run) in runs {
        for k in 0..run.exits.len() {
            let Some(m) = run.maps(k) else { continue };
            let tag = if kind == "full" { "full".to_string() } else { format!("exit{}", k + 1) };
            let (w, h) = (m.width as u32, m.height as u32);
            let ids = image::GrayImage::from_raw(w, h, m.classes.clone()).expect("maps are w*h");
            put(format!("{stem}_{tag}_classes.png"), png(&image::DynamicImage::ImageLuma8(ids))?)?;
            let mut rgb = image::RgbImage::new(w, h);
            for (px, &c) in rgb.pixels_mut().zip(&m.classes) {
                let col = job.palette.get(c as usize).copied().unwrap_or(Color32::BLACK);
                px.0 = [col.r(), col.g(), col.b()];
            }
            put(format!("{stem}_{tag}_mask.png"), png(&image::DynamicImage::ImageRgb8(rgb))?)?;
        }
    }
    put(format!("{stem}_stats.json"), serde_json::to_vec_pretty(&stats(job))?)?;
    Ok(files)
}

fn run_json(run: &ModelRun) -> Value {
    let exits: Vec<Value> = run
        .exits
        .iter()
        .enumerate()
        .filter_map(|(k, e)| {
            let e = e.as_ref()?;
            let d = run.derived(k);
            Some(json!({
                "exit": k + 1,
                "cell": e.cell,
                "level": e.level,
                "decision": format!("{:?}", e.decision),
                "computed": e.maps.is_some(),
                "edm_score": e.edm_score,
                "edm_map_score": e.edm_map_score,
                "mean_entropy": e.mean_entropy,
                "confident_fraction": e.confident_fraction,
                "mean_confidence": d.map(|d| d.mean_conf),
                "agreement_with_full": d.and_then(|d| d.agree_full),
                "miou_vs_label": d.and_then(|d| d.iou_label),
                "time_ms": e.time_ms,
                "cum_madds": e.cum_madds,
            }))
        })
        .collect();
    json!({
        "device": run.device,
        "status": format!("{:?}", run.status),
        "chosen_exit_by_run": run.engine_choice.map(|k| k + 1),
        "total_ms": run.total_ms(),
        "cells": run.cells.iter().map(|c| json!({"cell": c.cell, "level": c.level, "ms": c.cell_ms, "stem_ms": c.stem_ms})).collect::<Vec<_>>(),
        "exits": exits,
    })
}

/// The image's statistics (exits are 1-based, as on screen).
pub fn stats(job: &ExportJob) -> Value {
    let r = &job.results;
    let d = decision::decide(&job.policy, &r.add, job.num_exits);
    json!({
        "image": r.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| r.name.clone()),
        "size": [r.size().0, r.size().1],
        "has_label": r.label.is_some(),
        "model": job.model,
        "policy": job.policy.to_string(),
        "chosen_exit": d.exit.map(|k| k + 1),
        "add": run_json(&r.add),
        "full": r.full.as_ref().map(run_json),
    })
}
