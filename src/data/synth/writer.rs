//! `add synth`: many scenes in parallel, written in the Cityscapes layout with a JSON-lines
//! manifest, or as a small flat gallery for the app's first start.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;
use serde::Serialize;

use super::noise::{hash2, unit};
use super::{Scene, SceneInfo, SceneSpec, generate, scene_seed};
use crate::data::image_io::{PngSpeed, SaveOptions, save_png_atomic_with, write_atomic};

/// Made-up city folders; a scene's city is drawn from its seed.
pub const CITIES: [&str; 4] = ["alderby", "brookmere", "corrin", "dunholt"];

/// Generated data can be regenerated: fast compression and no fsync per file.
const BULK: SaveOptions = SaveOptions { speed: PngSpeed::Fast, durable: false };
/// Gallery files are kept in git: small.
const KEEP: SaveOptions = SaveOptions { speed: PngSpeed::Small, durable: true };

/// What to write.
#[derive(Debug, Clone)]
pub struct DatasetPlan {
    pub out: PathBuf,
    pub count: u64,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    pub val_fraction: f32,
    pub difficulty: (f32, f32),
}

impl DatasetPlan {
    /// Refuses a difficulty range or val share outside [0, 1] (flags named as `add synth` has them).
    pub fn check(&self) -> anyhow::Result<()> {
        let ok = |v: f32| (0.0..=1.0).contains(&v);
        let (min, max) = self.difficulty;
        anyhow::ensure!(ok(min) && ok(max) && min <= max, "--difficulty-min/max must satisfy 0 <= min <= max <= 1");
        anyhow::ensure!(ok(self.val_fraction), "--val-fraction must be in [0, 1]");
        Ok(())
    }
}

/// One manifest line: where the files are, and the scene's parameters.
#[derive(Debug, Serialize)]
pub struct ManifestEntry {
    pub id: String,
    pub split: &'static str,
    pub city: &'static str,
    pub image: String,
    pub label: String,
    #[serde(flatten)]
    pub info: SceneInfo,
}

/// Where scene `index` goes and how hard it is; pure in (plan, index).
pub fn scene_slot(plan: &DatasetPlan, index: u64) -> (SceneSpec, &'static str, &'static str, String) {
    let seed = scene_seed(plan.seed, index);
    let h = hash2(seed as i32, (seed >> 32) as i32, 0x5eed);
    let (lo, hi) = plan.difficulty;
    let difficulty = lo + (hi - lo) * unit(h);
    let split = if unit(hash2(h as i32, 1, 2)) < plan.val_fraction { "val" } else { "train" };
    let city = CITIES[(hash2(h as i32, 3, 4) % CITIES.len() as u32) as usize];
    let id = format!("{city}_{index:06}_000019");
    (SceneSpec { seed, width: plan.width, height: plan.height, difficulty }, split, city, id)
}

