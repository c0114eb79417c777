//! `add infer`: run images under a policy and write, per image, every computed exit's palette
//! mask and confidence map, and a JSON record; bad images are reported and skipped. With
//! `--export` the masks also go out in an annotation tool's format (`crate::export`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use super::model_arg::ModelArgs;
use crate::engine::{Decision, Engine, Policy, RunEvent, RunOptions};
use crate::export::render::{gray_image, palette_image};

/// Options of `add infer`.
#[derive(Debug, Clone, clap::Args)]
pub struct InferArgs {
    /// Images, or folders of images.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Exit policy: edm:T, edm-map:T, entropy:T, confident:T[@P], max:T, exit:N (1 = first exit) or full.
    #[arg(long, default_value = "full")]
    pub policy: String,
    /// Compute every exit's head (the policy's decision is still recorded).
    #[arg(long)]
    pub analysis: bool,
    /// Output folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Images whose longer side exceeds this are scaled down first.
    #[arg(long, default_value_t = 2049)]
    pub max_side: u32,
    /// Also export the masks for an annotation tool: cvat (masks_cvat.zip), coco
    /// (masks_coco.json) or cityscapes (cityscapes/*_gtFine_*.png), into --out.
    #[arg(long, value_enum)]
    pub export: Option<crate::export::ExportFormat>,
    /// Which mask to export: `chosen` (the policy's answer) or `exit:N`, 1 = the first exit (computes every head).
    #[arg(long, default_value = "chosen")]
    pub export_source: String,
    /// Export pixels whose max-probability is below this as unlabelled, for annotators to check first.
    #[arg(long)]
    pub unsure_below: Option<f32>,
}

/// Which exit's mask an export takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportSource {
    Chosen,
    Exit(usize),
}

fn export_source(text: &str, exits: usize) -> anyhow::Result<ExportSource> {
    if text == "chosen" {
        return Ok(ExportSource::Chosen);
    }
    let n = text.strip_prefix("exit:").and_then(|k| k.parse::<usize>().ok());
    match n {
        Some(0) => anyhow::bail!("--export-source exit:0: exits count from 1, as in the app (exit:1 is the first)"),
        Some(n) if n <= exits => Ok(ExportSource::Exit(n - 1)),
        Some(n) => anyhow::bail!("--export-source exit:{n}: the model's exits are 1..{exits}"),
        None => anyhow::bail!("--export-source `{text}`: expected `chosen` or `exit:N` (1 = the first exit)"),
    }
}

/// What an export needs from each run.
struct ExportJob {
    exporter: crate::export::Exporter,
    source: ExportSource,
    unsure_below: Option<f32>,
}

/// Runs `add infer`.
pub fn run(args: InferArgs) -> anyhow::Result<()> {
    let policy: Policy = args.policy.parse()?;
    let engine = args.model.engine()?;
    let images = super::inputs::expand_images(&args.images)?;
    anyhow::ensure!(!images.is_empty(), "no images found in {:?}", args.images);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output folder", args.out.display()))?;
    let mut export = match args.export {
        Some(format) => {
            let source = export_source(&args.export_source, engine.card().num_exits())?;
            if let Some(p) = args.unsure_below {
                anyhow::ensure!((0.0..=1.0).contains(&p), "--unsure-below {p}: must be in [0, 1]");
            }
            let exporter = crate::export::Exporter::new(format, &args.out, &engine.card().classes)?;
            Some(ExportJob { exporter, source, unsure_below: args.unsure_below })
        }
        None => None,
    };
    // a given exit's mask needs that exit's head, whatever the policy decides
    let analysis = args.analysis || export.as_ref().is_some_and(|e| e.source != ExportSource::Chosen);
    let opts = RunOptions { policy, analysis, max_side: args.max_side, edm_maps: true };
    // so that the first record's times are not the process's cold start (a header read: an
    // unreadable first image is reported by its own run below)
    if let Ok((w, h)) = image::image_dimensions(&images[0]) {
        let (w, h) = crate::engine::prepare::scaled_dims(w, h, args.max_side);
        engine.warm_up(w, h)?;
    }
    let bar = indicatif::ProgressBar::new(images.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    let (mut done, mut failed) = (0usize, 0usize);
    let mut stems = std::collections::HashSet::new();
    let results = args.out.join("results.jsonl");
    // Records stream into the results file as they come, so memory stays flat over any number
    // of images; the file appears under its name only once complete.
    crate::fsutil::atomic_write_with(&results, true, |file| {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(file);
        for (i, path) in images.iter().enumerate() {
            bar.set_message(path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            let stem = output_stem(path, i, &mut stems);
            match infer_one(&engine, path, &stem, &opts, i as u64, &args.out, export.as_mut()) {
                Ok(rec) => {
                    writeln!(file, "{rec}")?;
                    done += 1;
                }
                Err(e) => {
                    bar.suspend(|| eprintln!("skipped {}: {e:#}", path.display()));
                    failed += 1;
                }
            }
            bar.inc(1);
        }
        file.flush()
    })
    .with_context(|| format!("{}: cannot write", results.display()))?;
    bar.finish_and_clear();
    println!("{done} image(s) done, results in {}", args.out.display());
    if let Some(e) = export {
        println!("masks exported to {}", e.exporter.finish()?.display());
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} image(s) failed (listed above)", images.len());
    }
    Ok(())
}

/// The name an image's output files start with: its stem, or, when another input of this run
/// already has that stem (`a.png` and `a.jpg`, or two folders), the stem with its extension
/// and then a number, so that no output overwrites another.
fn output_stem(path: &Path, index: usize, taken: &mut std::collections::HashSet<String>) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| format!("image{index}"));
    let ext = path.extension().map(|e| format!("_{}", e.to_string_lossy())).unwrap_or_default();
    let candidates =
        [stem.clone(), format!("{stem}{ext}")].into_iter().chain((1..).map(|n| format!("{stem}{ext}_{n}")));
    let chosen = candidates.into_iter().find(|c| !taken.contains(c)).expect("an unused name");
    taken.insert(chosen.clone());
    chosen
}

