//! The app: owns the three kinds of state (results, settings, view state), the worker and the
//! helper threads, and composes the panels. Each frame it drains what arrived, handles keys and
//! dropped files, then draws; nothing here waits on anything.

use super::decision::{self, Decided};
use super::files::{FolderNav, Io, IoMsg, Sample};
pub use super::frame_times::FrameTimes;
use super::results::ImageResults;
use crate::eval::label::LabelMap;
use super::settings::Settings;
use super::textures::Textures;
use super::view_state::{Selection, Tab, ViewState};
use crate::jobs::{ModelSpec, Role, SegmentOptions, Worker, WorkerMsg};
use super::{exit_strip, export, hover, legend, policy_panel, screenshot, shortcuts, toolbar};
use crate::engine::Policy;
use crate::network::{ArchCard, ClassInfo};
use eframe::egui::{self, Color32};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A loaded model as the UI knows it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub card: ArchCard,
    pub device: String,
    /// A warning shown while this model is in use.
    pub banner: Option<String>,
}

/// State of one model slot.
#[derive(Debug, Clone)]
pub enum ModelSlot {
    Loading,
    Ready(ModelInfo),
    /// No model in this slot (no baseline file).
    Absent,
    Failed(String),
}

impl ModelSlot {
    pub fn info(&self) -> Option<&ModelInfo> {
        match self {
            ModelSlot::Ready(i) => Some(i),
            _ => None,
        }
    }
}