/// Writes the dataset; returns the manifest entries in index order.
pub fn write_dataset(plan: &DatasetPlan, progress: &indicatif::ProgressBar) -> anyhow::Result<Vec<ManifestEntry>> {
    let entries: Vec<ManifestEntry> = (0..plan.count)
        .into_par_iter()
        .map(|i| -> anyhow::Result<ManifestEntry> {
            let (spec, split, city, id) = scene_slot(plan, i);
            let Scene { image, label, info } = generate(&spec);
            let image_rel = format!("leftImg8bit/{split}/{city}/{id}_leftImg8bit.png");
            let label_rel = format!("gtFine/{split}/{city}/{id}_gtFine_labelTrainIds.png");
            save_png_atomic_with(&image.into(), &plan.out.join(&image_rel), BULK)?;
            save_png_atomic_with(&label.into(), &plan.out.join(&label_rel), BULK)?;
            progress.inc(1);
            Ok(ManifestEntry { id, split, city, image: image_rel, label: label_rel, info })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut jsonl = String::new();
    for e in &entries {
        jsonl.push_str(&serde_json::to_string(e)?);
        jsonl.push('\n');
    }
    write_atomic(&plan.out.join("manifest.jsonl"), jsonl.as_bytes())?;
    Ok(entries)
}

/// One entry of a gallery's samples.json.
#[derive(Debug, Serialize)]
pub struct GalleryEntry {
    pub image: String,
    pub label: String,
    pub difficulty: f32,
    pub score: f32,
    pub seed: u64,
    pub time_of_day: super::look::TimeOfDay,
    pub kind: super::layout::Kind,
}

/// Writes `count` scenes with difficulties evenly spaced over the range, as
/// `scene_NN.png` + `scene_NN_label.png`, a `samples.json` and a `contact_sheet.jpg`.
pub fn write_gallery(plan: &DatasetPlan) -> anyhow::Result<Vec<GalleryEntry>> {
    let n = plan.count.max(1);
    let (lo, hi) = plan.difficulty;
    let scenes: Vec<Scene> = (0..n)
        .into_par_iter()
        .map(|i| {
            let t = if n == 1 { 0.0 } else { i as f32 / (n - 1) as f32 };
            generate(&SceneSpec {
                seed: scene_seed(plan.seed, i),
                width: plan.width,
                height: plan.height,
                difficulty: lo + (hi - lo) * t,
            })
        })
        .collect();
    let mut entries = Vec::new();
    for (i, s) in scenes.iter().enumerate() {
        let (image, label) = (format!("scene_{i:02}.png"), format!("scene_{i:02}_label.png"));
        save_png_atomic_with(&s.image.clone().into(), &plan.out.join(&image), KEEP)?;
        save_png_atomic_with(&s.label.clone().into(), &plan.out.join(&label), KEEP)?;
        entries.push(GalleryEntry {
            image,
            label,
            difficulty: s.info.difficulty,
            score: s.info.score,
            seed: s.info.seed,
            time_of_day: s.info.time_of_day,
            kind: s.info.kind,
        });
    }
    write_atomic(&plan.out.join("samples.json"), serde_json::to_string_pretty(&entries)?.as_bytes())?;
    // The sheet is for reading, not for training: a JPEG keeps it small in git.
    let sheet_path = plan.out.join("contact_sheet.jpg");
    let mut jpg = Vec::new();
    contact_sheet(&scenes).write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 85))?;
    write_atomic(&sheet_path, &jpg)?;
    Ok(entries)
}

/// Image and colour-coded label side by side at half size, two pairs per row.
pub fn contact_sheet(scenes: &[Scene]) -> image::RgbImage {
    let palette: Vec<[u8; 3]> = crate::network::presets::cityscapes_classes().iter().map(|c| c.color).collect();
    let Some(first) = scenes.first() else { return image::RgbImage::new(1, 1) };
    let (w, h) = (first.image.width() / 2, first.image.height() / 2);
    let rows = scenes.len().div_ceil(2) as u32;
    let mut sheet = image::RgbImage::from_pixel(4 * w + 12, rows * (h + 4), image::Rgb([255, 255, 255]));
    for (i, s) in scenes.iter().enumerate() {
        let (ox, oy) = ((i as u32 % 2) * (2 * w + 8), (i as u32 / 2) * (h + 4));
        for y in 0..h {
            for x in 0..w {
                let p = s.image.get_pixel(2 * x, 2 * y);
                sheet.put_pixel(ox + x, oy + y, *p);
                let l = s.label.get_pixel(2 * x, 2 * y)[0];
                let c = palette.get(usize::from(l)).copied().unwrap_or([0, 0, 0]);
                sheet.put_pixel(ox + w + 2 + x, oy + y, image::Rgb(c));
            }
        }
    }
    sheet
}

/// Runs `add synth` with parsed options.
pub fn run(plan: &DatasetPlan, gallery: bool) -> anyhow::Result<()> {
    plan.check()?;
    std::fs::create_dir_all(&plan.out).with_context(|| format!("cannot create {}", plan.out.display()))?;
    let start = std::time::Instant::now();
    if gallery {
        let entries = write_gallery(plan)?;
        eprintln!("wrote a gallery of {} scenes to {}", entries.len(), plan.out.display());
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new(plan.count);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} scenes  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let entries = write_dataset(plan, &bar)?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let val = entries.iter().filter(|e| e.split == "val").count();
    eprintln!(
        "wrote {} scenes ({} train, {} val) to {} in {:.1} s ({:.1} scenes/s); manifest: {}",
        entries.len(),
        entries.len() - val,
        val,
        plan.out.display(),
        secs,
        entries.len() as f64 / secs.max(1e-9),
        Path::new(&plan.out).join("manifest.jsonl").display()
    );
    Ok(())
}
