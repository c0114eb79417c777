//! Opening things without freezing the window: native dialogs and image decoding run on
//! short-lived threads and post their result back over a channel the UI drains each frame.
//! Also the folder navigation (arrow keys) and the sample gallery.

use crate::data::datasets::cityscapes;
use crate::data::image_io::{IMAGE_EXTENSIONS, has_image_extension};
use crate::eval::label::LabelMap;
use crossbeam_channel::{Receiver, Sender};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Images larger than this on their longest side are shown and run downscaled.
pub const MAX_SIDE: u32 = 4096;
/// Width of gallery previews.
pub const THUMB_W: u32 = 200;
/// File extensions the app opens as images.

/// A decoded image and its label, ready to show.
#[derive(Debug)]
pub struct Opened {
    pub path: PathBuf,
    pub image: image::RgbImage,
    pub label: Option<LabelMap>,
    /// Something the user should know (downscaled, label ignored...).
    pub note: Option<String>,
}

/// What the helper threads post back.
#[derive(Debug)]
pub enum IoMsg {
    PickedImage(PathBuf),
    PickedFolder(PathBuf),
    PickedModel(crate::jobs::Role, PathBuf),
    PickedExportDir(PathBuf),
    /// An empty folder for the failure report of the dataset run.
    PickedReportDir(PathBuf),
    /// How far the report is: (images done, images in the pass).
    ReportProgress(usize, usize),
    /// The report was written (its index.html), cancelled (None, nothing written), or why not.
    Reported(Result<Option<PathBuf>, String>),
    /// Where to write the shown mask for an annotation tool, and in which format.
    PickedMaskExport(crate::export::ExportFormat, PathBuf),
    Opened(Box<Opened>),
    Failed {
        what: String,
        message: String,
    },
    Exported(Result<Vec<PathBuf>, String>),
    /// A small preview of a gallery image.
    Thumb(PathBuf, eframe::egui::ColorImage),
    /// Parameters and Multi-Adds of the model's cells (network view).
    Summary(Box<Result<super::net_summary::NetSummary, String>>),
    /// Where to save a diagram as PNG (grabbed from the next frame).
    PickedFigurePng(Figure, PathBuf),
    /// A dataset folder chosen in the browser.
    PickedDataset(PathBuf),
    /// A dataset folder listed (or why not).
    DatasetOpened(Result<Box<crate::jobs::open_set::OpenedSet>, String>),
    /// What sits next to the model: its search history and evaluation sweep.
    ModelExtras(Box<super::extras::ModelExtras>),
}

/// The native "open image" dialog, as a task for a helper thread.
pub fn pick_image(start: Option<PathBuf>) -> impl FnOnce() -> Option<IoMsg> + Send + 'static {
    move || {
        let mut d = rfd::FileDialog::new().add_filter("images", &IMAGE_EXTENSIONS);
        if let Some(dir) = start {
            d = d.set_directory(dir);
        }
        d.pick_file().map(IoMsg::PickedImage)
    }
}

/// The native "open folder" dialog, as a task for a helper thread.
pub fn pick_folder(start: Option<PathBuf>) -> impl FnOnce() -> Option<IoMsg> + Send + 'static {
    move || {
        let mut d = rfd::FileDialog::new();
        if let Some(dir) = start {
            d = d.set_directory(dir);
        }
        d.pick_folder().map(IoMsg::PickedFolder)
    }
}

/// The model file dialog for `role`, as a task for a helper thread.
pub fn pick_model(role: crate::jobs::Role) -> impl FnOnce() -> Option<IoMsg> + Send + 'static {
    move || {
        rfd::FileDialog::new()
            .add_filter("model weights", &["safetensors", "pth", "pt"])
            .pick_file()
            .map(|p| IoMsg::PickedModel(role, p))
    }
}

/// The export folder dialog, as a task for a helper thread.
pub fn pick_export_dir() -> impl FnOnce() -> Option<IoMsg> + Send + 'static {
    || rfd::FileDialog::new().set_title("Export to folder").pick_folder().map(IoMsg::PickedExportDir)
}

/// The folder dialog of a mask export in `format`, as a task for a helper thread.
pub fn pick_mask_export(format: crate::export::ExportFormat) -> impl FnOnce() -> Option<IoMsg> + Send + 'static {
    move || {
        let d = rfd::FileDialog::new().set_title("Export the mask for an annotation tool to folder");
        d.pick_folder().map(|p| IoMsg::PickedMaskExport(format, p))
    }
}

