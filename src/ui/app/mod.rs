//! The app: owns the state (results, settings, view state, models, the dataset run, what sits
//! next to the model), the worker and the helper threads, and composes the panels. Each frame it
//! drains what arrived, then draws each panel from a read-only [`Ctx`] and applies the
//! [`Action`]s it returns. This is the only place that changes shared state; nothing here waits.

use super::browser::{self, BrowserState};
use super::dataset_run::DatasetRun;
use super::extras::ModelExtras;
use super::files::{FolderNav, Io, Sample};
pub use super::frame_times::FrameTimes;
pub use super::model_slot::{Message, ModelInfo, ModelSlot};
use super::network_view::NetworkState;
use super::panel::Ctx;
use super::playlist::Playlist;
use super::plots::PlotsState;
use super::present::{self, PresenterState};
use super::results::ImageResults;
use super::settings::Settings;
use super::textures::Textures;
use super::view_state::{Selection, Tab, ViewState};
use super::{exit_strip, hover, legend, main_view, network_view, plots, policy_panel, screenshot};
use super::{shortcuts, toolbar};
use crate::engine::Policy;
use crate::eval::label::LabelMap;
use crate::jobs::{SegmentOptions, Worker};
use crate::network::ArchCard;
use eframe::egui;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A [`Ctx`] over the app's fields, borrowing each field on its own so a panel's own state can
/// be borrowed mutably beside it.
macro_rules! ctx {
    ($s:expr) => {
        Ctx {
            settings: &$s.settings,
            view: &$s.view,
            results: $s.results.as_ref(),
            add_model: &$s.add_model,
            full_model: &$s.full_model,
            messages: &$s.messages,
            folder: $s.folder.as_ref(),
            gallery: &$s.gallery,
            gallery_thumbs: &$s.gallery_thumbs,
            loading: $s.io.loading.as_deref(),
            extras: &$s.extras,
            dataset: &$s.dataset,
            playlist: $s.playlist.as_ref(),
        }
    };
}

mod access;
mod apply;

/// The inspector and its tabs.
pub struct StudioApp {
    settings: Settings,
    view: ViewState,
    results: Option<ImageResults>,
    add_model: ModelSlot,
    full_model: ModelSlot,
    messages: Vec<Message>,
    folder: Option<FolderNav>,
    gallery: Vec<Sample>,
    /// Previews of the gallery images, by path (created once, as they arrive).
    gallery_thumbs: HashMap<PathBuf, egui::TextureHandle>,
    screenshot: Option<screenshot::ScreenshotJob>,
    frames: FrameTimes,
    /// The device the user asked for (passed to model loads).
    device: String,
    worker: Option<Worker>,
    io: Io,
    next_local_run: u64,
    /// When the worker sent the newest exit (for the time-to-screen measurement).
    last_exit_arrival: Option<Instant>,
    /// Milliseconds from the worker sending an exit to the end of the frame that drew it.
    exit_to_screen_ms: Vec<f32>,
    /// The ADD model file, when known (its folder may hold a search history and an evaluation).
    model_path: Option<PathBuf>,
    /// The baseline's file, when known (for the failure report).
    baseline_path: Option<PathBuf>,
    /// What `add search` / `add eval` left next to the model.
    extras: ModelExtras,
    dataset: DatasetRun,
    // what the panels own
    main_tex: Textures<String>,
    strip_tex: Textures<String>,
    network: NetworkState,
    browser: BrowserState,
    plots: PlotsState,
    presenter: PresenterState,
    /// Whether the window was last asked to be full screen (for presenter mode).
    fullscreen: bool,
    /// `--present STEP`: enter presenter mode at that step once the results are in.
    present_at: Option<usize>,
    /// What presenter mode goes through (set when it starts).
    playlist: Option<Playlist>,
}

