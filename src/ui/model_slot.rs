//! What the app knows of its two models (the ADD model and the Auto-DeepLab baseline), and the
//! lines of its message area.

use crate::network::ArchCard;

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
