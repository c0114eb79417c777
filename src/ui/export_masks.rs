//! Handing the image on screen to an annotation tool: the mask the view shows (the selected
//! exit, or the full model's when that overlay is on) in CVAT's, COCO's or Cityscapes' format,
//! through the same [`crate::export`] writers as `add infer --export`. Pixels whose confidence
//! is below the settings' level can be left unlabelled, so annotators see first what to check.

use super::panel::Ctx;
use super::settings::Overlay;
use crate::engine::ExitMaps;
use crate::export::{ExportFormat, Exporter, Mask, drop_unsure};
use crate::network::ClassInfo;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a mask export needs, detached from the app (it runs on a helper thread).
pub struct MaskJob {
    /// The image's name without extension.
    pub stem: String,
    /// The image's file name, as the annotation tool will know it.
    pub file_name: String,
    pub maps: Arc<ExitMaps>,
    pub classes: Vec<ClassInfo>,
    /// Pixels with max-prob below this are written unlabelled.
    pub unsure_below: Option<f32>,
    /// Which output it is, for the message ("exit 2", "full Auto-DeepLab").
    pub source: String,
}

/// The mask the main view shows now, if its head ran.
pub fn job(ctx: &Ctx, unsure_below: Option<f32>) -> Option<MaskJob> {
    let r = ctx.results?;
    let (maps, source) = if ctx.settings.overlay == Overlay::Full {
        (r.full.as_ref()?.maps(0)?.clone(), "full Auto-DeepLab".to_string())
    } else {
        let k = ctx.shown_exit()?;
        (r.add.maps(k)?.clone(), format!("exit {}", k + 1))
    };
    let file_name = Path::new(&r.name).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or(r.name.clone());
    let stem = Path::new(&file_name).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or("image".into());
    Some(MaskJob { stem, file_name, maps, classes: ctx.classes(), unsure_below, source })
}

/// Writes the mask in `format` under `dir`; returns the file (or folder) written.
pub fn write(dir: &Path, format: ExportFormat, job: &MaskJob) -> anyhow::Result<PathBuf> {
    let m = &job.maps;
    let classes = match job.unsure_below {
        Some(p) => drop_unsure(&m.classes, &m.max_prob, p),
        None => m.classes.clone(),
    };
    let mut out = Exporter::new(format, dir, &job.classes)?;
    out.add(&Mask { name: &job.stem, file_name: &job.file_name, width: m.width, height: m.height, classes: &classes })?;
    out.finish()
}
