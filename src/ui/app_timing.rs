//! `add bench-app`: how quickly the app itself answers, without a window. The real app runs (its
//! worker, both models on the chosen device, its panels); kittest draws its frames at a steady
//! rate, as a vsynced window does while a run streams; each image is opened as a user opens one.
//!
//! Per image it records when the photo, each exit's mask and the full Auto-DeepLab output were
//! first drawn, counted from the moment the image was opened, beside the engine's own time to
//! each exit. It also records the UI thread's work per frame while the models compute: our `ui`
//! and egui's tessellation. Painting is left out: it belongs to the graphics driver. A real window
//! measures that part (`ADD_FRAME_STATS=1 add app`).

use super::settings::Settings;
use super::{ModelChoice, StudioApp};
use crate::jobs::Role;
use anyhow::bail;
use egui_kittest::Harness;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the models may take to load, and one image to run, before the bench gives up.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// What `add bench-app` does.
#[derive(Debug, Clone)]
pub struct AppTimingJob {
    /// Opened in order, `rounds` times over.
    pub images: Vec<PathBuf>,
    pub rounds: usize,
    pub models: ModelChoice,
    /// Compute every exit (analysis mode), not only the ones the policy reaches.
    pub analysis: bool,
    /// Longest image side the network runs at (the app's setting).
    pub max_side: usize,
    /// Window size in points (at 1 pixel per point).
    pub window: [f32; 2],
    /// Frames per second the window draws while a run streams.
    pub hz: f64,
}

/// One exit of one run: the engine's time to it, and when its mask was first drawn.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ExitTiming {
    pub exit: usize,
    pub cell: usize,
    /// Milliseconds from the run's start to this exit's head done (the engine's clock).
    pub computed_ms: f64,
    /// Milliseconds from opening the image to the end of the first frame that drew the mask.
    pub on_screen_ms: f64,
}

/// One opened image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageTiming {
    pub image: String,
    /// 0 for the first pass over the images; the first image of pass 0 is the cold start.
    pub round: usize,
    /// The size the network ran at (width, height), padding included.
    pub input: Option<(usize, usize)>,
    pub device: String,
    /// From opening to the photo on screen (decoding included).
    pub photo_ms: f64,
    /// Every exit whose mask was drawn, in order.
    pub exits: Vec<ExitTiming>,
    /// From opening to the full Auto-DeepLab output on screen, when a baseline runs.
    pub full_ms: Option<f64>,
    /// From opening to both runs finished.
    pub done_ms: f64,
    /// UI-thread milliseconds (ui and tessellation) of each frame drawn while the runs went on.
    pub frame_ms: Vec<f64>,
}

/// Everything measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AppTiming {
    /// From the app's start to both models ready (seconds).
    pub load_s: f64,
    pub runs: Vec<ImageTiming>,
}

/// The state kittest drives: the app and the time its last `ui` took.
struct Timed {
    app: StudioApp,
    ui_ms: f64,
}

/// Runs the bench; `progress` hears a line per image.
pub fn run(job: &AppTimingJob, progress: &mut dyn FnMut(&ImageTiming)) -> anyhow::Result<AppTiming> {
    if job.images.is_empty() {
        bail!("no images to open");
    }
    if let Some(missing) = job.images.iter().find(|p| !p.is_file()) {
        bail!("{}: no such image", missing.display());
    }
    if !(1.0..=1000.0).contains(&job.hz) {
        bail!("--hz {}: must be 1..1000 frames per second", job.hz);
    }
    let mut settings = Settings { analysis: job.analysis, max_side: job.max_side, ..Settings::default() };
    job.models.apply_policy(&mut settings)?;
    let start = Instant::now();
    let mut app = StudioApp::new(settings, Some(job.models.worker(Arc::new(|| {}))), Arc::new(|| {}));
    app.gallery_mut().clear();
    let mut h = Harness::builder()
        .with_size(job.window)
        .with_pixels_per_point(1.0)
        .with_accessibility_check(false)
        .build_ui_state(
            |ui, t: &mut Timed| {
                let s = Instant::now();
                t.app.ui(ui);
                t.ui_ms = s.elapsed().as_secs_f64() * 1e3;
            },
            Timed { app, ui_ms: 0.0 },
        );
    let mut pace = Pace::new(job.hz);
    while !ready(&h.state().app) {
        if let Some(why) = h.state().app.model_failure() {
            bail!("{why}");
        }
        if start.elapsed() > LOAD_TIMEOUT {
            bail!("the models did not load within {} s", LOAD_TIMEOUT.as_secs());
        }
        pace.wait();
        h.step();
    }
    let load_s = start.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    for round in 0..job.rounds.max(1) {
        for path in &job.images {
            let t = open(&mut h, &mut pace, path, round)?;
            progress(&t);
            runs.push(t);
        }
    }
    Ok(AppTiming { load_s, runs })
}