impl StudioApp {
    /// An app around `worker` (None in tests: feed [`WorkerMsg`]s with [`Self::apply`]).
    pub fn new(settings: Settings, worker: Option<Worker>, repaint: Arc<dyn Fn() + Send + Sync>) -> StudioApp {
        let gallery = super::files::gallery_dir().map(|d| super::files::gallery(&d)).unwrap_or_default();
        let loading = if worker.is_some() { ModelSlot::Loading } else { ModelSlot::Absent };
        let io = Io::new(repaint);
        if worker.is_some() {
            io.load_thumbs(gallery.clone());
        }
        StudioApp {
            settings,
            view: ViewState::default(),
            results: None,
            add_model: loading.clone(),
            full_model: loading,
            messages: Vec::new(),
            folder: None,
            gallery,
            gallery_thumbs: HashMap::new(),
            screenshot: None,
            frames: FrameTimes::default(),
            device: String::new(),
            worker,
            io,
            next_local_run: 1,
            last_exit_arrival: None,
            exit_to_screen_ms: Vec::new(),
            model_path: None,
            baseline_path: None,
            extras: ModelExtras::default(),
            dataset: DatasetRun::default(),
            main_tex: Textures::default(),
            strip_tex: Textures::default(),
            network: NetworkState::default(),
            browser: BrowserState::default(),
            plots: PlotsState::default(),
            presenter: PresenterState::default(),
            fullscreen: false,
            present_at: None,
            playlist: None,
        }
    }

    /// What the panels read.
    pub fn ctx(&self) -> Ctx<'_> {
        ctx!(self)
    }

    /// Shows a message in the message area.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        let text = text.into();
        if error {
            eprintln!("add: {text}");
        }
        self.messages.push(Message { text, error });
        if self.messages.len() > 6 {
            self.messages.remove(0);
        }
    }

    fn num_exits(&self) -> usize {
        self.ctx().num_exits()
    }

    /// Puts a decoded image on screen and runs it.
    pub fn show_image(
        &mut self,
        name: String,
        path: Option<PathBuf>,
        image: image::RgbImage,
        label: Option<LabelMap>,
    ) -> u64 {
        let r = ImageResults::new(name, path, Arc::new(image), label.map(Arc::new));
        self.results = Some(r);
        self.view.hover = None;
        self.view.fit = true;
        if matches!(self.view.selection, Selection::Exit(k) if k >= self.num_exits()) {
            self.view.selection = Selection::Auto;
        }
        self.run(self.settings.analysis)
    }

    /// (Re)runs the current image; `analysis` computes every exit. Returns the run id.
    pub fn run(&mut self, analysis: bool) -> u64 {
        let with_full = matches!(self.full_model, ModelSlot::Ready(_) | ModelSlot::Loading);
        let opts = SegmentOptions { policy: self.settings.policy, analysis, max_side: self.settings.max_side };
        let Some(r) = self.results.as_mut() else { return 0 };
        let run_id = match self.worker.as_mut() {
            Some(w) => w.run(r.image.clone(), opts, with_full),
            None => {
                self.next_local_run += 1;
                self.next_local_run - 1
            }
        };
        r.begin_run(run_id, with_full);
        run_id
    }

    /// Sets the policy to the card's preset named in the settings ("accurate" at first), so a
    /// trained model opens on the threshold its evaluation chose. A card without that preset,
    /// or a policy the user set by hand, leaves the policy as it is.
    pub fn follow_card_preset(&mut self, card: &ArchCard) {
        let Some(name) = &self.settings.preset else { return };
        if let Some(p) = card.presets.get(name).and_then(|p| p.policy.parse::<Policy>().ok()) {
            self.settings.policy = p;
        }
    }

    /// Draws the whole window.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        if let Some(step) = self.present_at
            && self.results.as_ref().is_some_and(|r| r.is_done())
        {
            self.present_at = None;
            self.enter_presenter(step);
        }
        if self.presenter.active != self.fullscreen {
            self.fullscreen = self.presenter.active;
            ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(self.fullscreen));
        }
        if self.presenter.active {
            let acts = egui::CentralPanel::default()
                .frame(egui::Frame::NONE)
                .show(ui, |ui| present::show(ui, &ctx!(self), &mut self.presenter))
                .inner;
            self.act(acts);
        } else {
            self.panels(ui, &ctx);
        }
        if let Some(job) = self.screenshot.as_mut() {
            screenshot::tick(job, &ctx!(self), &ctx);
        }
        let busy = self.results.as_ref().is_some_and(|r| !r.is_done());
        self.frames.record(t0.elapsed().as_secs_f32(), busy);
        if let Some(t) = self.last_exit_arrival.take() {
            self.exit_to_screen_ms.push(t.elapsed().as_secs_f32() * 1e3);
        }
    }

    /// The inspector's panels and the tabs.
    fn panels(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let acts = shortcuts::handle(&self.ctx(), ctx);
        self.act(acts);
        let acts = egui::Panel::top("toolbar").show(ui, |ui| toolbar::show(ui, &self.ctx())).inner;
        self.act(acts);
        egui::Panel::top("tabs").show(ui, |ui| tab_bar(ui, &mut self.view.tab, &self.dataset));
        let tab = self.view.tab;
        if tab == Tab::Inspector {
            let acts = egui::Panel::bottom("exit_strip")
                .resizable(false)
                .show(ui, |ui| exit_strip::show(ui, &ctx!(self), &mut self.strip_tex))
                .inner;
            self.act(acts);
        }
        if matches!(tab, Tab::Inspector | Tab::Network) {
            let acts = egui::Panel::left("side")
                .default_size(280.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .show(ui, |ui| {
                            let mut acts = policy_panel::show(ui, &self.ctx());
                            ui.separator();
                            acts.0.extend(legend::show(ui, &self.ctx()).0);
                            acts
                        })
                        .inner
                })
                .inner;
            self.act(acts);
        }
        if tab == Tab::Inspector {
            egui::Panel::right("readout").default_size(250.0).show(ui, |ui| hover::show(ui, &self.ctx()));
        }
        let acts = egui::CentralPanel::default()
            .show(ui, |ui| match tab {
                Tab::Inspector => main_view::show(ui, &ctx!(self), &mut self.main_tex),
                Tab::Network => network_view::show(ui, &ctx!(self), &mut self.network),
                Tab::Plots => plots::show(ui, &ctx!(self), &mut self.plots),
                Tab::Dataset => browser::show(ui, &ctx!(self), &mut self.browser),
            })
            .inner;
        self.act(acts);
    }
}

