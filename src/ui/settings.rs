//! Settings: what the user chose and expects to find again next time (persisted with serde
//! through eframe's storage). Results and transient view state live elsewhere on purpose, so
//! that nothing computed or half-dragged is ever written to disk.

use crate::engine::Policy;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How many recent files the Open menu remembers.
pub const MAX_RECENT: usize = 10;

/// What the main view paints over the photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Overlay {
    /// The selected exit's class mask.
    #[default]
    Mask,
    /// The full model's class mask.
    Full,
    /// The ground-truth label.
    Label,
    /// Pixels where the selected exit and the full model disagree.
    DiffFull,
    /// Pixels the selected exit gets right (green) or wrong (red) against the label.
    DiffLabel,
    /// The selected exit's per-pixel confidence.
    Confidence,
    /// The selected exit's EDM-map (predicted per-pixel entropy).
    EdmMap,
    /// Only the photo.
    None,
}

impl Overlay {
    /// Every overlay, in the toolbar's order.
    pub const ALL: [Overlay; 8] = [
        Overlay::Mask,
        Overlay::Full,
        Overlay::Label,
        Overlay::DiffFull,
        Overlay::DiffLabel,
        Overlay::Confidence,
        Overlay::EdmMap,
        Overlay::None,
    ];

    /// Short name for the toolbar (also the button's accessible label).
    pub fn name(self) -> &'static str {
        match self {
            Overlay::Mask => "Exit mask",
            Overlay::Full => "Full model",
            Overlay::Label => "Label",
            Overlay::DiffFull => "Diff vs full",
            Overlay::DiffLabel => "Correct/wrong",
            Overlay::Confidence => "Confidence",
            Overlay::EdmMap => "EDM-map",
            Overlay::None => "Photo only",
        }
    }

    /// Whether the overlay is a heatmap on the fixed [0, 1] scale (then a colour bar is drawn).
    pub fn is_heatmap(self) -> bool {
        matches!(self, Overlay::Confidence | Overlay::EdmMap)
    }
}

/// Which per-pixel confidence the Confidence overlay shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ConfKind {
    /// Max softmax probability (1 = sure).
    #[default]
    MaxProb,
    /// Normalised entropy (0 = sure).
    Entropy,
}

impl ConfKind {
    pub fn name(self) -> &'static str {
        match self {
            ConfKind::MaxProb => "max-prob",
            ConfKind::Entropy => "entropy",
        }
    }
}

/// The persisted settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub overlay: Overlay,
    pub conf_kind: ConfKind,
    /// Overlay opacity in [0, 1]; applied as a tint, never re-uploaded.
    pub opacity: f32,
    /// Class indices hidden in masks (by index into the card's classes).
    pub hidden_classes: Vec<usize>,
    /// Side-by-side compare (selected exit | full model).
    pub compare: bool,
    /// The exit policy the worker runs and the panel re-evaluates.
    pub policy: Policy,
    /// The card preset the policy follows ("accurate" unless the user chose otherwise): each
    /// model that loads with this preset sets the policy to it. None once the user sets a
    /// policy by hand, which then stays across models.
    pub preset: Option<String>,
    /// Run every head, not only the ones the policy needs (analysis mode).
    pub analysis: bool,
    /// Longest image side the network runs at (larger images are downscaled by the engine).
    pub max_side: usize,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    pub last_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            overlay: Overlay::Mask,
            conf_kind: ConfKind::MaxProb,
            opacity: 0.6,
            hidden_classes: Vec::new(),
            compare: false,
            policy: Policy::Edm { threshold: 0.3 },
            preset: Some("accurate".into()),
            analysis: false,
            max_side: 1024,
            recent: Vec::new(),
            last_dir: None,
        }
    }
}

impl Settings {
    /// Puts `path` first in the recent list, once.
    pub fn push_recent(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
    }

    /// Whether class `c` is hidden.
    pub fn is_hidden(&self, c: usize) -> bool {
        self.hidden_classes.contains(&c)
    }

    /// Shows or hides class `c`.
    pub fn set_hidden(&mut self, c: usize, hidden: bool) {
        self.hidden_classes.retain(|&h| h != c);
        if hidden {
            self.hidden_classes.push(c);
            self.hidden_classes.sort_unstable();
        }
    }
}
