//! `add eval`: mIoU and per-class IoU of every exit, a threshold sweep for each policy the
//! model supports (with the baseline measured in the same run), the "accurate" and "fast"
//! presets written into the model's card, and a markdown table, CSV and JSON.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use super::collect::{Pass, collect, image_bar};
use super::eval_file::{BaselineQuality, EvalFile, ExitQuality};
use super::sweep::{SweepRow, candidate_thresholds, evaluate, fastest_within};
use crate::engine::{Engine, Policy, device};
use crate::network::ArchCard;
use crate::network::card::PolicyPreset;
use crate::network::checkpoint::{self, TensorFile};

/// What `add eval` does: the models, the labelled set, where the tables go.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The multi-exit model (its card gets the presets unless `no_presets`).
    pub model: PathBuf,
    /// The Auto-DeepLab baseline (speed-ups and the mIoU reference).
    pub baseline: Option<PathBuf>,
    /// Dataset root, any layout [`crate::data::datasets::detect`] knows.
    pub data: PathBuf,
    pub split: String,
    pub max_images: usize,
    /// Longer image side the network sees (larger images are scaled down).
    pub max_side: u32,
    /// Folder for eval.md, eval.csv, eval.json.
    pub out: PathBuf,
    /// Thresholds per policy.
    pub steps: usize,
    pub no_presets: bool,
    /// Leave out (and report) unpaired or unreadable samples instead of stopping.
    pub skip_bad: bool,
    pub device: String,
}

