//! Transient view state: where the user looks and points. Never persisted (a half-finished
//! drag or a hover from last week means nothing); reset freely.

use eframe::egui::{Pos2, pos2};

/// Which exit the main view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// Follow the run: the newest exit while it computes, then the policy's choice.
    #[default]
    Auto,
    /// A fixed exit (0-based), chosen by click or by keys 1-9.
    Exit(usize),
}

/// The tabs of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// One image: overlays, exits, policy (the start page).
    #[default]
    Inspector,
    /// The trellis, the path this image took, cell properties and DAG.
    Network,
    Plots,
    /// The dataset browser.
    Dataset,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Inspector, Tab::Network, Tab::Plots, Tab::Dataset];

    /// Name on the tab bar (also its accessible label) and its key.
    pub fn name(self) -> &'static str {
        match self {
            Tab::Inspector => "Inspector",
            Tab::Network => "Network",
            Tab::Plots => "Plots",
            Tab::Dataset => "Dataset",
        }
    }
}

/// Zoom and pan shared by every pane of the main view, plus the pointer's pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// Screen points per image pixel.
    pub zoom: f32,
    /// Image coordinates shown at the centre of each pane.
    pub center: Pos2,
    /// Fit the image to the pane (until the user zooms or pans).
    pub fit: bool,
    /// Image pixel under the pointer.
    pub hover: Option<(usize, usize)>,
    pub selection: Selection,
    /// A/B flip: show B where A is (and A where B is in compare mode).
    pub flip: bool,
    /// Hide every overlay for a moment (key H).
    pub hide_all: bool,
    pub tab: Tab,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            zoom: 1.0,
            center: pos2(0.0, 0.0),
            fit: true,
            hover: None,
            selection: Selection::Auto,
            flip: false,
            hide_all: false,
            tab: Tab::Inspector,
        }
    }
}

impl ViewState {
    /// Back to fit-to-pane, keeping the selection.
    pub fn reset_zoom(&mut self) {
        self.fit = true;
    }
}
