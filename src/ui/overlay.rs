//! What each pane of the main view shows, as data: the A side (the selected exit) and the B
//! side (the full model), for every overlay mode. The same description builds the texture and
//! the exported composite, so a figure shows exactly what the screen did.

use super::render;
use super::results::ImageResults;
use super::settings::{ConfKind, Overlay};
use eframe::egui::{Color32, ColorImage};

/// Whose output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    Exit(usize),
    Full,
}

/// The content of one pane's overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Mask(Src),
    Label,
    /// Where the source differs from the full output.
    DiffFull(Src),
    /// The source against the label: correct / wrong.
    Correct(Src),
    Conf(Src, ConfKind),
    EdmMap(usize),
    Photo,
}

impl Content {
    /// The A side of `overlay` at exit `k`.
    pub fn side_a(overlay: Overlay, k: usize, conf: ConfKind) -> Content {
        let s = Src::Exit(k);
        match overlay {
            Overlay::Mask => Content::Mask(s),
            Overlay::Full => Content::Mask(Src::Full),
            Overlay::Label => Content::Label,
            Overlay::DiffFull => Content::DiffFull(s),
            Overlay::DiffLabel => Content::Correct(s),
            Overlay::Confidence => Content::Conf(s, conf),
            Overlay::EdmMap => Content::EdmMap(k),
            Overlay::None => Content::Photo,
        }
    }

    /// The B side: the same view of the full model where that means something, else its mask.
    pub fn side_b(overlay: Overlay, k: usize, conf: ConfKind) -> Content {
        match overlay {
            Overlay::Full => Content::Mask(Src::Exit(k)),
            Overlay::DiffLabel => Content::Correct(Src::Full),
            Overlay::Confidence => Content::Conf(Src::Full, conf),
            Overlay::None => Content::Photo,
            _ => Content::Mask(Src::Full),
        }
    }

    /// Caption of a pane showing this content.
    pub fn caption(self, r: &ImageResults) -> String {
        let src = |s: Src| match s {
            Src::Full if r.full.is_some() => "full Auto-DeepLab".to_string(),
            Src::Full => "full (ADD last exit)".to_string(),
            Src::Exit(k) => match r.add.exit(k) {
                Some(e) => format!("exit {} (cell {})", k + 1, e.cell),
                None => format!("exit {}", k + 1),
            },
        };
        match self {
            Content::Mask(s) => format!("{}: mask", src(s)),
            Content::Label => "label".into(),
            Content::DiffFull(s) => format!("{} vs full: red = differs", src(s)),
            Content::Correct(s) => format!("{} vs label: green right, red wrong", src(s)),
            Content::Conf(s, k) => format!("{}: {}", src(s), k.name()),
            Content::EdmMap(k) => format!("exit {}: EDM-map", k + 1),
            Content::Photo => "photo".into(),
        }
    }

    /// Title of the colour bar, when the content is a heatmap.
    pub fn colorbar(self) -> Option<String> {
        match self {
            Content::Conf(_, ConfKind::MaxProb) => Some("max-prob (1 = sure)".into()),
            Content::Conf(_, ConfKind::Entropy) => Some("entropy (0 = sure)".into()),
            Content::EdmMap(_) => Some("predicted entropy (0 = sure)".into()),
            _ => None,
        }
    }
}

/// Why a pane shows no overlay.
pub fn missing_note(c: Content, r: &ImageResults) -> Option<String> {
    let src_missing = |s: Src| match s {
        Src::Exit(k) if r.add.maps(k).is_none() => Some(format!("exit {} not computed", k + 1)),
        Src::Full if r.full_maps().is_none() => Some("no full-model output (yet)".to_string()),
        _ => None,
    };
    match c {
        Content::Photo => None,
        Content::Label | Content::Correct(_) if r.label.is_none() => Some("this image has no label".into()),
        Content::Mask(s) | Content::Conf(s, _) | Content::Correct(s) => src_missing(s),
        Content::DiffFull(s) => src_missing(s).or_else(|| src_missing(Src::Full)),
        Content::EdmMap(k) => match r.add.exit(k) {
            None => Some(format!("exit {} not reached", k + 1)),
            Some(e) if e.edm_map.is_none() => Some("this model has no EDM-map at this exit".into()),
            _ => None,
        },
        Content::Label => None,
    }
}

/// A key that changes whenever the content's pixels would (for texture reuse).
pub fn content_key(c: Content, r: &ImageResults, hidden: &[usize]) -> String {
    format!("{}/{}/{:?}/{:?}/{}", r.image_id, r.add.run_id, c, hidden, missing_note(c, r).is_none())
}

/// The overlay's pixels (opacity not applied), or `None` when there is nothing to show.
pub fn content_image(c: Content, r: &ImageResults, palette: &[Color32], hidden: &[usize]) -> Option<ColorImage> {
    let maps = |s: Src| match s {
        Src::Exit(k) => r.add.maps(k),
        Src::Full => r.full_maps(),
    };
    match c {
        Content::Photo => None,
        Content::Mask(s) => maps(s).map(|m| render::class_image(&m.classes, (m.width, m.height), palette, hidden)),
        Content::Label => {
            r.label.as_ref().map(|l| render::class_image(&l.classes, (l.width, l.height), palette, hidden))
        }
        Content::DiffFull(s) => {
            let (a, b) = (maps(s)?, r.full_maps()?);
            Some(render::diff_image(&a.classes, (a.width, a.height), &b.classes, (b.width, b.height)))
        }
        Content::Correct(s) => {
            let (p, l) = (maps(s)?, r.label.as_ref()?);
            Some(render::correct_image(&p.classes, (p.width, p.height), &l.classes, (l.width, l.height)))
        }
        Content::Conf(s, kind) => {
            let m = maps(s)?;
            let v = match kind {
                ConfKind::MaxProb => &m.max_prob,
                ConfKind::Entropy => &m.entropy,
            };
            Some(render::heatmap(v, (m.width, m.height)))
        }
        Content::EdmMap(k) => {
            let e = r.add.exit(k)?;
            let map = e.edm_map.as_ref()?;
            // The EDM-map is at image resolution, like the exit maps.
            let (w, h) = e.maps.as_ref().map(|m| (m.width, m.height)).unwrap_or(r.size());
            (map.len() == w * h).then(|| render::heatmap(map, (w, h)))
        }
    }
}
