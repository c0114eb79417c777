//! `add report`: a failure report a researcher can hand to colleagues. One evaluation pass
//! (`eval::collect`, the same records `add eval` uses) over a labelled set, then, under the
//! chosen policy, the worst images by each [`worst::Criterion`] with thumbnails of the photo,
//! the label, every exit, full Auto-DeepLab and the decision maker's maps; the per-exit and
//! per-class numbers, the confusion matrix and the speed-vs-mIoU plot. A self-contained folder:
//! `index.html` + `images/`, openable in any browser.

pub mod page;
pub mod worst;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::engine::{Engine, Policy, RunEvent, RunOptions, device};
use crate::eval::collect::collect;
use crate::eval::metrics::ConfusionMatrix;
use crate::eval::summary;
use crate::eval::sweep::{SweepRow, chosen_exit, evaluate};
use crate::export::render::{classes_image, gray_image, palette_image, thumbnail};

/// Images whose longer side exceeds this are scaled down first, as `add eval`'s default.
const MAX_SIDE: u32 = 2049;

/// What `add report` does: the models, the labelled set, the policy judged, the folder.
#[derive(Debug, Clone)]
pub struct ReportJob {
    pub model: PathBuf,
    pub baseline: Option<PathBuf>,
    /// A labelled dataset, any layout [`crate::data::datasets::detect`] knows.
    pub data: PathBuf,
    pub split: String,
    /// The exit policy judged (default: the card's "accurate" preset, else the full path).
    pub policy: Option<String>,
    /// Images shown per criterion.
    pub worst: usize,
    pub max_images: usize,
    /// Output folder (index.html, images/); must be new or empty unless `force`.
    pub out: PathBuf,
    pub force: bool,
    pub device: String,
}

/// Everything the page shows, computed.
pub struct Report {
    pub model_name: String,
    pub model_file: String,
    pub baseline_file: Option<String>,
    pub data: String,
    pub policy: String,
    pub images: usize,
    pub classes: Vec<String>,
    /// Per exit: (cell, mIoU, IoU per class).
    pub exits: Vec<(usize, f64, Vec<Option<f64>>)>,
    pub baseline_miou: Option<f64>,
    /// The policy's own row and every fixed exit's (for the plot), with the baseline's time.
    pub rows: Vec<SweepRow>,
    pub baseline_ms: Option<f64>,
    /// Confusion of the policy's answers over the set.
    pub confusion: ConfusionMatrix,
    /// Per criterion: (title, [(image name, note, thumbnails)]).
    pub sections: Vec<(String, Vec<Shown>)>,
}

/// One image in a section: its name, the criterion's number, and its thumbnails (file name
/// under images/, caption).
pub struct Shown {
    pub image: String,
    pub note: String,
    pub thumbs: Vec<(String, String)>,
}

