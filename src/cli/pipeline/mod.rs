//! `add pipeline`: every stage from a fixed seed, each skipped when its output already exists,
//! so an interrupted pipeline picks up where it stopped (training stages resume from their
//! checkpoints): generate scenes, optionally search the path, train ADD, train the Auto-DeepLab
//! baseline, recompute both models' BatchNorm statistics on full-size images (kept where the val
//! split scores them higher, [`bn_choice`]), train the decision makers, evaluate (writing the
//! presets), and optionally ship the models into models/ with a model card ([`model_card`]). Each
//! stage is the library's typed function, called with the pipeline's recipe.

pub mod bn_choice;
pub mod model_card;

use std::path::{Path, PathBuf};

use bn_choice::BnChoice;

use crate::data::datasets::{OnBad, cityscapes};
use crate::data::size::parse_size;
use crate::data::synth::writer::DatasetPlan;
use crate::eval::run::Evaluation;
use crate::fit::checkpoint::RunFolder;
use crate::network::EdmKind;
use crate::search::config::default_steps_per_epoch;
use crate::search::{SearchConfig, SearchFiles};
use crate::train::bn_calibrate::{self, Calibration};
use crate::train::edm::{EdmTraining, MapTarget};
use crate::train::provenance::trained_elsewhere;
use crate::train::shape::Shape;
use crate::train::trainer::{self, TrainConfig, TrainJob};

/// Options of `add pipeline`.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// Working folder (data/, add/, autodeeplab/, add_edm.safetensors, eval/).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Generated scenes (20% go to val).
    #[arg(long, default_value_t = 600)]
    pub scenes: u64,
    /// Architecture of the multi-exit model: a card file or preset (used when
    /// --search-epochs is 0).
    #[arg(long, default_value = "add-2")]
    pub arch: String,
    /// Search the network path first, for this many epochs (0: take --arch as it is).
    #[arg(long, default_value_t = 0)]
    pub search_epochs: usize,
    /// With --search-epochs: search the cell's ops too (alpha), not only the path.
    #[arg(long)]
    pub cell_search: bool,
    #[arg(long, default_value_t = 8)]
    pub filters: usize,
    #[arg(long, default_value_t = 64)]
    pub head_width: usize,
    /// Width of both models' stem (output 2x). Default: the reference's 64 at F=20 scaled
    /// with F (24 at F=8); the fixed 64 would be most of a small model's cost and cap the
    /// early exits' speed-up.
    #[arg(long)]
    pub stem_width: Option<usize>,
    #[arg(long, default_value_t = 800)]
    pub steps: usize,
    /// Training crop: large enough for thin classes (poles, signs, people) to be whole.
    #[arg(long, default_value = "257x513")]
    pub crop: String,
    #[arg(long, default_value_t = 30)]
    pub edm_epochs: usize,
    /// Width of the scalar EDM's convolution. Default: the reference's 128 at F=20 scaled
    /// with F (48 at F=8), as the stem: the EDM is paid before every early answer.
    #[arg(long)]
    pub edm_channels: Option<usize>,
    /// Stop training stages at this step (checkpoint saved); rerun to continue.
    #[arg(long)]
    pub until: Option<usize>,
    /// Copy the finished models into this folder (e.g. models/).
    #[arg(long)]
    pub ship: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

impl PipelineArgs {
    /// The stem width asked for, or the reference's 64 at F=20 scaled with F to a multiple of 8.
    pub fn stem_width(&self) -> usize {
        self.stem_width.unwrap_or((64 * self.filters / 20 / 8).max(1) * 8)
    }

    /// The scalar EDM's width asked for, or the reference's 128 at F=20 scaled with F to a
    /// multiple of 16.
    pub fn edm_channels(&self) -> usize {
        self.edm_channels.unwrap_or((128 * self.filters / 20 / 16).max(1) * 16)
    }
}

/// The pipeline's training recipe for `arch` into `out`.
fn train_job(a: &PipelineArgs, arch: &str, out: PathBuf) -> anyhow::Result<TrainJob> {
    let shape = Shape {
        arch: arch.to_string(),
        filters: a.filters,
        head_width: Some(a.head_width),
        stem_width: Some(a.stem_width()),
    };
    let config = TrainConfig {
        steps: a.steps,
        batch: 4,
        crop: parse_size("--crop", &a.crop)?,
        scale: (0.75, 1.5),
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 4e-5,
        seed: a.seed,
        checkpoint_every: 25,
        class_weights: Vec::new(),
        nesterov: true,
    };
    Ok(TrainJob {
        card: shape.card()?,
        data: a.out.join("data"),
        out,
        config,
        balance_classes: true,
        resume: false,
        until: a.until,
        skip_bad: false,
        device: a.device.clone(),
    })
}

