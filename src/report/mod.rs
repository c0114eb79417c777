//! `add report`: a failure report a researcher can hand to colleagues. One evaluation pass
//! (`eval::collect`, the same records `add eval` uses) over a labelled set, then, under the
//! chosen policy, the worst images by each [`worst::Criterion`] with thumbnails of the photo,
//! the label, every exit, full Auto-DeepLab and the decision maker's maps; the per-exit and
//! per-class numbers, the confusion matrix and the speed-vs-mIoU plot. A self-contained folder:
//! `index.html` + `images/`, openable in any browser.
//!
//! The pass keeps no image's record: the numbers are added up as it goes, and only the current
//! candidates for the worst lists keep their thumbnails (made from the pass's own runs), so
//! memory stays flat over any number of images and the report costs about what `add eval`
//! costs. It is written into a temp folder and moved into place when complete.

pub mod folder;
pub mod page;
pub mod thumbs;
pub mod worst;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::engine::{Engine, Policy, device};
use crate::eval::collect::{Cancelled, Pass, for_each_image};
use crate::eval::difficulty::{Bin, Rates};
use crate::eval::metrics::ConfusionMatrix;
use crate::eval::summary::{self, Quality};
use crate::eval::sweep::{SweepRow, Tally, chosen_exit};

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
    /// The policy's exit rates per scene-difficulty bin (generated sets record difficulty).
    pub by_difficulty: Vec<Bin>,
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

/// Runs `add report`: Some(its index.html) when written; None when `cancel` was set, and then
/// nothing was written. `progress` hears (images done, images in the pass).
pub fn run(args: ReportJob, cancel: &AtomicBool, progress: &dyn Fn(usize, usize)) -> anyhow::Result<Option<PathBuf>> {
    // a folder in use is refused before any work
    let staged = folder::Staged::new(&args.out, args.force)?;
    let dev = device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    let model = Engine::load(&args.model, None, &dev)?;
    let baseline = args.baseline.as_ref().map(|b| Engine::load(b, None, &dev)).transpose()?;
    let card = model.card().clone();
    let policy_text = args
        .policy
        .clone()
        .unwrap_or_else(|| card.presets.get("accurate").map(|p| p.policy.clone()).unwrap_or_else(|| "full".into()));
    let policy: Policy = policy_text.parse()?;
    let ds = crate::data::datasets::open_for_command(&args.data, &args.split, false, &card.palette())?;
    let (k, exit_cells) = (card.classes.len(), card.exit_cells());
    let table = summary::cost_table(&model, &ds, MAX_SIDE)?;

    let mut quality = Quality::new(k, exit_cells.len());
    let settings = std::iter::once(policy).chain((0..exit_cells.len()).map(Policy::FixedExit));
    let mut tallies: Vec<Tally> = settings.map(|p| Tally::new(p, k, exit_cells.len())).collect();
    let mut picker = worst::Picker::new(policy, args.worst);
    let difficulty = crate::eval::difficulty::load(&args.data)?;
    let mut rates = Rates::new(crate::eval::difficulty::BINS, exit_cells.len());
    // the current candidates' thumbnails and names
    let mut held: HashMap<usize, (String, thumbs::Pictures)> = HashMap::new();
    let mut images = 0;
    let pass = Pass { limit: args.max_images, max_side: MAX_SIDE, edm_maps: true, cancel, progress };
    let done = for_each_image(&model, baseline.as_ref(), &ds, &pass, &mut |rec, seen| {
        images += 1;
        quality.add(&rec);
        rates.add(difficulty.get(&ds.samples[seen.index].image).copied(), chosen_exit(&policy, &rec));
        tallies.iter_mut().for_each(|t| t.add(&rec, &table, &exit_cells));
        if picker.offer(seen.index, &rec) {
            // named within the set: the page travels without the data
            let path = &ds.samples[seen.index].image;
            let name = path.strip_prefix(&ds.root).unwrap_or(path).display().to_string();
            held.insert(seen.index, (name, thumbs::pictures(&seen, &card)));
            held.retain(|i, _| picker.holds(*i));
        }
        Ok(())
    });
    match done {
        Err(e) if e.is::<Cancelled>() => return Ok(None),
        other => other?,
    }
    anyhow::ensure!(images > 0, "no images evaluated (--max-images 0?)");

    let images_dir = staged.dir().join("images");
    let mut sections = Vec::new();
    for (c, list) in picker.lists() {
        let mut shown = Vec::new();
        for (i, note) in list {
            let (name, pictures) = &held[&i];
            shown.push(Shown { image: name.clone(), note, thumbs: pictures.write(&images_dir)? });
        }
        sections.push((c.title().to_string(), shown));
    }
    let base = quality.baseline();
    let (baseline_ms, baseline_miou) = (base.map(|b| b.0), base.map(|b| b.1));
    let exits = (0..exit_cells.len())
        .map(|e| {
            let (miou, iou) = quality.exit(e);
            (exit_cells[e], miou, iou)
        })
        .collect();
    let confusion = tallies[0].confusion().clone();
    let report = Report {
        model_name: card.name.clone(),
        model_file: args.model.display().to_string(),
        baseline_file: args.baseline.as_ref().map(|b| b.display().to_string()),
        data: format!("{} ({} split)", args.data.display(), args.split),
        policy: policy.to_string(),
        images,
        classes: card.classes.iter().map(|c| c.name.clone()).collect(),
        exits,
        baseline_miou,
        rows: tallies.into_iter().map(|t| t.row(baseline_ms)).collect(),
        baseline_ms,
        confusion,
        by_difficulty: rates.bins(),
        sections,
    };
    let page = staged.dir().join("index.html");
    std::fs::write(&page, page::html(&report)).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", page.display()))?;
    staged.commit()?;
    Ok(Some(args.out.join("index.html")))
}
