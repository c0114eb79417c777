//! `add app` (and `add` with no subcommand): the window's options, turned into
//! [`crate::ui::AppOptions`].

use std::path::PathBuf;

/// The models the app runs and the policy: the window's and `add present`'s.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModelChoiceArgs {
    /// ADD model weights (.safetensors or reference .pth) [default: models/add.safetensors;
    /// random weights when absent].
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Architecture card of the model [default: <model>.json or the one embedded].
    #[arg(long, value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// Full Auto-DeepLab baseline weights to compare with [default: models/autodeeplab.safetensors].
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Device: auto, cpu, cuda, cuda:N or metal.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Use demo data (colour rules) instead of a network: for trying the UI.
    #[arg(long)]
    pub demo: bool,
    /// Exit policy: a card preset (`accurate`, `fast`) or a policy such as `edm:0.3`
    /// [default: the card's accurate preset, or what was chosen last time].
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,
}

impl From<ModelChoiceArgs> for crate::ui::ModelChoice {
    fn from(a: ModelChoiceArgs) -> crate::ui::ModelChoice {
        let ModelChoiceArgs { model, card, baseline, device, demo, policy } = a;
        crate::ui::ModelChoice { model, card, baseline, device, demo, policy }
    }
}

/// Options of the app window.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AppArgs {
    #[command(flatten)]
    pub models: ModelChoiceArgs,
    /// Image to open at start.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Save a screenshot of the window once the image's results are in, then exit.
    #[arg(long, value_name = "FILE", requires = "image")]
    pub screenshot: Option<PathBuf>,
    /// Tab to open on: inspector, network, plots or dataset (for screenshots of a view).
    #[arg(long, default_value = "inspector", value_parser = ["inspector", "network", "plots", "dataset"])]
    pub tab: String,
    /// Select this cell in the network view (0-11).
    #[arg(long, value_name = "N")]
    pub cell: Option<usize>,
    /// Open this dataset folder in the browser at start and run it.
    #[arg(long, value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// Open this search history folder in the Plots tab and the network view: the --out of
    /// `add search`, or a reference search experiment folder (epoch folders of .npy files).
    #[arg(long, value_name = "DIR")]
    pub search_history: Option<PathBuf>,
    /// Open in presenter mode at this step (0 = the photo) once the image's results are in; with
    /// --screenshot, a picture of that step.
    #[arg(long, value_name = "STEP", requires = "image")]
    pub present: Option<usize>,
}

impl From<AppArgs> for crate::ui::AppOptions {
    fn from(a: AppArgs) -> crate::ui::AppOptions {
        crate::ui::AppOptions {
            models: a.models.into(),
            image: a.image,
            screenshot: a.screenshot,
            tab: a.tab,
            cell: a.cell,
            dataset: a.dataset,
            search_history: a.search_history,
            present: a.present,
        }
    }
}