/// The tab bar: one selectable button per tab (Tab-key focusable; keys I, N, P, T too), with the
/// dataset run's progress visible from every tab.
fn tab_bar(ui: &mut egui::Ui, current: &mut Tab, run: &DatasetRun) {
    ui.horizontal(|ui| {
        for t in Tab::ALL {
            let key = &t.name()[..1];
            ui.selectable_value(current, t, t.name()).on_hover_text(format!("Key {key}"));
        }
        if run.running {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(run.processed() as f32 / run.total().max(1) as f32)
                    .desired_width(160.0)
                    .text(format!("dataset {}/{}", run.processed(), run.total())),
            );
        }
    });
}

impl eframe::App for StudioApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        // CPU time of the previous frame: our ui plus tessellation and paint submission.
        if let Some(cpu) = frame.info().cpu_usage {
            let busy = self.results.as_ref().is_some_and(|r| !r.is_done());
            self.frames.record_cpu(cpu, busy);
        }
        StudioApp::ui(self, ui);
        // While a run streams, keep frames coming so each event is drawn promptly even if a
        // repaint request raced with the previous frame.
        if self.results.as_ref().is_some_and(|r| !r.is_done()) {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        if self.screenshot.is_some() || std::env::var_os("ADD_FRAME_STATS").is_some() {
            eprintln!("add: {}", self.frames.report(&self.exit_to_screen_ms));
            if std::env::var_os("ADD_FRAME_STATS").is_some() {
                let slow: Vec<String> = self
                    .frames
                    .busy_cpu
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| **s > 0.016)
                    .map(|(i, s)| format!("#{i}:{:.0}ms", s * 1e3))
                    .collect();
                eprintln!("add: slow frames while computing: {}", slow.join(" "));
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.screenshot.is_none() {
            eframe::set_value(storage, eframe::APP_KEY, &self.settings);
        }
    }
}
