//! The desktop app (eframe): the inspector and its tabs. The worker ([`crate::jobs`]) owns the
//! models and streams each cell and exit as it is computed; the window shows every exit of one
//! image, the policy's decision and why, and compares with the full Auto-DeepLab output.
//!
//! [`app`] owns the state and is the only place that changes it: results ([`results`]),
//! persisted settings ([`settings`]), view state ([`view_state`]), the models
//! ([`model_slot`]), the dataset run ([`dataset_run`]) and what sits next to the model
//! ([`extras`]). Each panel draws from a read-only [`panel::Ctx`] and the state it owns, and
//! returns [`panel::Action`]s: [`toolbar`], [`policy_panel`], [`legend`], [`main_view`] (with
//! [`image_view`], [`welcome`]), [`exit_strip`], [`hover`], [`shortcuts`]; the tabs
//! [`network_view`], [`plots`] and [`browser`]; [`present`] takes the whole window (F5) and goes
//! through a [`playlist`]; [`present_export`] runs it without a window (`add present`), and
//! [`app_timing`] times the app (`add bench-app`). Machinery under them: [`files`] (helper
//! threads), [`textures`], [`render`], [`overlay`], [`decision`], [`export`], [`export_masks`], [`screenshot`],
//! [`net_summary`], [`frame_times`]. No panel imports the app (`tests/architecture.rs`).

pub mod app;
pub mod app_timing;
pub mod browser;
pub mod dataset_run;
pub mod decision;
pub mod exit_strip;
pub mod export;
pub mod export_masks;
pub mod extras;
pub mod files;
pub mod frame_times;
pub mod hover;
pub mod image_view;
pub mod legend;
pub mod main_view;
pub mod model_slot;
pub mod net_summary;
pub mod network_view;
pub mod overlay;
pub mod panel;
pub mod playlist;
pub mod plots;
pub mod policy_panel;
pub mod present;
pub mod present_export;
pub mod render;
pub mod results;
pub mod screenshot;
pub mod settings;
pub mod shortcuts;
pub mod textures;
pub mod toolbar;
pub mod view_state;
pub mod welcome;

pub use app::StudioApp;
pub use settings::Settings;

use std::path::PathBuf;
use std::sync::Arc;

/// Which models the app runs and under which policy: the same choice for the window and for
/// `add present`.
#[derive(Debug, Clone, Default)]
pub struct ModelChoice {
    /// ADD model weights (default: models/add.safetensors; random weights when absent).
    pub model: Option<PathBuf>,
    /// Architecture card of the model (default: `<model>.json` or the one embedded).
    pub card: Option<PathBuf>,
    /// The full Auto-DeepLab baseline to compare with (default: models/autodeeplab.safetensors).
    pub baseline: Option<PathBuf>,
    /// auto, cpu, cuda, cuda:N or metal.
    pub device: String,
    /// Demo data (colour rules) instead of a network.
    pub demo: bool,
    /// A card preset (`accurate`, `fast`) or a policy such as `edm:0.3`.
    pub policy: Option<String>,
}

impl ModelChoice {
    /// The worker, with both models loading.
    pub fn worker(&self, repaint: Arc<dyn Fn() + Send + Sync>) -> crate::jobs::Worker {
        let add =
            crate::jobs::ModelSpec { model: self.model.clone(), card: self.card.clone(), device: self.device.clone() };
        let full = crate::jobs::ModelSpec { model: self.baseline.clone(), card: None, device: self.device.clone() };
        crate::jobs::Worker::spawn(crate::jobs::models::loader(self.demo), add, Some(full), repaint)
    }

    /// `settings` under the chosen policy (a typo is an error naming --policy).
    pub fn apply_policy(&self, settings: &mut Settings) -> anyhow::Result<()> {
        match &self.policy {
            Some(p) => apply_policy_arg(settings, p),
            None => Ok(()),
        }
    }
}

/// What the window opens with (the command line's `add app` options).
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    pub models: ModelChoice,
    /// Image to open at start.
    pub image: Option<PathBuf>,
    /// Save a screenshot of the window once the image's results are in, then exit.
    pub screenshot: Option<PathBuf>,
    /// Tab to open on: inspector, network, plots or dataset.
    pub tab: String,
    /// Cell selected in the network view.
    pub cell: Option<usize>,
    /// Dataset folder to open and run at start.
    pub dataset: Option<PathBuf>,
    /// Search history folder to open at start.
    pub search_history: Option<PathBuf>,
    /// Present this step of the image's run (presenter mode) once its results are in.
    pub present: Option<usize>,
}

/// Applies `--policy` to the settings: a preset name to follow, or a policy set by hand.
pub fn apply_policy_arg(settings: &mut Settings, arg: &str) -> anyhow::Result<()> {
    if matches!(arg, "accurate" | "fast") {
        settings.preset = Some(arg.into());
    } else {
        settings.policy = arg.parse().map_err(|e| anyhow::anyhow!("--policy {arg}: {e}"))?;
        settings.preset = None;
    }
    Ok(())
}

/// Opens the app window.
pub fn run_app(args: AppOptions) -> anyhow::Result<()> {
    args.models.apply_policy(&mut Settings::default())?; // a typo fails before the window opens
    let screenshot = args.screenshot.clone();
    let outcome = Arc::new(std::sync::Mutex::new(None));
    let outcome2 = outcome.clone();
    let mut options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("ADD Studio")
            .with_inner_size([1500.0, 950.0])
            .with_min_inner_size([900.0, 600.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    if screenshot.is_some() {
        options.persist_window = false;
    }
    eframe::run_native(
        "ADD Studio",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
            // Screenshots must not depend on what a user chose last time.
            let mut settings = match (&args.screenshot, cc.storage) {
                (None, Some(s)) => eframe::get_value::<Settings>(s, eframe::APP_KEY).unwrap_or_default(),
                _ => Settings::default(),
            };
            let m = &args.models;
            m.apply_policy(&mut settings).expect("checked before the window opened");
            let mut app = StudioApp::new(settings, Some(m.worker(repaint.clone())), repaint);
            app.set_device(m.device.clone());
            let default_add = crate::jobs::models::default_file(crate::jobs::models::DEFAULT_ADD);
            app.set_model_path(m.model.clone().or(default_add));
            let default_baseline = crate::jobs::models::default_file(crate::jobs::models::DEFAULT_BASELINE);
            app.set_baseline_path(m.baseline.clone().or(default_baseline));
            if let Some(p) = &args.screenshot {
                let job = screenshot::ScreenshotJob::new(p.clone());
                *outcome2.lock().unwrap() = Some(job.outcome.clone());
                app.set_screenshot(job);
            }
            app.view_mut().tab =
                view_state::Tab::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(&args.tab)).unwrap_or_default();
            app.network_mut().selected = args.cell.filter(|&c| c < crate::network::card::NUM_CELLS);
            if let Some(d) = &args.search_history {
                app.open_history(d.clone());
            }
            if let Some(d) = &args.dataset {
                app.open_dataset(d.clone());
            }
            if let Some(img) = &args.image {
                app.open_path(img.clone());
            }
            if let Some(step) = args.present {
                app.present_when_done(step);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))?;
    if let Some(path) = screenshot {
        let result = outcome.lock().unwrap().as_ref().and_then(|o| o.lock().unwrap().clone());
        match result {
            Some(Ok(())) => eprintln!("add: screenshot saved to {}", path.display()),
            Some(Err(e)) => anyhow::bail!("screenshot failed: {e}"),
            None => anyhow::bail!("the window closed before the screenshot was taken"),
        }
    }
    Ok(())
}
