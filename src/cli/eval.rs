//! `add eval` and `add report`: their options, which share the models, the data and the device,
//! turned into the library's [`Evaluation`] and [`ReportJob`]; `add report`'s progress bar and
//! Ctrl-C.

use std::path::PathBuf;

use crate::eval::run::Evaluation;
use crate::report::ReportJob;

/// The inputs both commands take.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalInputs {
    /// The multi-exit model.
    #[arg(long, short = 'm')]
    pub model: PathBuf,
    /// The Auto-DeepLab baseline to compare with (speed-ups and mIoU reference).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// A labelled dataset: Cityscapes layout, PASCAL VOC, images/ + masks/, or images with _label
    /// masks beside them.
    #[arg(long)]
    pub data: PathBuf,
    /// Cityscapes split, or VOC list (ImageSets/Segmentation/<split>.txt) when there is one.
    #[arg(long, default_value = "val")]
    pub split: String,
    #[arg(long, default_value_t = 100_000)]
    pub max_images: usize,
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Options of `add eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub inputs: EvalInputs,
    #[arg(long, default_value_t = 2049)]
    pub max_side: u32,
    /// Folder for eval.md, eval.csv, eval.json.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Thresholds per policy.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Do not write the accurate/fast presets into the model's card.
    #[arg(long)]
    pub no_presets: bool,
    /// Leave out (and report) unpaired or unreadable samples instead of stopping.
    #[arg(long)]
    pub skip_bad: bool,
}

impl From<EvalArgs> for Evaluation {
    fn from(a: EvalArgs) -> Evaluation {
        let i = a.inputs;
        Evaluation {
            model: i.model,
            baseline: i.baseline,
            data: i.data,
            split: i.split,
            max_images: i.max_images,
            max_side: a.max_side,
            out: a.out,
            steps: a.steps,
            no_presets: a.no_presets,
            skip_bad: a.skip_bad,
            device: i.device,
        }
    }
}

/// Options of `add report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub inputs: EvalInputs,
    /// The exit policy the report judges (default: the card's "accurate" preset, else full).
    #[arg(long)]
    pub policy: Option<String>,
    /// Images shown per criterion.
    #[arg(long, default_value_t = 8)]
    pub worst: usize,
    /// Output folder (index.html, images/); must be new or empty unless --force.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Replace the index.html and images/ of a folder in use (other files in it are kept).
    #[arg(long)]
    pub force: bool,
}

impl From<ReportArgs> for ReportJob {
    fn from(a: ReportArgs) -> ReportJob {
        let i = a.inputs;
        ReportJob {
            model: i.model,
            baseline: i.baseline,
            data: i.data,
            split: i.split,
            policy: a.policy,
            worst: a.worst,
            max_images: i.max_images,
            out: a.out,
            force: a.force,
            device: i.device,
        }
    }
}

/// Runs `add report` with a progress bar; Ctrl-C stops it between cells and leaves the output
/// folder as it was.
pub fn report(args: ReportArgs) -> anyhow::Result<()> {
    crate::fit::interrupt::install();
    let job: ReportJob = args.into();
    let out = job.out.clone();
    let bar = crate::eval::collect::image_bar(0);
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let written = crate::report::run(job, crate::fit::interrupt::flag(), &progress);
    bar.finish_and_clear();
    match written? {
        Some(index) => println!("report: {}", index.display()),
        None => anyhow::bail!("interrupted: no report written; {} is as it was", out.display()),
    }
    Ok(())
}
