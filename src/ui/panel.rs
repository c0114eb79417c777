//! The contract between the app and its panels. A panel draws from a read-only [`Ctx`] (the
//! results, the settings, the models, the shared view state, what other panels produced) and
//! from the state it owns; whatever it wants changed elsewhere it returns as [`Action`]s. Only
//! `app.rs` applies actions and worker messages, so no panel writes another's state and no
//! panel imports the app.

use super::dataset_run::DatasetRun;
use super::decision::{self, Decided};
use super::extras::ModelExtras;
use super::files::{FolderNav, IoMsg, Sample};
use super::model_slot::{Message, ModelSlot};
use super::playlist::Playlist;
use super::results::ImageResults;
use super::settings::Settings;
use super::view_state::{Selection, Tab, ViewState};
use crate::data::datasets::Dataset;
use crate::eval::label::LabelMap;
use crate::network::{ArchCard, ClassInfo};
use eframe::egui::{self, Color32};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What every panel may read.
pub struct Ctx<'a> {
    pub settings: &'a Settings,
    pub view: &'a ViewState,
    pub results: Option<&'a ImageResults>,
    pub add_model: &'a ModelSlot,
    pub full_model: &'a ModelSlot,
    pub messages: &'a [Message],
    pub folder: Option<&'a FolderNav>,
    pub gallery: &'a [Sample],
    /// Previews of the gallery images, by path.
    pub gallery_thumbs: &'a HashMap<PathBuf, egui::TextureHandle>,
    /// The image being decoded now, if any.
    pub loading: Option<&'a Path>,
    /// What `add search` / `add eval` left next to the model, or a history opened by hand.
    pub extras: &'a ModelExtras,
    /// The dataset run and its rows.
    pub dataset: &'a DatasetRun,
    /// What presenter mode goes through, image after image.
    pub playlist: Option<&'a Playlist>,
}

impl Ctx<'_> {
    /// The ADD model's card, or the built-in add-2 card until one is loaded.
    pub fn card(&self) -> ArchCard {
        self.add_model
            .info()
            .map(|i| i.card.clone())
            .unwrap_or_else(|| ArchCard::preset("add-2", 8).expect("built-in card"))
    }

    /// The classes of the loaded model (Cityscapes until one is loaded).
    pub fn classes(&self) -> Vec<ClassInfo> {
        match self.add_model.info() {
            Some(i) => i.card.classes.clone(),
            None => self.card().classes,
        }
    }

    pub fn palette(&self) -> Vec<Color32> {
        self.classes().iter().map(|c| Color32::from_rgb(c.color[0], c.color[1], c.color[2])).collect()
    }

    /// Number of exits of the ADD model (the last included).
    pub fn num_exits(&self) -> usize {
        match (self.add_model.info(), self.results) {
            (Some(i), _) => i.card.num_exits(),
            (None, Some(r)) => r.add.exits.len().max(1),
            _ => 1,
        }
    }

    /// The policy's decision over the current results, re-evaluated from stored statistics.
    pub fn decided(&self) -> Option<Decided> {
        let r = self.results?;
        Some(decision::decide(&self.settings.policy, &r.add, self.num_exits()))
    }

    /// The exit the main view shows.
    pub fn shown_exit(&self) -> Option<usize> {
        let r = self.results?;
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
}

/// A background task: runs on a helper thread, its message comes back to the app.
pub type Task = Box<dyn FnOnce() -> Option<IoMsg> + Send>;

/// What a panel asks the app to do.
pub enum Action {
    /// Change the persisted settings.
    Settings(Box<dyn FnOnce(&mut Settings)>),
    /// Change the shared view state (zoom, selection, tab...).
    View(Box<dyn FnOnce(&mut ViewState)>),
    /// Open a file or folder (decoded off the UI thread).
    Open(PathBuf),
    /// Next (+1) or previous (-1) image of the folder.
    StepFolder(isize),
    /// Run the current image again; `analysis` computes every exit.
    Rerun {
        analysis: bool,
    },
    /// Put an image made in memory on screen and run it.
    ShowImage {
        name: String,
        image: image::RgbImage,
        label: Option<LabelMap>,
    },
    /// Open sample `index` of a dataset in the inspector.
    OpenSample(Arc<Dataset>, usize),
    CancelDataset,
    /// Stop the report being written (nothing is left of it).
    CancelReport,
    /// Start a background task (file dialogs, exports, summaries).
    Spawn(Task),
    DismissMessage(usize),
    /// Enter (true) or leave presenter mode; entering goes through the playlist the image on
    /// screen belongs to (the browser's rows, its folder or the samples).
    Present(bool),
    /// Present this playlist from its current image (the browser's "Present rows").
    PresentPlaylist(Playlist),
    /// The playlist's next (+1) or previous (-1) image, in presenter mode.
    StepPlaylist(isize),
}

/// The actions a panel returns, with shorthands for the common ones.
#[derive(Default)]
pub struct Actions(pub Vec<Action>);

impl Actions {
    pub fn push(&mut self, a: Action) {
        self.0.push(a);
    }

    pub fn settings(&mut self, f: impl FnOnce(&mut Settings) + 'static) {
        self.0.push(Action::Settings(Box::new(f)));
    }

    pub fn view(&mut self, f: impl FnOnce(&mut ViewState) + 'static) {
        self.0.push(Action::View(Box::new(f)));
    }

    /// Shows a widget on a copy of one setting; a change becomes an action.
    pub fn edit_setting<T: Clone + PartialEq + 'static>(
        &mut self,
        value: &T,
        field: fn(&mut Settings) -> &mut T,
        show: impl FnOnce(&mut T),
    ) {
        let mut v = value.clone();
        show(&mut v);
        if v != *value {
            self.settings(move |s| *field(s) = v);
        }
    }

    /// Shows a widget on a copy of one field of the view state; a change becomes an action.
    pub fn edit_view<T: Clone + PartialEq + 'static>(
        &mut self,
        value: &T,
        field: fn(&mut ViewState) -> &mut T,
        show: impl FnOnce(&mut T),
    ) {
        let mut v = value.clone();
        show(&mut v);
        if v != *value {
            self.view(move |s| *field(s) = v);
        }
    }

    pub fn spawn(&mut self, task: impl FnOnce() -> Option<IoMsg> + Send + 'static) {
        self.0.push(Action::Spawn(Box::new(task)));
    }

    /// Switch to `tab`.
    pub fn tab(&mut self, tab: Tab) {
        self.view(move |v| v.tab = tab);
    }
}
