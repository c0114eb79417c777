//! The network a training run builds: an architecture (card file or preset) at a filter
//! multiplier, with the head and stem optionally narrowed (`add train`, `add card`, `add pipeline`).

use std::path::Path;

use crate::network::ArchCard;
use crate::network::card::StemSettings;

/// An architecture and the widths it is built at.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// A card file or a preset (add-2, add-3, add-4, autodeeplab, autodeeplab-dense).
    pub arch: String,
    /// Filter multiplier F when `arch` is a preset.
    pub filters: usize,
    /// Width of the shared head (ASPP and decoder); the card's when none.
    pub head_width: Option<usize>,
    /// Width of the stem (its output doubles it); the card's when none.
    pub stem_width: Option<usize>,
}

impl Shape {
    /// `arch` (file or preset) with the head and stem narrowed as asked.
    pub fn card(&self) -> anyhow::Result<ArchCard> {
        let mut card = card_arg(&self.arch, self.filters)?;
        if let Some(w) = self.head_width {
            card.head.width = w;
            card.head.low_level_width = card.head.low_level_width.min(w);
            card.validate()?;
        }
        if let Some(w) = self.stem_width {
            card.stem = StemSettings::scaled(w);
            card.validate()?;
        }
        Ok(card)
    }
}

/// A card from a file or a preset name.
pub fn card_arg(arch: &str, filters: usize) -> anyhow::Result<ArchCard> {
    let p = Path::new(arch);
    Ok(if p.exists() { ArchCard::load(p)? } else { ArchCard::preset(arch, filters)? })
}