/// The policies `card`'s model supports, with the score each thresholds (the app's speed/mIoU
/// plot sweeps the same ones).
#[allow(clippy::type_complexity)]
pub fn policies(
    card: &ArchCard,
) -> Vec<(&'static str, fn(f32) -> Policy, fn(&crate::engine::ExitStats) -> Option<f32>)> {
    let mut v: Vec<(&'static str, fn(f32) -> Policy, fn(&crate::engine::ExitStats) -> Option<f32>)> = Vec::new();
    if card.edm.kind.has_scalar() {
        v.push(("edm", |t| Policy::Edm { threshold: t }, |s| s.edm_score));
    }
    if card.edm.kind.has_map() {
        v.push(("edm-map", |t| Policy::EdmMap { threshold: t }, |s| s.edm_map_score));
    }
    v.push(("entropy", |t| Policy::Entropy { threshold: t }, |s| s.mean_entropy));
    v.push((
        "confident",
        |t| Policy::ConfidentFraction { prob: crate::engine::policy::DEFAULT_CONFIDENT_PROB, threshold: t },
        |s| s.confident_fraction,
    ));
    v
}

/// Runs `add eval`.
pub fn run(args: Evaluation) -> anyhow::Result<()> {
    let dev = device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    let model = Engine::load(&args.model, None, &dev)?;
    let baseline = args.baseline.as_ref().map(|b| Engine::load(b, None, &dev)).transpose()?;
    let card = model.card().clone();
    let ds = crate::data::datasets::open_for_command(&args.data, &args.split, args.skip_bad, &card.palette())?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("{}: cannot create", args.out.display()))?;
    let bar = image_bar(ds.len().min(args.max_images));
    let never = AtomicBool::new(false);
    let pass = Pass {
        limit: args.max_images,
        max_side: args.max_side,
        edm_maps: false,
        cancel: &never,
        progress: &|done, _| bar.set_position(done as u64),
    };
    let mut recs = collect(&model, baseline.as_ref(), &ds, &pass)?;
    bar.finish_and_clear();
    super::difficulty::attach(&mut recs, &super::difficulty::load(&args.data)?);
    anyhow::ensure!(!recs.is_empty(), "no images evaluated");
    let k = card.classes.len();
    let exit_cells = card.exit_cells();
    let table = super::summary::cost_table(&model, &ds, args.max_side)?;

    let quality = super::summary::Quality::of(&recs, k, card.num_exits());
    let exits: Vec<ExitQuality> = (0..card.num_exits())
        .map(|e| {
            let (miou, iou) = quality.exit(e);
            ExitQuality { exit: e + 1, cell: exit_cells[e], miou, iou }
        })
        .collect();
    let base = quality.baseline();
    let (base_ms, base_miou) = (base.map(|b| b.0), base.map(|b| b.1));
    // the reference for "accurate"/"fast": the baseline when given, else this model's last exit
    let reference = base_miou.unwrap_or(exits[exits.len() - 1].miou);

    let mut rows: Vec<SweepRow> = vec![evaluate(Policy::FixedExit(usize::MAX), &recs, &table, &exit_cells, base_ms)];
    for e in 0..card.exits.len() {
        rows.push(evaluate(Policy::FixedExit(e), &recs, &table, &exit_cells, base_ms));
    }
    let mut presets = Vec::new();
    let candidates = policies(&card);
    // presets come from the model's own decision maker when it has one, else from entropy
    let preferred = candidates[0].0;
    let mut difficulty_policies: Vec<String> = Vec::new();
    for (name, make, score) in candidates {
        let mut scores: Vec<f32> =
            recs.iter().flat_map(|r| r.exits[..r.exits.len() - 1].iter().filter_map(|x| score(&x.stats))).collect();
        let policy_rows: Vec<SweepRow> = candidate_thresholds(&mut scores, args.steps)
            .into_iter()
            .map(|t| evaluate(make(t), &recs, &table, &exit_cells, base_ms))
            .collect();
        if name == preferred {
            // the threshold that sends about half the images out early shows best whether easy
            // scenes leave earlier than hard ones
            let half =
                policy_rows.iter().min_by(|a, b| (a.exit_rate[0] - 0.5).abs().total_cmp(&(b.exit_rate[0] - 0.5).abs()));
            if let Some(r) = half {
                difficulty_policies.push(r.policy.clone());
            }
            for (label, pts) in [("accurate", 0.3), ("fast", 1.5)] {
                if let Some(r) = fastest_within(&policy_rows, reference, pts) {
                    presets.push((
                        label.to_string(),
                        PolicyPreset { policy: r.policy.clone(), miou: Some(r.miou), speedup: r.speedup },
                    ));
                }
            }
        }
        rows.extend(policy_rows);
    }

    let mut md = markdown(&card, &exits, base_miou, base_ms, &rows, &presets, recs.len());
    // exit rates by difficulty for each preset (easy scenes should leave earlier)
    let mut by_difficulty = std::collections::BTreeMap::new();
    difficulty_policies.extend(presets.iter().map(|(_, p)| p.policy.clone()));
    for text in difficulty_policies {
        if by_difficulty.contains_key(&text) {
            continue;
        }
        let policy: Policy = text.parse().map_err(|e| anyhow::anyhow!("policy {text}: {e}"))?;
        let bins = super::difficulty::exit_rates(&policy, &recs, super::difficulty::BINS);
        if !bins.is_empty() {
            md.push_str(&super::difficulty::markdown(&text, &bins));
            by_difficulty.insert(text, bins);
        }
    }
    crate::fsutil::atomic_write(&args.out.join("eval.md"), md.as_bytes())?;
    crate::fsutil::atomic_write(&args.out.join("eval.csv"), csv(&rows).as_bytes())?;
    let file = EvalFile {
        model: args.model.clone(),
        images: recs.len(),
        exits,
        baseline: BaselineQuality { miou: base_miou, mean_ms: base_ms },
        sweep: rows,
        exit_rate_by_difficulty: by_difficulty,
        presets: presets.iter().cloned().collect(),
        per_image: recs,
    };
    file.write(&args.out.join("eval.json"))?;
    print!("{md}");

    if !args.no_presets && !presets.is_empty() {
        let file = TensorFile::read(&args.model)?;
        let mut new_card = card.clone();
        new_card.presets.extend(presets);
        checkpoint::save_with_metadata(&args.model, &new_card, &file.tensors, file.metadata)?;
        println!("presets written into {}", args.model.display());
    }
    Ok(())
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

fn markdown(
    card: &ArchCard,
    exits: &[ExitQuality],
    base_miou: Option<f64>,
    base_ms: Option<f64>,
    rows: &[SweepRow],
    presets: &[(String, PolicyPreset)],
    n: usize,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Evaluation of {} on {n} image(s)\n", card.name);
    let _ = writeln!(s, "| exit | cell | mIoU |\n|---|---|---|");
    for e in exits {
        let _ = writeln!(s, "| {} | {} | {:.2} |", e.exit, e.cell, e.miou);
    }
    if let Some(b) = base_miou {
        let _ = writeln!(s, "| baseline | - | {b:.2} |");
    }
    let _ = writeln!(s, "\nBaseline mean time: {} ms\n", fmt_opt(base_ms, 1));
    let _ = writeln!(
        s,
        "| policy | exit rates | mIoU | mean ms | p95 ms | G Multi-Adds | speed-up |\n|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let rates = r.exit_rate.iter().map(|x| format!("{:.0}%", 100.0 * x)).collect::<Vec<_>>().join(" / ");
        let _ = writeln!(
            s,
            "| {} | {rates} | {:.2} | {:.1} | {:.1} | {:.2} | {} |",
            r.policy,
            r.miou,
            r.mean_ms,
            r.p95_ms,
            r.mean_madds / 1e9,
            fmt_opt(r.speedup, 2)
        );
    }
    for (name, p) in presets {
        let _ = writeln!(
            s,
            "\n**{name}**: `{}` (mIoU {}, speed-up {})",
            p.policy,
            fmt_opt(p.miou, 2),
            fmt_opt(p.speedup, 2)
        );
    }
    s
}

fn csv(rows: &[SweepRow]) -> String {
    let mut s = String::from("policy,threshold,exit_rates,miou,mean_ms,p95_ms,mean_madds,speedup\n");
    for r in rows {
        let rates = r.exit_rate.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(";");
        let _ = writeln!(
            s,
            "{},{},{rates},{:.4},{:.3},{:.3},{:.0},{}",
            r.policy,
            r.threshold.map_or(String::new(), |t| t.to_string()),
            r.miou,
            r.mean_ms,
            r.p95_ms,
            r.mean_madds,
            r.speedup.map_or(String::new(), |x| format!("{x:.4}"))
        );
    }
    s
}