/// A line in the message area (errors of bad files, exports done...).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// The inspector.
pub struct StudioApp {
    pub settings: Settings,
    pub view: ViewState,
    pub results: Option<ImageResults>,
    pub add_model: ModelSlot,
    pub full_model: ModelSlot,
    pub messages: Vec<Message>,
    pub folder: Option<FolderNav>,
    pub gallery: Vec<Sample>,
    pub screenshot: Option<screenshot::ScreenshotJob>,
    /// Previews of the gallery images, by path (created once, as they arrive).
    pub gallery_thumbs: std::collections::HashMap<PathBuf, egui::TextureHandle>,
    pub frames: FrameTimes,
    /// The device the user asked for (passed to model loads).
    pub device: String,
    pub(crate) worker: Option<Worker>,
    pub(crate) io: Io,
    pub(crate) tex: Textures<String>,
    next_local_run: u64,
    /// When the worker sent the newest exit (for the time-to-screen measurement).
    pub(crate) last_exit_arrival: Option<Instant>,
    /// Milliseconds from the worker sending an exit to the end of the frame that drew it.
    pub exit_to_screen_ms: Vec<f32>,
    /// The ADD model file, when known (its folder may hold a search history and an evaluation).
    pub model_path: Option<PathBuf>,
    pub network: super::network_view::NetworkState,
    pub browser: super::browser::Browser,
    /// What `add search` / `add eval` left next to the model.
    pub extras: super::plots::ModelExtras,
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
            screenshot: None,
            gallery_thumbs: Default::default(),
            frames: FrameTimes::default(),
            device: String::new(),
            worker,
            io,
            tex: Textures::default(),
            next_local_run: 1,
            last_exit_arrival: None,
            exit_to_screen_ms: Vec::new(),
            model_path: None,
            network: Default::default(),
            browser: Default::default(),
            extras: Default::default(),
        }
    }

    /// Texture uploads of the views so far: (created, updated in place).
    pub fn texture_uploads(&self) -> (u64, u64) {
        self.tex.uploads
    }

    /// Decodes previews of the gallery images in the background.
    pub fn load_gallery_thumbs(&self) {
        self.io.load_thumbs(self.gallery.clone());
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

    /// The classes of the loaded model (Cityscapes until one is loaded).
    pub fn classes(&self) -> Vec<ClassInfo> {
        match self.add_model.info() {
            Some(i) => i.card.classes.clone(),
            None => ArchCard::preset("add-2", 8).map(|c| c.classes).unwrap_or_default(),
        }
    }

    pub fn palette(&self) -> Vec<Color32> {
        self.classes().iter().map(|c| Color32::from_rgb(c.color[0], c.color[1], c.color[2])).collect()
    }

    /// Number of exits of the ADD model (the last included).
    pub fn num_exits(&self) -> usize {
        match (self.add_model.info(), &self.results) {
            (Some(i), _) => i.card.num_exits(),
            (None, Some(r)) => r.add.exits.len().max(1),
            _ => 1,
        }
    }

    /// The policy's decision over the current results, re-evaluated from stored statistics.
    pub fn decided(&self) -> Option<Decided> {
        let r = self.results.as_ref()?;
        Some(decision::decide(&self.settings.policy, &r.add, self.num_exits()))
    }

    /// The exit the main view shows.
    pub fn shown_exit(&self) -> Option<usize> {
        let r = self.results.as_ref()?;
        match self.view.selection {
            Selection::Exit(k) => Some(k),
            Selection::Auto if r.add.is_running() => r.add.last_computed(),
            Selection::Auto => self
                .decided()
                .and_then(|d| d.exit)
                .filter(|&k| r.add.maps(k).is_some())
                .or_else(|| r.add.last_computed()),
        }
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

    /// Applies one message of the worker (tests call this directly).
    pub fn apply(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::ModelReady { role, card, device, banner } => {
                if role == Role::Add
                    && let Some(p) = self.model_path.clone()
                {
                    super::plots::load_extras(self, p);
                }
                if role == Role::Add {
                    self.follow_card_preset(&card);
                }
                let slot = ModelSlot::Ready(ModelInfo { card, device, banner });
                match role {
                    Role::Add => self.add_model = slot,
                    Role::Full => self.full_model = slot,
                }
                if self.results.is_some() && self.worker.is_some() {
                    self.run(self.settings.analysis);
                }
            }
            WorkerMsg::ModelAbsent { role } => match role {
                Role::Add => self.add_model = ModelSlot::Absent,
                Role::Full => {
                    self.full_model = ModelSlot::Absent;
                    if let Some(r) = &mut self.results {
                        r.full = None;
                    }
                }
            },
            WorkerMsg::ModelFailed { role, message } => {
                self.say(format!("model ({role:?}) failed to load: {message}"), true);
                match role {
                    Role::Add => self.add_model = ModelSlot::Failed(message),
                    Role::Full => {
                        self.full_model = ModelSlot::Failed(message);
                        if let Some(r) = &mut self.results {
                            r.full = None;
                        }
                    }
                }
            }
            WorkerMsg::Event { role, event } => {
                let failed = match &event {
                    crate::engine::RunEvent::Failed { message, .. } => Some(message.clone()),
                    _ => None,
                };
                let is_exit = matches!(event, crate::engine::RunEvent::Exit(_));
                if let Some(r) = &mut self.results
                    && r.apply(role, event)
                {
                    if let Some(m) = failed {
                        self.say(format!("run failed: {m}"), true);
                    }
                    if is_exit {
                        self.last_exit_arrival = Some(Instant::now());
                    }
                }
            }
            WorkerMsg::Restarted { message } => {
                self.say(format!("the worker restarted after an error: {message}"), true);
            }
            m @ (WorkerMsg::DatasetRow { .. } | WorkerMsg::DatasetError { .. } | WorkerMsg::DatasetDone { .. }) => {
                self.browser.apply(m);
            }
        }
    }

    /// Opens a file (decoded off the UI thread).
    pub fn open_path(&mut self, path: PathBuf) {
        if path.is_dir() {
            self.open_folder(path);
            return;
        }
        if self.folder.as_ref().is_none_or(|f| !f.files.contains(&path)) {
            self.folder = Some(FolderNav::around(&path)).filter(|f| f.files.len() > 1);
        }
        self.io.open(path);
    }

    pub fn open_folder(&mut self, dir: PathBuf) {
        let nav = FolderNav::around(&dir);
        self.settings.last_dir = Some(dir.clone());
        match nav.files.first().cloned() {
            None => self.say(format!("{} has no images", dir.display()), true),
            Some(first) => {
                self.folder = Some(nav);
                self.io.open(first);
            }
        }
    }

    /// Next (+1) or previous (-1) image of the folder.
    pub fn step_folder(&mut self, delta: isize) {
        if let Some(p) = self.folder.as_mut().and_then(|f| f.step(delta)) {
            self.io.open(p);
        }
    }

    /// Loads a model file into `role` (the card is `<model>.json` when present).
    pub fn load_model(&mut self, role: Role, model: PathBuf) {
        let card = model.with_extension("json");
        if role == Role::Add {
            self.model_path = Some(model.clone());
            self.extras = Default::default();
            self.network.history = None;
        }
        let spec = ModelSpec { card: card.is_file().then_some(card), model: Some(model), device: self.device.clone() };
        if let Some(w) = self.worker.as_mut() {
            // Don't make the new model wait for a run of the old one.
            w.cancel();
            w.load(role, spec);
            match role {
                Role::Add => self.add_model = ModelSlot::Loading,
                Role::Full => self.full_model = ModelSlot::Loading,
            }
        }
    }

    fn poll(&mut self, ctx: &egui::Context) {
        let msgs = self.worker.as_mut().map(|w| w.poll_timed()).unwrap_or_default();
        for (sent, m) in msgs {
            let is_exit = matches!(m, WorkerMsg::Event { event: crate::engine::RunEvent::Exit(_), .. });
            self.apply(m);
            if is_exit && self.last_exit_arrival.is_some() {
                // Measure from when the worker sent it, not from when this frame picked it up.
                self.last_exit_arrival = Some(sent);
            }
        }
        for m in self.io.poll() {
            match m {
                IoMsg::Thumb(path, image) => {
                    let tex =
                        ctx.load_texture(format!("sample {}", path.display()), image, egui::TextureOptions::LINEAR);
                    self.gallery_thumbs.insert(path, tex);
                }
                IoMsg::PickedFigurePng(fig, path) => super::network_view::grab_png(self, ctx, fig, path),
                m => self.handle_io(m),
            }
        }
        let dropped = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect::<Vec<_>>());
        if let Some(p) = dropped.into_iter().next() {
            self.open_path(p);
        }
    }

    fn handle_io(&mut self, m: IoMsg) {
        match m {
            IoMsg::PickedImage(p) => {
                self.settings.last_dir = p.parent().map(|d| d.to_path_buf());
                self.open_path(p);
            }
            IoMsg::PickedFolder(d) => self.open_folder(d),
            IoMsg::PickedModel(role, p) => self.load_model(role, p),
            IoMsg::PickedExportDir(d) => export::start(self, d),
            IoMsg::Opened(o) => {
                if self.io.loading.as_ref() != Some(&o.path) {
                    return; // a newer open superseded this one
                }
                self.io.loading = None;
                if let Some(n) = o.note {
                    self.say(n, false);
                }
                self.settings.push_recent(o.path.clone());
                let name = o.path.file_name().unwrap_or_default().to_string_lossy().to_string();
                self.show_image(name, Some(o.path), o.image, o.label);
            }
            IoMsg::Failed { what, message } => {
                if self.io.loading.as_deref().is_some_and(|p| p.display().to_string() == what) {
                    self.io.loading = None;
                }
                self.say(message, true);
            }
            IoMsg::Exported(Ok(files)) => {
                let dir = files.first().and_then(|f| f.parent()).map(|d| d.display().to_string()).unwrap_or_default();
                self.say(format!("exported {} files to {dir}", files.len()), false);
            }
            IoMsg::Exported(Err(e)) => self.say(format!("export failed: {e}"), true),
            IoMsg::Summary(s) => super::network_view::summary_arrived(self, *s),
            IoMsg::PickedDataset(d) => {
                self.settings.last_dir = Some(d.clone());
                super::browser::open_folder(self, d);
            }
            IoMsg::DatasetOpened(r) => super::browser::opened(self, r),
            IoMsg::ModelExtras(x) => super::plots::extras_arrived(self, *x),
            IoMsg::Thumb(..) | IoMsg::PickedFigurePng(..) => {}
        }
    }

    /// Draws the whole window.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let t0 = Instant::now();
        let ctx = ui.ctx().clone();
        self.poll(&ctx);
        shortcuts::handle(self, &ctx);
        egui::Panel::top("toolbar").show(ui, |ui| toolbar::show(ui, self));
        egui::Panel::top("tabs").show(ui, |ui| tab_bar(ui, self));
        let tab = self.view.tab;
        if tab == Tab::Inspector {
            egui::Panel::bottom("exit_strip").resizable(false).show(ui, |ui| exit_strip::show(ui, self));
        }
        if matches!(tab, Tab::Inspector | Tab::Network) {
            egui::Panel::left("side").default_size(280.0).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    policy_panel::show(ui, self);
                    ui.separator();
                    legend::show(ui, self);
                });
            });
        }
        if tab == Tab::Inspector {
            egui::Panel::right("readout").default_size(250.0).show(ui, |ui| hover::show(ui, self));
        }
        egui::CentralPanel::default().show(ui, |ui| match tab {
            Tab::Inspector => super::main_view::show(ui, self),
            Tab::Network => super::network_view::show(ui, self),
            Tab::Plots => super::plots::show(ui, self),
            Tab::Dataset => super::browser::show(ui, self),
        });
        screenshot::tick(self, &ctx);
        let busy = self.results.as_ref().is_some_and(|r| !r.is_done());
        self.frames.record(t0.elapsed().as_secs_f32(), busy);
        if let Some(t) = self.last_exit_arrival.take() {
            self.exit_to_screen_ms.push(t.elapsed().as_secs_f32() * 1e3);
        }
    }
}

/// The tab bar: one selectable button per tab (Tab-key focusable; keys I, N, P, T too), with the
/// dataset run's progress visible from every tab.
fn tab_bar(ui: &mut egui::Ui, app: &mut StudioApp) {
    ui.horizontal(|ui| {
        for t in Tab::ALL {
            let key = &t.name()[..1];
            ui.selectable_value(&mut app.view.tab, t, t.name()).on_hover_text(format!("Key {key}"));
        }
        let b = &app.browser;
        if b.running {
            ui.separator();
            ui.add(
                egui::ProgressBar::new(b.processed() as f32 / b.total().max(1) as f32)
                    .desired_width(160.0)
                    .text(format!("dataset {}/{}", b.processed(), b.total())),
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
