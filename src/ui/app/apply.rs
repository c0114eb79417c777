//! Everything that changes the app's state, in one place: the worker's messages, the helper
//! threads' messages, and the actions the panels return.

use super::super::dataset_run::ReportExport;
use super::super::extras::{ModelExtras, read_extras};
use super::super::files::{FolderNav, IoMsg};
use super::super::model_slot::{ModelInfo, ModelSlot};
use super::super::panel::{Action, Actions};
use super::super::playlist::{Item, Playlist};
use super::super::{export, export_masks};
use super::StudioApp;
use crate::jobs::{ModelSpec, Role, WorkerMsg};
use eframe::egui;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

impl StudioApp {
    /// Applies one message of the worker (tests call this directly).
    pub fn apply(&mut self, msg: WorkerMsg) {
        match msg {
            WorkerMsg::ModelReady { role, card, device, banner } => {
                if role == Role::Add
                    && let Some(p) = self.model_path.clone()
                {
                    self.load_extras(p);
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
                self.dataset.apply(m);
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

    /// The playlist the image on screen belongs to: the browser's rows (as filtered and sorted)
    /// when it was opened from them, else the sample gallery when it is a sample (the samples'
    /// folder also holds their contact sheet), else its folder.
    fn playlist_here(&self) -> Option<Playlist> {
        let path = self.results.as_ref()?.path.clone()?;
        if let (Some(i), Some(ds)) = (self.browser.opened, self.dataset.dataset.as_ref())
            && ds.samples.get(i).is_some_and(|s| s.image == path)
        {
            let order = self.browser.shown_samples(&self.dataset.rows);
            if order.contains(&i) {
                return Some(Playlist::of_rows(ds.clone(), &order, Some(i)));
            }
        }
        let samples: Vec<PathBuf> = self.gallery.iter().map(|s| s.path.clone()).collect();
        if samples.contains(&path) {
            return Some(Playlist::of_files(samples, Some(&path), "the samples"));
        }
        let folder = self.folder.as_ref().filter(|f| f.files.contains(&path));
        folder.map(|f| Playlist::of_files(f.files.clone(), Some(&path), "the folder"))
    }

    /// Presents the image on screen from `step`, through the playlist it belongs to.
    pub(super) fn enter_presenter(&mut self, step: usize) {
        self.playlist = self.playlist_here();
        self.presenter.start_at(step);
    }

    /// Presents `playlist` from its current image, which replaces the one on screen.
    pub fn present_playlist(&mut self, playlist: Playlist) {
        let Some(item) = playlist.current().cloned() else { return };
        self.playlist = Some(playlist);
        self.results = None; // the old image must not flash up before the new one
        self.open_item(item);
        self.presenter.start_at(0);
    }

    /// Opens a playlist item (a dataset row with its label); the folder's place follows.
    fn open_item(&mut self, item: Item) {
        match item {
            Item::File(p) => {
                if let Some(f) = self.folder.as_mut()
                    && let Some(k) = f.files.iter().position(|f| *f == p)
                {
                    f.index = k;
                }
                self.io.open(p);
            }
            Item::Row(ds, i) => {
                self.browser.opened = Some(i);
                self.io.open_sample(ds, i);
            }
        }
    }

    /// Loads a model file into `role` (the card is `<model>.json` when present).
    pub fn load_model(&mut self, role: Role, model: PathBuf) {
        let card = model.with_extension("json");
        if role == Role::Full {
            self.baseline_path = Some(model.clone());
        }
        if role == Role::Add {
            self.model_path = Some(model.clone());
            // the old model's evaluation and history go with it
            self.extras = ModelExtras::default();
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

    /// Reads what sits next to the model file `model` (on a helper thread).
    fn load_extras(&self, model: PathBuf) {
        self.io.spawn(move || {
            let dir = model.parent().map(Path::to_path_buf).unwrap_or_default();
            Some(IoMsg::ModelExtras(Box::new(read_extras(&dir))))
        });
    }

    /// Opens a search history folder as it is (on a helper thread): one `add search` wrote, or a
    /// reference search experiment folder.
    pub fn open_history(&self, dir: PathBuf) {
        self.io.spawn(move || Some(IoMsg::ModelExtras(Box::new(super::super::extras::history_extras(&dir)))));
    }

    /// Writes the failure report of the dataset run into `out` on a helper thread: `add report`
    /// over the run's folder with the loaded models and the current policy (it runs the folder
    /// again: the rows keep no pictures), with its progress and a cancel flag kept in the run.
    pub fn export_report(&mut self, out: PathBuf) {
        let (Some(model), Some(data)) = (self.model_path.clone(), self.dataset.root.clone()) else {
            self.say("the report needs the ADD model's file and a dataset run", true);
            return;
        };
        if self.dataset.report.is_some() {
            self.say("a report is being written already", true);
            return;
        }
        let n = self.dataset.rows.len();
        let job = crate::report::ReportJob {
            model,
            baseline: matches!(self.full_model, ModelSlot::Ready(_)).then(|| self.baseline_path.clone()).flatten(),
            data,
            split: self.dataset.split.clone().unwrap_or_else(|| "val".into()),
            policy: Some(self.settings.policy.to_string()),
            worst: 8,
            max_images: 100_000,
            out: out.clone(),
            force: false,
            device: if self.device.is_empty() { "auto".into() } else { self.device.clone() },
        };
        self.say(format!("writing the report over {n} images into {} ...", out.display()), false);
        let cancel = Arc::new(AtomicBool::new(false));
        self.dataset.report = Some(ReportExport { out, progress: (0, n), cancel: cancel.clone() });
        let post = self.io.poster();
        self.io.spawn(move || {
            let progress = |done, total| post(IoMsg::ReportProgress(done, total));
            Some(IoMsg::Reported(crate::report::run(job, &cancel, &progress).map_err(|e| format!("{e:#}"))))
        });
    }

    /// Takes in extras read from disk (the model's, or a history opened by hand).
    pub fn merge_extras(&mut self, x: ModelExtras) {
        for n in self.extras.merge(x) {
            self.say(n, true);
        }
    }

    /// Lists a dataset folder (on a helper thread) and runs it in the worker.
    pub fn open_dataset(&mut self, root: PathBuf) {
        self.dataset.opening = true;
        self.dataset.root = Some(root.clone());
        let classes = self.ctx().classes();
        self.io.spawn(move || {
            Some(IoMsg::DatasetOpened(crate::jobs::open_set::open_dataset(&root, &classes).map(Box::new)))
        });
    }

    fn dataset_opened(&mut self, result: Result<Box<crate::jobs::open_set::OpenedSet>, String>) {
        self.dataset.opening = false;
        let set = match result {
            Ok(s) => s,
            Err(e) => {
                self.say(e, true);
                return;
            }
        };
        let root = self.dataset.root.clone().unwrap_or_else(|| set.dataset.root.clone());
        if !set.dataset.skipped.is_empty() {
            let n = set.dataset.skipped.len();
            self.say(format!("{}: left out {n} unreadable or unpaired file(s)", root.display()), true);
        }
        let with_full = matches!(self.full_model, ModelSlot::Ready(_));
        let job = self.dataset.start(root, *set, self.settings.max_side, with_full);
        if let Some(w) = self.worker.as_mut() {
            w.run_dataset(job);
        }
    }

    /// Applies what a panel asked for.
    pub(super) fn act(&mut self, acts: Actions) {
        for a in acts.0 {
            match a {
                Action::Settings(f) => f(&mut self.settings),
                Action::View(f) => f(&mut self.view),
                Action::Open(p) => self.open_path(p),
                Action::StepFolder(d) => self.step_folder(d),
                Action::Rerun { analysis } => {
                    self.run(analysis);
                }
                Action::ShowImage { name, image, label } => {
                    self.show_image(name, None, image, label);
                }
                Action::OpenSample(ds, i) => self.io.open_sample(ds, i),
                Action::CancelDataset => self.dataset.cancel(),
                Action::CancelReport => {
                    if let Some(r) = &self.dataset.report {
                        r.cancel.store(true, Ordering::Relaxed);
                    }
                }
                Action::Spawn(task) => self.io.spawn(task),
                Action::Present(true) if self.results.is_some() => self.enter_presenter(0),
                Action::Present(_) => self.presenter.active = false,
                Action::PresentPlaylist(p) => self.present_playlist(p),
                Action::StepPlaylist(d) => {
                    if let Some(item) = self.playlist.as_mut().and_then(|p| p.step(d)).cloned() {
                        self.open_item(item);
                    }
                }
                Action::DismissMessage(i) => {
                    if i < self.messages.len() {
                        self.messages.remove(i);
                    }
                }
            }
        }
    }

    pub(super) fn poll(&mut self, ctx: &egui::Context) {
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
                IoMsg::PickedFigurePng(fig, path) => {
                    if let Err(e) = self.network.grab_png(ctx, fig, path, self.io.poster()) {
                        self.say(e, true);
                    }
                }
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
            IoMsg::PickedExportDir(dir) => {
                if let Some(job) = export::job(&self.ctx()) {
                    self.io
                        .spawn(move || Some(IoMsg::Exported(export::write(&dir, &job).map_err(|e| format!("{e:#}")))));
                }
            }
            IoMsg::PickedMaskExport(format, dir) => match export_masks::job(&self.ctx(), None) {
                Some(job) => self.io.spawn(move || {
                    let written = export_masks::write(&dir, format, &job);
                    Some(IoMsg::Exported(written.map(|p| vec![p]).map_err(|e| format!("{} mask: {e:#}", job.source))))
                }),
                None => self.say("no mask on screen to export (its head was not computed)", true),
            },
            IoMsg::PickedReportDir(out) => self.export_report(out),
            IoMsg::ReportProgress(done, total) => {
                if let Some(r) = &mut self.dataset.report {
                    r.progress = (done, total);
                }
            }
            IoMsg::Reported(result) => {
                let out = self.dataset.report.take().map(|r| r.out.display().to_string()).unwrap_or_default();
                match result {
                    Ok(Some(index)) => self.say(format!("report written: {}", index.display()), false),
                    Ok(None) => self.say(format!("report cancelled: nothing written to {out}"), false),
                    Err(e) => self.say(format!("report failed: {e}"), true),
                }
            }
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
            IoMsg::Summary(s) => {
                if let Some(e) = self.network.summary_arrived(*s) {
                    self.say(e, true);
                }
            }
            IoMsg::PickedDataset(d) => {
                self.settings.last_dir = Some(d.clone());
                self.open_dataset(d);
            }
            IoMsg::DatasetOpened(r) => self.dataset_opened(r),
            IoMsg::ModelExtras(x) => self.merge_extras(*x),
            IoMsg::Thumb(..) | IoMsg::PickedFigurePng(..) => {}
        }
    }
}