/// The network view's diagrams, for a PNG export of one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Trellis,
    CellDag,
}

/// Writes `bytes` to `path` atomically (temp file, then rename), for the export messages.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<Vec<PathBuf>, String> {
    crate::fsutil::atomic_write(path, bytes)
        .map(|_| vec![path.to_path_buf()])
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The UI's end of the helper threads.
pub struct Io {
    tx: Sender<IoMsg>,
    rx: Receiver<IoMsg>,
    repaint: Arc<dyn Fn() + Send + Sync>,
    /// Path being decoded now (the newest wins).
    pub loading: Option<PathBuf>,
}

impl Io {
    pub fn new(repaint: Arc<dyn Fn() + Send + Sync>) -> Io {
        let (tx, rx) = crossbeam_channel::unbounded();
        Io { tx, rx, repaint, loading: None }
    }

    /// Runs `job` on a thread and posts its message (if any).
    pub fn spawn(&self, job: impl FnOnce() -> Option<IoMsg> + Send + 'static) {
        let (tx, repaint) = (self.tx.clone(), self.repaint.clone());
        std::thread::spawn(move || {
            if let Some(m) = job() {
                let _ = tx.send(m);
                repaint();
            }
        });
    }

    /// A function that posts a message from anywhere (e.g. a screenshot callback).
    pub fn poster(&self) -> impl Fn(IoMsg) + Send + 'static {
        let (tx, repaint) = (self.tx.clone(), self.repaint.clone());
        move |m| {
            let _ = tx.send(m);
            repaint();
        }
    }

    /// Decodes sample `i` of a dataset (with its label in the dataset's own encoding) and opens
    /// it in the inspector.
    pub fn open_sample(&mut self, ds: Arc<crate::data::datasets::Dataset>, i: usize) {
        let path = ds.samples[i].image.clone();
        self.loading = Some(path.clone());
        self.spawn(move || {
            Some(match ds.load(i) {
                Ok(d) => {
                    let label = d.label.map(LabelMap::from_gray);
                    IoMsg::Opened(Box::new(Opened { path, image: d.image, label, note: None }))
                }
                Err(e) => IoMsg::Failed { what: path.display().to_string(), message: e.to_string() },
            })
        });
    }

    /// Decodes `path` (and its label) on a thread.
    pub fn open(&mut self, path: PathBuf) {
        self.loading = Some(path.clone());
        self.spawn(move || {
            Some(match open_image(&path) {
                Ok(o) => IoMsg::Opened(Box::new(o)),
                Err(e) => IoMsg::Failed { what: path.display().to_string(), message: format!("{e:#}") },
            })
        });
    }

    /// Decodes small previews of the gallery images on one thread, posting each when ready.
    pub fn load_thumbs(&self, samples: Vec<Sample>) {
        let (tx, repaint) = (self.tx.clone(), self.repaint.clone());
        std::thread::spawn(move || {
            for s in samples {
                let Ok(img) = decode(&s.path) else { continue };
                let t = img.thumbnail(THUMB_W, THUMB_W).to_rgb8();
                let c = eframe::egui::ColorImage::from_rgb([t.width() as usize, t.height() as usize], t.as_raw());
                if tx.send(IoMsg::Thumb(s.path, c)).is_err() {
                    return;
                }
                repaint();
            }
        });
    }

    /// Everything posted since the last call.
    pub fn poll(&self) -> Vec<IoMsg> {
        self.rx.try_iter().collect()
    }
}

fn is_label_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with("_label.png") || cityscapes::is_label_name(name)
}

/// The label file next to an image, by the conventions we know.
pub fn label_path_for(path: &Path) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    let mut candidates = vec![path.with_file_name(format!("{stem}_label.png"))];
    candidates.extend(cityscapes::train_id_labels_for(path));
    candidates.into_iter().find(|p| p.is_file())
}

fn decode(path: &Path) -> anyhow::Result<image::DynamicImage> {
    // the one safe loader: content over extension, sizes checked before allocating
    Ok(crate::data::image_io::load_dynamic(path)?)
}