/// Trains `arch` into `out` unless the run is complete; resumes when a checkpoint exists. True
/// when complete. A run folder whose model was trained elsewhere (pytorch/add_torch writes its
/// provenance into the model) counts as complete when that training finished; `add` takes over
/// from there.
fn train_stage(a: &PipelineArgs, arch: &str, out: PathBuf) -> anyhow::Result<bool> {
    let ckpt = out.join("checkpoint.safetensors");
    if !ckpt.exists() {
        if let Some(trained) = trained_elsewhere(&out.join("model.safetensors"))? {
            anyhow::ensure!(
                trained.complete,
                "{}: its training by {} stopped at step {} of {}; finish it there first",
                out.join("model.safetensors").display(),
                trained.trainer,
                trained.step,
                trained.steps
            );
            println!("    trained by {} ({} steps): using it as it is", trained.trainer, trained.step);
            return Ok(true);
        }
    }
    let resume = ckpt.exists();
    if resume && trainer::checkpoint_step(&ckpt)? >= a.steps {
        return Ok(true);
    }
    trainer::run(TrainJob { resume, ..train_job(a, arch, out)? })?;
    Ok(trainer::checkpoint_step(&ckpt)? >= a.steps)
}

/// Searches the path (resuming an unfinished search), then writes the found card at the
/// training scale; returns its path.
fn search_stage(a: &PipelineArgs) -> anyhow::Result<String> {
    let dir = a.out.join("search");
    let train_card = dir.join("arch_train.json");
    if !train_card.exists() {
        let what = if a.cell_search { "network path and the cell" } else { "network path" };
        println!("[1b/5] searching the {what} ({} epochs)", a.search_epochs);
        let files = SearchFiles { dir: dir.clone() };
        let resume = files.checkpoint().exists();
        let ds = cityscapes::open(&a.out.join("data"), "train", OnBad::Fail)?;
        // `add search`'s defaults, a third of the epochs warming up, one pass over half A an epoch
        let (epochs, warmup) = (a.search_epochs, (a.search_epochs / 3).max(1));
        let mut cfg =
            SearchConfig { seed: a.seed, cell_search: a.cell_search, ..SearchConfig::defaults(epochs, warmup, 0) };
        cfg.steps_per_epoch = default_steps_per_epoch(ds.len(), cfg.batch);
        super::search::search_and_report(&ds, &cfg, &files, resume, None, &a.device)?;
        let mut card = crate::network::ArchCard::load(&files.card())?;
        card.f = a.filters;
        card.head.width = a.head_width;
        card.stem = crate::network::card::StemSettings::scaled(a.stem_width());
        card.validate()?;
        crate::fsutil::atomic_write(&train_card, card.to_json().as_bytes())?;
    }
    Ok(train_card.display().to_string())
}

/// Generates the scenes unless they exist.
fn synth_stage(a: &PipelineArgs, data: &Path) -> anyhow::Result<()> {
    if !data.join("manifest.jsonl").exists() {
        println!("[1/5] generating {} scenes", a.scenes);
        let plan = DatasetPlan {
            out: data.to_path_buf(),
            count: a.scenes,
            width: 512,
            height: 256,
            seed: a.seed,
            val_fraction: 0.2,
            difficulty: (0.0, 1.0),
        };
        crate::data::synth::writer::run(&plan, false)?;
    }
    Ok(())
}

/// BatchNorm statistics gathered on full-size images: training crops can leave the deep cells'
/// statistics describing padding (bn_calibrate.rs). Both versions are measured on the val split
/// and the better is kept ([`bn_choice`]); the decision makers, the evaluation and the shipped
/// models all use the kept networks. Returns ADD's and the baseline's.
fn calibrate_stage(a: &PipelineArgs, data: &Path) -> anyhow::Result<[PathBuf; 2]> {
    let mut kept = Vec::new();
    for run in ["add", "autodeeplab"] {
        let dir = a.out.join(run);
        let (trained, calibrated) = (dir.join("model.safetensors"), dir.join("calibrated.safetensors"));
        if !calibrated.exists() {
            println!("[3b/5] calibrating the BatchNorm statistics of {run} on full-size images");
            bn_calibrate::run(&Calibration {
                model: trained.clone(),
                data: data.to_path_buf(),
                out: calibrated.clone(),
                batches: bn_calibrate::BATCHES,
                batch: bn_calibrate::BATCH,
                size: parse_size("--size", bn_calibrate::SIZE)?,
                seed: a.seed,
                device: a.device.clone(),
            })?;
        }
        let choice = match BnChoice::load(&dir)? {
            Some(c) => c,
            // a run folder from before the comparison: its decision makers were trained on the
            // calibrated ADD, so that stays
            None if a.out.join("add_edm.safetensors").exists() => {
                println!("{run}: recomputed statistics kept (decision makers already trained on them)");
                kept.push(calibrated);
                continue;
            }
            None => {
                println!("[3b/5] comparing {run} with and without the recomputed statistics on the val split");
                let (n, before) = bn_choice::val_mious(&trained, data, bn_choice::IMAGES, &a.device)?;
                let (_, after) = bn_choice::val_mious(&calibrated, data, bn_choice::IMAGES, &a.device)?;
                let c = BnChoice::decide(n, before, after);
                c.save(&dir)?;
                c
            }
        };
        println!("{}", choice.describe(run));
        kept.push(if choice.calibrate { calibrated } else { trained });
    }
    let [add, baseline]: [PathBuf; 2] = kept.try_into().expect("two runs");
    Ok([add, baseline])
}