/// Runs `add report`.
pub fn run(args: ReportJob) -> anyhow::Result<()> {
    let dev = device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    let model = Engine::load(&args.model, None, &dev)?;
    let baseline = args.baseline.as_ref().map(|b| Engine::load(b, None, &dev)).transpose()?;
    let card = model.card().clone();
    let policy_text = args
        .policy
        .clone()
        .unwrap_or_else(|| card.presets.get("accurate").map(|p| p.policy.clone()).unwrap_or_else(|| "full".into()));
    let policy: Policy = policy_text.parse()?;
    let images_dir = args.out.join("images");
    if args.out.exists() && !args.force {
        let used = std::fs::read_dir(&args.out).map(|mut d| d.next().is_some()).unwrap_or(true);
        anyhow::ensure!(!used, "{}: not empty; pass --force to write the report into it", args.out.display());
    }
    std::fs::create_dir_all(&images_dir).with_context(|| format!("{}: cannot create", images_dir.display()))?;
    let ds = crate::data::datasets::open_for_command(&args.data, &args.split, false, &model.card().palette())?;
    let recs = collect(&model, baseline.as_ref(), &ds, args.max_images, MAX_SIDE)?;
    anyhow::ensure!(!recs.is_empty(), "no images evaluated");

    let k = card.classes.len();
    let exit_cells = card.exit_cells();
    let table = summary::cost_table(&model, &ds, MAX_SIDE)?;
    let base = summary::baseline_quality(&recs, k);
    let (baseline_ms, baseline_miou) = (base.map(|b| b.0), base.map(|b| b.1));
    let exits = (0..card.num_exits())
        .map(|e| {
            let (miou, iou) = summary::exit_quality(&recs, e, k);
            (exit_cells[e], miou, iou)
        })
        .collect();
    let mut rows = vec![evaluate(policy, &recs, &table, &exit_cells, baseline_ms)];
    for e in 0..card.num_exits() {
        rows.push(evaluate(Policy::FixedExit(e), &recs, &table, &exit_cells, baseline_ms));
    }
    let mut confusion = ConfusionMatrix::new(k);
    recs.iter().for_each(|r| confusion.merge(&r.exits[chosen_exit(&policy, r)].confusion));

    let mut sections = Vec::new();
    let mut drawn = std::collections::HashMap::new();
    for c in worst::Criterion::ALL {
        let mut shown = Vec::new();
        for (i, note) in worst::worst(c, &policy, &recs, args.worst) {
            if !drawn.contains_key(&i) {
                drawn.insert(i, thumbnails(&model, baseline.as_ref(), &ds, i, &images_dir)?);
            }
            shown.push(Shown { image: recs[i].image.clone(), note, thumbs: drawn[&i].clone() });
        }
        sections.push((c.title().to_string(), shown));
    }
    let report = Report {
        model_name: card.name.clone(),
        model_file: args.model.display().to_string(),
        baseline_file: args.baseline.as_ref().map(|b| b.display().to_string()),
        data: format!("{} ({} split)", args.data.display(), args.split),
        policy: policy.to_string(),
        images: recs.len(),
        classes: card.classes.iter().map(|c| c.name.clone()).collect(),
        exits,
        baseline_miou,
        rows,
        baseline_ms,
        confusion,
        sections,
    };
    let index = args.out.join("index.html");
    crate::fsutil::atomic_write(&index, page::html(&report).as_bytes())
        .with_context(|| format!("{}: cannot write", index.display()))?;
    println!("report of {} images: {}", recs.len(), index.display());
    Ok(())
}

/// Runs image `i` again (every head, the decision makers' maps) and writes its thumbnails.
fn thumbnails(
    model: &Engine,
    baseline: Option<&Engine>,
    ds: &crate::data::datasets::Dataset,
    i: usize,
    dir: &Path,
) -> anyhow::Result<Vec<(String, String)>> {
    const WIDTH: u32 = 320;
    let d = ds.load(i)?;
    let card = model.card();
    let mut out = Vec::new();
    let mut save = |img: image::DynamicImage, what: &str, caption: String| -> anyhow::Result<()> {
        let name = format!("{i:05}_{what}.png");
        crate::data::image_io::save_png_atomic(&thumbnail(&img, WIDTH), &dir.join(&name))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        out.push((name, caption));
        Ok(())
    };
    let (w, h) = (d.image.width() as usize, d.image.height() as usize);
    save(image::DynamicImage::ImageRgb8(d.image.clone()), "photo", "photo".into())?;
    if let Some(label) = &d.label {
        save(classes_image(w, h, label.as_raw(), card), "label", "label".into())?;
    }
    let opts = RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: true, max_side: MAX_SIDE, edm_maps: true };
    let mut events = Vec::new();
    model.run(&d.image, &opts, 0, &AtomicBool::new(false), &mut |e| events.push(e))?;
    let exits: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Exit(r) => Some(r),
            _ => None,
        })
        .collect();
    for r in &exits {
        if let Some(m) = &r.maps {
            save(
                palette_image(m, card),
                &format!("exit{}", r.exit + 1),
                format!("exit {} (cell {})", r.exit + 1, r.cell),
            )?;
        }
    }
    if let Some(b) = baseline {
        let opts = RunOptions { analysis: false, edm_maps: false, ..opts };
        let mut events = Vec::new();
        b.run(&d.image, &opts, 0, &AtomicBool::new(false), &mut |e| events.push(e))?;
        if let Some(m) = events.iter().find_map(|e| match e {
            RunEvent::Exit(r) => r.maps.clone(),
            _ => None,
        }) {
            save(palette_image(&m, card), "baseline", "full Auto-DeepLab".into())?;
        }
    }
    // the decision maker's view last: where it expects each early exit to be unsure
    for r in &exits {
        if let Some(map) = &r.edm_map {
            save(
                gray_image(w, h, map),
                &format!("edm{}", r.exit + 1),
                format!("EDM-map at exit {} (white: unsure)", r.exit + 1),
            )?;
        }
    }
    Ok(out)
}