/// Both model slots settled: the ADD model ready, the baseline ready or absent.
fn ready(app: &StudioApp) -> bool {
    use super::model_slot::ModelSlot::{Absent, Ready};
    matches!(app.model_slot(Role::Add), Ready(_)) && matches!(app.model_slot(Role::Full), Ready(_) | Absent)
}

/// Opens `path` as a user does and draws frames until its runs are done, noting when each
/// part first reached the screen.
fn open(h: &mut Harness<'_, Timed>, pace: &mut Pace, path: &PathBuf, round: usize) -> anyhow::Result<ImageTiming> {
    let before = h.state().app.results().map(|r| r.image_id);
    let t0 = Instant::now();
    h.state_mut().app.open_path(path.clone());
    let ms = |t0: Instant| t0.elapsed().as_secs_f64() * 1e3;
    let mut t = ImageTiming {
        image: path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
        round,
        input: None,
        device: String::new(),
        photo_ms: f64::NAN,
        exits: Vec::new(),
        full_ms: None,
        done_ms: f64::NAN,
        frame_ms: Vec::new(),
    };
    loop {
        pace.wait();
        h.step();
        let ppp = h.ctx.pixels_per_point();
        let shapes = h.output().shapes.clone();
        let s = Instant::now();
        let _ = h.ctx.tessellate(shapes, ppp);
        let frame = h.state().ui_ms + s.elapsed().as_secs_f64() * 1e3;
        let app = &h.state().app;
        if let Some(why) = app.failure_for(path) {
            bail!("{why}");
        }
        let Some(r) = app.results().filter(|r| Some(r.image_id) != before && r.path.as_ref() == Some(path)) else {
            if ms(t0) > RUN_TIMEOUT.as_secs_f64() * 1e3 {
                bail!("{}: not opened within {} s", path.display(), RUN_TIMEOUT.as_secs());
            }
            continue;
        };
        let now = ms(t0);
        if t.photo_ms.is_nan() {
            t.photo_ms = now;
        }
        for (k, e) in r.add.exits.iter().enumerate() {
            if let Some(e) = e.as_ref().filter(|e| e.maps.is_some())
                && !t.exits.iter().any(|x| x.exit == k)
            {
                t.exits.push(ExitTiming { exit: k, cell: e.cell, computed_ms: e.time_ms, on_screen_ms: now });
            }
        }
        if r.full.is_some() && t.full_ms.is_none() && r.full_maps().is_some() {
            t.full_ms = Some(now);
        }
        if r.is_done() {
            if let super::results::RunStatus::Failed(e) = &r.add.status {
                bail!("{}: the run failed: {e}", path.display());
            }
            t.done_ms = now;
            t.input = r.add.input_size;
            t.device = r.add.device.clone();
            return Ok(t);
        }
        t.frame_ms.push(frame);
        if now > RUN_TIMEOUT.as_secs_f64() * 1e3 {
            bail!("{}: no result after {} s", path.display(), RUN_TIMEOUT.as_secs());
        }
    }
}

/// Frame pacing: a frame every 1/hz seconds, as a vsynced window draws while it is kept busy.
struct Pace {
    period: Duration,
    next: Instant,
}

impl Pace {
    fn new(hz: f64) -> Pace {
        Pace { period: Duration::from_secs_f64(1.0 / hz), next: Instant::now() }
    }

    fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
        // a slow frame is not made up for by a burst: the next frame is a period later
        self.next = self.next.max(now) + self.period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_does_not_burst_after_a_slow_frame() {
        let mut p = Pace::new(100.0);
        p.wait();
        std::thread::sleep(Duration::from_millis(35));
        let t = Instant::now();
        p.wait(); // late: returns at once
        p.wait(); // then a whole period, not a catch-up
        assert!(t.elapsed() >= Duration::from_millis(9), "{:?}", t.elapsed());
    }
}