/// Trains the decision makers on the kept ADD (see [`calibrate_stage`]) unless `add_edm` exists.
fn edm_stage(a: &PipelineArgs, data: &Path, model: &Path, add_edm: &Path) -> anyhow::Result<()> {
    if !add_edm.exists() {
        println!("[4/5] training the decision makers");
        crate::train::edm::run(&EdmTraining {
            model: model.to_path_buf(),
            card: None,
            data: data.to_path_buf(),
            out: add_edm.to_path_buf(),
            kind: EdmKind::Both,
            map_target: MapTarget::Entropy,
            edm_channels: Some(a.edm_channels()),
            epochs: a.edm_epochs,
            lr: 1e-3,
            batch: 8,
            max_images: 2000,
            seed: a.seed,
            max_side: 2049,
            device: a.device.clone(),
            force: false,
        })?;
    }
    Ok(())
}

/// Evaluates ADD with its decision makers against the baseline unless done.
fn eval_stage(a: &PipelineArgs, data: PathBuf, add_edm: &Path, baseline: &Path) -> anyhow::Result<()> {
    let eval_dir = a.out.join("eval");
    if !eval_dir.join("eval.json").exists() {
        println!("[5/5] evaluating");
        crate::eval::run::run(Evaluation {
            model: add_edm.to_path_buf(),
            baseline: Some(baseline.to_path_buf()),
            data,
            split: "val".into(),
            max_images: 100_000,
            max_side: 2049,
            out: eval_dir,
            steps: 20,
            no_presets: false,
            skip_bad: false,
            device: a.device.clone(),
        })?;
    }
    Ok(())
}

fn copy_atomic(from: &Path, to: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(from)?;
    crate::fsutil::atomic_write(to, &bytes)?;
    println!("shipped {}", to.display());
    Ok(())
}

/// Runs `add pipeline`.
pub fn run(a: PipelineArgs) -> anyhow::Result<()> {
    let data = a.out.join("data");
    synth_stage(&a, &data)?;
    let arch = if a.search_epochs > 0 { search_stage(&a)? } else { a.arch.clone() };
    println!("[2/5] training {arch}");
    let add_done = train_stage(&a, &arch, a.out.join("add"))?;
    println!("[3/5] training the Auto-DeepLab baseline");
    let base_done = train_stage(&a, "autodeeplab", a.out.join("autodeeplab"))?;
    if !(add_done && base_done) {
        println!("paused; rerun the same command to continue");
        return Ok(());
    }
    let [add, baseline] = calibrate_stage(&a, &data)?;
    let add_edm = a.out.join("add_edm.safetensors");
    edm_stage(&a, &data, &add, &add_edm)?;
    eval_stage(&a, data, &add_edm, &baseline)?;
    if let Some(dir) = &a.ship {
        std::fs::create_dir_all(dir)?;
        copy_atomic(&add_edm, &dir.join("add.safetensors"))?;
        copy_atomic(&baseline, &dir.join("autodeeplab.safetensors"))?;
        model_card::write(dir, &a)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        a: super::PipelineArgs,
    }

    fn stem(args: &[&str]) -> usize {
        Cmd::parse_from([&["add", "--out", "runs/x"], args].concat()).a.stem_width()
    }

    #[test]
    fn the_stem_scales_with_f_unless_given() {
        assert_eq!(stem(&[]), 24, "F=8 by default: 64 * 8 / 20, to a multiple of 8");
        assert_eq!(stem(&["--filters", "20"]), 64, "the reference's stem at F=20");
        assert_eq!(stem(&["--filters", "2"]), 8);
        assert_eq!(stem(&["--stem-width", "40"]), 40);
    }

    #[test]
    fn the_edm_scales_with_f_unless_given() {
        let edm = |args: &[&str]| Cmd::parse_from([&["add", "--out", "runs/x"], args].concat()).a.edm_channels();
        assert_eq!(edm(&[]), 48, "F=8: 128 * 8 / 20, to a multiple of 16");
        assert_eq!(edm(&["--filters", "20"]), 128, "the reference's EDM at F=20");
        assert_eq!(edm(&["--filters", "1"]), 16);
        assert_eq!(edm(&["--edm-channels", "32"]), 32);
    }
}
