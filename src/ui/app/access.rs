//! The app's state as the window's set-up and the tests see it: tests drive the app as a user
//! would (feed worker messages, press keys) and read what it shows; a few set-ups (the device,
//! the model file, a screenshot) come from the command line.

use super::super::browser::BrowserState;
use super::super::dataset_run::DatasetRun;
use super::super::extras::ModelExtras;
use super::super::files::Sample;
use super::super::model_slot::{Message, ModelSlot};
use super::super::network_view::NetworkState;
use super::super::present::PresenterState;
use super::super::results::ImageResults;
use super::super::screenshot::ScreenshotJob;
use super::super::settings::Settings;
use super::super::view_state::ViewState;
use super::{FrameTimes, StudioApp};
use eframe::egui;
use std::collections::HashMap;
use std::path::PathBuf;

impl StudioApp {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
    pub fn view(&self) -> &ViewState {
        &self.view
    }
    pub fn view_mut(&mut self) -> &mut ViewState {
        &mut self.view
    }
    pub fn results(&self) -> Option<&ImageResults> {
        self.results.as_ref()
    }
    /// The ADD model's or the baseline's slot (loading, ready, absent or failed).
    pub fn model_slot(&self, role: crate::jobs::Role) -> &ModelSlot {
        match role {
            crate::jobs::Role::Add => &self.add_model,
            crate::jobs::Role::Full => &self.full_model,
        }
    }
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }
    /// Why `path` will never show results, if it won't: a model failed to load, or an error
    /// message names the file (it failed to open or to run). For drivers without a window
    /// (`add present`, `add bench-app`), which would otherwise wait forever.
    pub fn failure_for(&self, path: &std::path::Path) -> Option<String> {
        let shown = path.display().to_string();
        self.model_failure()
            .or_else(|| self.messages.iter().find(|m| m.error && m.text.contains(&shown)).map(|m| m.text.clone()))
    }
    /// Why a model failed to load, if one did.
    pub fn model_failure(&self) -> Option<String> {
        [&self.add_model, &self.full_model].into_iter().find_map(|slot| match slot {
            ModelSlot::Failed(e) => Some(e.clone()),
            _ => None,
        })
    }
    /// The sample gallery (tests empty it for a fixed start page).
    pub fn gallery_mut(&mut self) -> &mut Vec<Sample> {
        &mut self.gallery
    }
    pub fn gallery_thumbs(&self) -> &HashMap<PathBuf, egui::TextureHandle> {
        &self.gallery_thumbs
    }
    pub fn extras(&self) -> &ModelExtras {
        &self.extras
    }
    pub fn dataset(&self) -> &DatasetRun {
        &self.dataset
    }
    pub fn dataset_mut(&mut self) -> &mut DatasetRun {
        &mut self.dataset
    }
    pub fn network(&self) -> &NetworkState {
        &self.network
    }
    pub fn network_mut(&mut self) -> &mut NetworkState {
        &mut self.network
    }
    pub fn browser(&self) -> &BrowserState {
        &self.browser
    }
    pub fn browser_mut(&mut self) -> &mut BrowserState {
        &mut self.browser
    }
    /// Enters presenter mode at `step` as soon as the image's results are all in.
    pub fn present_when_done(&mut self, step: usize) {
        self.present_at = Some(step);
    }
    pub fn presenter(&self) -> &PresenterState {
        &self.presenter
    }
    pub fn presenter_mut(&mut self) -> &mut PresenterState {
        &mut self.presenter
    }
    pub fn frames(&self) -> &FrameTimes {
        &self.frames
    }
    pub fn shown_exit(&self) -> Option<usize> {
        self.ctx().shown_exit()
    }
    pub fn set_device(&mut self, device: String) {
        self.device = device;
    }
    pub fn set_model_path(&mut self, path: Option<PathBuf>) {
        self.model_path = path;
    }
    pub fn set_baseline_path(&mut self, path: Option<PathBuf>) {
        self.baseline_path = path;
    }
    pub fn set_screenshot(&mut self, job: ScreenshotJob) {
        self.screenshot = Some(job);
    }

    /// Texture uploads of the views so far: (created, updated in place).
    pub fn texture_uploads(&self) -> (u64, u64) {
        let (a, b) = (self.main_tex.uploads, self.strip_tex.uploads);
        (a.0 + b.0, a.1 + b.1)
    }

    /// Decodes previews of the gallery images in the background.
    pub fn load_gallery_thumbs(&self) {
        self.io.load_thumbs(self.gallery.clone());
    }
}
