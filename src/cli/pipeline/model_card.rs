//! models/MODEL_CARD.md, written by `add pipeline --ship` from what the run produced (the
//! cards, the training logs, the decision makers' report, the evaluation), so the numbers in it
//! are measured, never typed in.

use std::fmt::Write;
use std::path::Path;

use crate::network::checkpoint::TensorFile;
use crate::network::{ArchCard, ParamTable};

use super::PipelineArgs;
use crate::train::bn_calibrate;
use crate::train::provenance::trained_elsewhere;

/// Steps and summed compute seconds (data + forward + backward + update) of a `train_log.csv`.
/// Summing per-step times survives resumes, whose `elapsed_s` restarts from zero.
pub fn training_time(log: &Path) -> anyhow::Result<(usize, f64)> {
    let text = std::fs::read_to_string(log).map_err(|e| anyhow::anyhow!("{}: {e}", log.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let cols: Vec<usize> = ["data_s", "forward_s", "backward_s", "update_s"]
        .iter()
        .map(|c| header.iter().position(|h| h == c).ok_or_else(|| anyhow::anyhow!("{}: no column {c}", log.display())))
        .collect::<anyhow::Result<_>>()?;
    let (mut steps, mut secs) = (0, 0.0);
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        steps += 1;
        secs += cols.iter().filter_map(|&c| f.get(c)?.parse::<f64>().ok()).sum::<f64>();
    }
    Ok((steps, secs))
}

fn describe(s: &mut String, file: &str, card: &ArchCard) -> anyhow::Result<()> {
    let params = ParamTable::of(card)?;
    writeln!(s, "### `{file}`: {}\n", card.name)?;
    writeln!(
        s,
        "- kind {:?}, F = {}, B = {}, stem {}/{}, head width {} (low-level {})",
        card.kind, card.f, card.b, card.stem.width, card.stem.out, card.head.width, card.head.low_level_width
    )?;
    writeln!(
        s,
        "- path (level per cell): {:?}; exits after cells {:?} and {}",
        card.path,
        card.exits,
        card.path.len() - 1
    )?;
    writeln!(
        s,
        "- decision makers: {:?}{}; {} classes; {:.3} M parameters",
        card.edm.kind,
        if card.edm.kind.has_scalar() { format!(" (scalar EDM width {})", card.edm.channels) } else { String::new() },
        card.classes.len(),
        params.network() as f64 / 1e6
    )?;
    for (name, p) in &card.presets {
        let miou = p.miou.map_or("-".into(), |m| format!("{m:.2}"));
        let speed = p.speedup.map_or("-".into(), |m| format!("{m:.2}x"));
        writeln!(s, "- preset `{name}`: `{}` (mIoU {miou}, speed-up {speed})", p.policy)?;
    }
    writeln!(s)?;
    Ok(())
}

/// Writes `dir/MODEL_CARD.md` for a finished pipeline run in `a.out`.
pub fn write(dir: &Path, a: &PipelineArgs) -> anyhow::Result<()> {
    let add = TensorFile::read(&dir.join("add.safetensors"))?;
    let base = TensorFile::read(&dir.join("autodeeplab.safetensors"))?;
    let card_of = |f: &TensorFile| f.card.clone().ok_or_else(|| anyhow::anyhow!("{}: no card", f.path.display()));
    let (add_card, base_card) = (card_of(&add)?, card_of(&base)?);
    let mut s = String::new();
    writeln!(s, "# Shipped models\n")?;
    writeln!(
        s,
        "Written by `add pipeline` from the run it describes. Both models are trained from scratch on \
         generated street scenes only: they show how the network behaves, they are not Cityscapes models.\n"
    )?;
    describe(&mut s, "add.safetensors", &add_card)?;
    describe(&mut s, "autodeeplab.safetensors", &base_card)?;
    writeln!(s, "## Data\n")?;
    writeln!(
        s,
        "`add synth`: {} scenes of 256x512 (seed {}), 20% held out as val; difficulty drawn uniformly in [0, 1] \
         (weather, light, clutter, blur, noise). The val split is what the tables below measure.\n",
        a.scenes, a.seed
    )?;
    writeln!(s, "## Training\n")?;
    for (name, run) in [("ADD", "add"), ("Auto-DeepLab baseline", "autodeeplab")] {
        let (steps, secs) = training_time(&a.out.join(run).join("train_log.csv"))?;
        match trained_elsewhere(&a.out.join(run).join("model.safetensors"))? {
            Some(t) => writeln!(
                s,
                "- {name}: {} steps by {} on {}, {} images seen, {:.1} min of compute (summed per step{}); \
                 schedule {}; recipe {}",
                t.step,
                t.trainer,
                t.device,
                t.images_seen,
                if t.compute_s > 0.0 { t.compute_s } else { secs } / 60.0,
                if t.compute_s > 0.0 { ", the whole run" } else { "" },
                if t.schedule.is_null() { "poly".into() } else { t.schedule.to_string() },
                t.recipe
            )?,
            None => writeln!(
                s,
                "- {name}: {steps} steps of `add train` on this CPU ({} device), {:.1} min of compute (summed per \
                 step); SGD with Nesterov momentum 0.9, weight decay 4e-5, learning rate 0.05 with poly decay, class \
                 weights 1 / ln(1.02 + frequency), batch 4, random-scale (0.75-1.5) crops of {} with flips and \
                 colour jitter",
                a.device,
                secs / 60.0,
                a.crop
            )?,
        }
    }
    writeln!(
        s,
        "- BatchNorm statistics of both models then recomputed on {} full-size ({}) train images \
         (`add calibrate-bn`), since training crops can leave the deep cells' statistics describing \
         zero padding, and kept only where they score higher on the val split:",
        bn_calibrate::BATCHES * bn_calibrate::BATCH,
        bn_calibrate::SIZE
    )?;
    for run in ["add", "autodeeplab"] {
        match super::bn_choice::BnChoice::load(&a.out.join(run))? {
            Some(c) => writeln!(s, "  - {} (first {} val images)", c.describe(run), c.images)?,
            None => writeln!(s, "  - {run}: not compared (recomputed statistics kept)")?,
        }
    }
    writeln!(s, "- decision makers: {} epochs on the frozen network (`add train-edm --kind both`)\n", a.edm_epochs)?;
    // every decision-maker report in the run folder (the shipped one, and any trained to
    // compare, e.g. the EDM-map with the other target)
    let mut reports: Vec<_> = std::fs::read_dir(&a.out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".report.md"))
        .collect();
    reports.sort();
    if !reports.is_empty() {
        writeln!(s, "## Decision makers\n")?;
    }
    for r in reports {
        let text = std::fs::read_to_string(&r).map_err(|e| anyhow::anyhow!("{}: {e}", r.display()))?;
        let name = r.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        writeln!(s, "`{name}`: {text}")?;
    }
    let eval = a.out.join("eval").join("eval.md");
    let text = std::fs::read_to_string(&eval).map_err(|e| anyhow::anyhow!("{}: {e}", eval.display()))?;
    // the evaluation's own title becomes a section
    let body = text.lines().skip_while(|l| l.starts_with("# ")).collect::<Vec<_>>().join("\n");
    writeln!(s, "## Evaluation (`add eval`, val split, this CPU, times measured in one run)\n{body}\n")?;
    writeln!(s, "## Reading these numbers\n")?;
    let json = crate::eval::eval_file::EvalFile::read(&a.out.join("eval").join("eval.json"))?;
    let mious: Vec<f64> = json.exits.iter().map(|e| e.miou).collect();
    if let (Some(first), Some(last)) = (mious.first(), mious.last()) {
        if last < first {
            writeln!(
                s,
                "- The final exit ({last:.2} mIoU) is below the first ({first:.2}): at this training budget the deeper \
                 cells have not caught up, so the presets answer at exit 0 and the speed-up is the early exit's \
                 saving, not a trade. Train longer (`--steps`) before reading the policy table as ADD's trade-off."
            )?;
        }
    }
    let presets = &add_card.presets;
    for (name, target_speed, target_drop) in [("accurate", 1.6, 0.3), ("fast", 2.15, 1.5)] {
        if let (Some(p), Some(base)) = (presets.get(name), json.baseline.miou) {
            let (miou, speed) = (p.miou.unwrap_or(f64::NAN), p.speedup.unwrap_or(f64::NAN));
            let met = speed >= target_speed && miou >= base - target_drop;
            writeln!(
                s,
                "- {name}: {speed:.2}x at {:+.2} mIoU against the baseline; the paper's target is >= {target_speed}x \
                 within {target_drop} points: {}.",
                miou - base,
                if met { "met" } else { "not met" }
            )?;
        }
    }
    writeln!(s)?;
    writeln!(s, "## Reproduce\n")?;
    let search = match (a.search_epochs, a.cell_search) {
        (0, _) => String::new(),
        (e, false) => format!(" --search-epochs {e}"),
        (e, true) => format!(" --search-epochs {e} --cell-search"),
    };
    writeln!(
        s,
        "```sh\nadd pipeline --out runs/pipe --seed {} --scenes {} --steps {} --filters {} --head-width {} \
         --stem-width {} --edm-channels {} --crop {} --arch {}{search} --ship models/\n```\n\nEvery stage is skipped when its output exists and \
         training resumes from its last checkpoint, so the command can be rerun after an interruption.",
        a.seed,
        a.scenes,
        a.steps,
        a.filters,
        a.head_width,
        a.stem_width(),
        a.edm_channels(),
        a.crop,
        a.arch
    )?;
    crate::fsutil::atomic_write(&dir.join("MODEL_CARD.md"), s.as_bytes())?;
    println!("wrote {}", dir.join("MODEL_CARD.md").display());
    Ok(())
}