/// Runs one image and writes its files (named from `stem`); returns its JSON record.
fn infer_one(
    engine: &Engine,
    path: &Path,
    stem: &str,
    opts: &RunOptions,
    run_id: u64,
    out: &Path,
    export: Option<&mut ExportJob>,
) -> anyhow::Result<serde_json::Value> {
    let image = crate::data::image_io::load_rgb(path)?;
    let mut events = Vec::new();
    let summary = engine
        .run(&image, opts, run_id, &AtomicBool::new(false), &mut |e| events.push(e))
        .with_context(|| format!("{}: run failed", path.display()))?;
    let card = engine.card();
    let mut exits = Vec::new();
    let mut cells = Vec::new();
    for e in &events {
        match e {
            RunEvent::CellDone { cell, cell_ms, stem_ms, .. } => {
                cells.push(serde_json::json!({ "cell": cell, "ms": cell_ms, "stem_ms": stem_ms }))
            }
            RunEvent::Exit(r) => {
                let mut files = Vec::new();
                if let Some(m) = &r.maps {
                    let mask = out.join(format!("{stem}_exit{}.png", r.exit + 1));
                    save(&palette_image(m, card), &mask)?;
                    let conf = out.join(format!("{stem}_exit{}_confidence.png", r.exit + 1));
                    save(&gray_image(m.width, m.height, &m.max_prob), &conf)?;
                    files.push(mask);
                    files.push(conf);
                }
                if let Some(map) = &r.edm_map {
                    let f = out.join(format!("{stem}_exit{}_edm_map.png", r.exit + 1));
                    save(&gray_image(image.width() as usize, image.height() as usize, map), &f)?;
                    files.push(f);
                }
                exits.push(serde_json::json!({
                    "exit": r.exit + 1, "cell": r.cell, "level": r.level,
                    "decision": match r.decision { Decision::Stop => "stop", Decision::Continue => "continue", Decision::Final => "final" },
                    "head_computed": r.maps.is_some(),
                    "edm_score": r.edm_score, "edm_map_score": r.edm_map_score,
                    "mean_entropy": r.mean_entropy, "confident_fraction": r.confident_fraction,
                    "time_ms": r.time_ms, "cum_madds": r.cum_madds,
                    "files": files,
                }));
            }
            _ => {}
        }
    }
    let record = serde_json::json!({
        "image": path, "width": image.width(), "height": image.height(),
        "policy": opts.policy.to_string(), "analysis": opts.analysis,
        "chosen_exit": summary.chosen_exit + 1, "total_ms": summary.total_ms, "madds": summary.madds,
        "device": engine.device_name(), "cells": cells, "exits": exits,
    });
    if let Some(job) = export {
        let want = match job.source {
            ExportSource::Chosen => summary.chosen_exit,
            ExportSource::Exit(k) => k,
        };
        let maps = events
            .iter()
            .find_map(|e| match e {
                RunEvent::Exit(r) if r.exit == want => r.maps.clone(),
                _ => None,
            })
            .with_context(|| format!("{}: exit {}'s head was not computed", path.display(), want + 1))?;
        let classes = match job.unsure_below {
            Some(p) => crate::export::drop_unsure(&maps.classes, &maps.max_prob, p),
            None => maps.classes.clone(),
        };
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| stem.into());
        let mask = crate::export::Mask {
            name: stem,
            file_name: &file_name,
            width: maps.width,
            height: maps.height,
            classes: &classes,
        };
        job.exporter.add(&mask)?;
    }
    let json = out.join(format!("{stem}.json"));
    crate::fsutil::atomic_write(&json, serde_json::to_string_pretty(&record)?.as_bytes())
        .with_context(|| format!("{}: cannot write", json.display()))?;
    Ok(record)
}

fn save(img: &image::DynamicImage, path: &Path) -> anyhow::Result<()> {
    crate::data::image_io::save_png_atomic(img, path).with_context(|| format!("{}: cannot write", path.display()))
}