pub fn open_image(path: &Path) -> anyhow::Result<Opened> {
    let mut image = decode(path)?.to_rgb8();
    if image.width() == 0 || image.height() == 0 {
        anyhow::bail!("{} has no pixels", path.display());
    }
    let mut note = None;
    let (w, h) = image.dimensions();
    if w.max(h) > MAX_SIDE {
        let s = MAX_SIDE as f32 / w.max(h) as f32;
        let (nw, nh) = (((w as f32 * s) as u32).max(1), ((h as f32 * s) as u32).max(1));
        image = image::imageops::resize(&image, nw, nh, image::imageops::FilterType::Triangle);
        note = Some(format!("{w}x{h} is large: shown and run at {nw}x{nh}"));
    }
    let label = match label_path_for(path) {
        None => None,
        Some(lp) => match decode(&lp).map(|l| label_from(l, image.dimensions())) {
            Ok(l) => Some(l),
            Err(e) => {
                note = Some(format!("label ignored: {e:#}"));
                None
            }
        },
    };
    Ok(Opened { path: path.to_path_buf(), image, label, note })
}

/// A label image (train ids in a grey PNG, 255 = ignore) resized to the image (nearest).
fn label_from(img: image::DynamicImage, size: (u32, u32)) -> LabelMap {
    let mut l = img.to_luma8();
    if l.dimensions() != size {
        l = image::imageops::resize(&l, size.0, size.1, image::imageops::FilterType::Nearest);
    }
    LabelMap::from_gray(l)
}

/// The images of a folder (labels excluded), sorted by name.
pub fn list_folder(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && has_image_extension(p) && !is_label_file(p))
        .collect();
    files.sort();
    files
}

/// Where the app is in a folder of images.
#[derive(Debug, Clone, Default)]
pub struct FolderNav {
    pub files: Vec<PathBuf>,
    pub index: usize,
}

impl FolderNav {
    /// The folder of `path` with `path` current (or the folder itself, first image current).
    pub fn around(path: &Path) -> FolderNav {
        let (dir, current) =
            if path.is_dir() { (path, None) } else { (path.parent().unwrap_or(Path::new(".")), Some(path)) };
        let files = list_folder(dir);
        let index = current.and_then(|c| files.iter().position(|f| f == c)).unwrap_or(0);
        FolderNav { files, index }
    }

    /// Steps by `delta` (wrapping) and returns the new current file.
    pub fn step(&mut self, delta: isize) -> Option<PathBuf> {
        if self.files.is_empty() {
            return None;
        }
        let n = self.files.len() as isize;
        self.index = (self.index as isize + delta).rem_euclid(n) as usize;
        Some(self.files[self.index].clone())
    }
}

/// One image of the sample gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub path: PathBuf,
    /// What the gallery says about it (difficulty, source).
    pub note: Option<String>,
}

/// Where the gallery lives: `assets/samples` under the working directory or the crate.
pub fn gallery_dir() -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("assets/samples"), Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples")];
    if let Ok(exe) = std::env::current_exe()
        && let Some(root) = exe.ancestors().nth(3)
    {
        dirs.push(root.join("assets/samples"));
    }
    dirs.into_iter().find(|d| d.is_dir())
}

/// The gallery's images: from `samples.json` if readable, else every image in the folder.
/// A missing or malformed gallery gives an empty list, never an error.
pub fn gallery(dir: &Path) -> Vec<Sample> {
    let from_json = std::fs::read_to_string(dir.join("samples.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|v| samples_from_json(dir, &v))
        .unwrap_or_default();
    if !from_json.is_empty() {
        return from_json;
    }
    list_folder(dir)
        .into_iter()
        .map(|p| Sample { name: p.file_stem().unwrap_or_default().to_string_lossy().into(), path: p, note: None })
        .collect()
}

fn samples_from_json(dir: &Path, v: &serde_json::Value) -> Vec<Sample> {
    let list = v.as_array().or_else(|| v.get("samples").and_then(|s| s.as_array()));
    let Some(list) = list else { return Vec::new() };
    list.iter()
        .filter_map(|e| {
            let file = e.as_str().or_else(|| ["image", "file", "path"].iter().find_map(|k| e.get(k)?.as_str()))?;
            let path = dir.join(file);
            if !path.is_file() {
                return None;
            }
            let name = e
                .get("name")
                .and_then(|n| n.as_str())
                .map(String::from)
                .unwrap_or_else(|| path.file_stem().unwrap_or_default().to_string_lossy().into());
            let note = ["difficulty", "kind", "time_of_day", "source", "description"]
                .iter()
                .filter_map(|k| {
                    e.get(*k).map(|v| format!("{k}: {}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                })
                .reduce(|a, b| format!("{a}, {b}"));
            Some(Sample { name, path, note })
        })
        .collect()
}
