//! `add present`: presenter mode without a window. The app itself runs (its worker, its models,
//! its presenter and playlist), kittest steps it frame by frame on a clock we set, and wgpu
//! renders each frame offscreen, so the talk exported is pixel for pixel what F5 shows. Each
//! image's steps are held for a time from its real run (cells in proportion to their measured
//! times), masks fade in as on screen, and the frames go to a GIF ([`encode::GifOut`]) or to
//! numbered PNG slides ([`encode::PngSlides`]).

pub mod encode;

use super::playlist::Playlist;
use super::present::{self, FADE, Step};
use super::results::ImageResults;
use super::settings::Settings;
use super::{ModelChoice, StudioApp};
use anyhow::{Context, bail};
use eframe::egui::Key;
use egui_kittest::Harness;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the photo, an exit's mask and the full output stay, after any fade (ms).
const PHOTO_MS: u32 = 1500;
const EXIT_MS: u32 = 1500;
const FULL_MS: u32 = 3000;
/// A cell of average measured time stays this long; others in proportion, within the bounds.
const CELL_MS: f64 = 400.0;
const CELL_BOUNDS_MS: (f64, f64) = (150.0, 1200.0);
/// How long one image may take to run before the export gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// What `add present` does.
#[derive(Debug, Clone)]
pub struct PresentJob {
    /// The talk's images, in order.
    pub images: Vec<PathBuf>,
    pub models: ModelChoice,
    /// Compute every exit, not only those the policy reaches.
    pub analysis: bool,
    /// Frame size in pixels.
    pub size: [u32; 2],
    /// Frames per second while a mask fades in.
    pub fps: u32,
    /// `.gif`: an animated GIF; anything else: a folder of numbered PNG slides.
    pub out: PathBuf,
    pub force: bool,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// Frames in the GIF, or slides in the folder.
    pub frames: usize,
    /// Steps shown over all images.
    pub steps: usize,
    /// Length of the animation (the GIF's total delay).
    pub seconds: f64,
    pub bytes: u64,
}

/// Whether `out` names a GIF (else a folder of PNG slides).
pub fn is_gif(out: &Path) -> bool {
    out.extension().is_some_and(|e| e.eq_ignore_ascii_case("gif"))
}

/// Frames drawn while `step`'s mask fades in, before its settled frame.
pub fn fade_frames(step: Step, fps: u32) -> usize {
    match step {
        Step::Exit(_) | Step::Full => (FADE * fps as f32).ceil() as usize,
        Step::Photo | Step::Cell(_) => 0,
    }
}

/// How long `step` stays once settled (ms), from `r`'s run.
pub fn hold_ms(step: Step, r: &ImageResults) -> u32 {
    match step {
        Step::Photo => PHOTO_MS,
        Step::Exit(_) => EXIT_MS,
        Step::Full => FULL_MS,
        Step::Cell(i) => {
            let times: Vec<f64> = r.add.cells.iter().map(|c| c.cell_ms).collect();
            let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
            let ms = if mean > 0.0 { CELL_MS * times[i] / mean } else { CELL_MS };
            ms.clamp(CELL_BOUNDS_MS.0, CELL_BOUNDS_MS.1).round() as u32
        }
    }
}

/// Where the frames go.
enum Sink {
    Gif(encode::GifOut),
    Slides(encode::PngSlides),
}

/// Runs the export; `progress` hears one line per image.
pub fn run(job: &PresentJob, progress: &mut dyn FnMut(String)) -> anyhow::Result<Exported> {
    check(job)?;
    let mut settings = Settings { analysis: job.analysis, ..Settings::default() };
    job.models.apply_policy(&mut settings)?;
    let mut h = harness(job, app(job, settings))?;
    let [w, hgt] = job.size;
    let mut sink = if is_gif(&job.out) {
        Sink::Gif(encode::GifOut::create(&job.out, w, hgt)?)
    } else {
        Sink::Slides(encode::PngSlides::create(&job.out)?)
    };
    let dt_ms = 1000 / job.fps;
    let mut clock = Clock(0.0);
    let mut steps = 0;
    for (i, path) in job.images.iter().enumerate() {
        if i > 0 {
            h.key_press(Key::Space); // past the last step: the playlist's next image
        }
        wait_for(&mut h, &mut clock, path)?;
        let r = h.state().results().expect("waited for it");
        let all = present::steps(r, &h.state().ctx().card().exit_cells());
        let holds: Vec<u32> = all.iter().map(|&s| hold_ms(s, r)).collect();
        progress(format!("{}/{} {}: {} steps", i + 1, job.images.len(), path.display(), all.len()));
        for (s, &step) in all.iter().enumerate() {
            if s > 0 {
                h.key_press(Key::Space);
            }
            clock.step(&mut h, dt_ms);
            if h.state().presenter().step != s {
                bail!("{}: the presenter did not reach step {} of {}", path.display(), s + 1, all.len());
            }
            for _ in 0..fade_frames(step, job.fps) {
                if let Sink::Gif(g) = &mut sink {
                    g.push(&render(&mut h)?, dt_ms)?;
                }
                clock.step(&mut h, dt_ms);
            }
            let settled = render(&mut h)?;
            match &mut sink {
                Sink::Gif(g) => g.push(&settled, holds[s])?,
                Sink::Slides(p) => p.push(&settled)?,
            }
        }
        steps += all.len();
    }
    Ok(match sink {
        Sink::Gif(g) => {
            let seconds = g.total_ms as f64 / 1000.0;
            let (frames, bytes) = g.finish()?;
            Exported { frames, steps, seconds, bytes }
        }
        Sink::Slides(p) => Exported { frames: p.count, steps, seconds: 0.0, bytes: p.finish()? },
    })
}

/// Refuses what cannot work before any model loads.
fn check(job: &PresentJob) -> anyhow::Result<()> {
    if job.images.is_empty() {
        bail!("no images to present");
    }
    if let Some(missing) = job.images.iter().find(|p| !p.is_file()) {
        bail!("{}: no such image", missing.display());
    }
    let [w, h] = job.size;
    if !(64..=4096).contains(&w) || !(64..=4096).contains(&h) {
        bail!("frame size {w}x{h}: each side must be 64..4096 pixels");
    }
    if !(1..=50).contains(&job.fps) {
        bail!("--fps {}: must be 1..50 (GIF delays are whole hundredths of a second)", job.fps);
    }
    if job.out.exists() && !job.force {
        bail!("{} exists; pass --force to replace it", job.out.display());
    }
    if job.out.is_dir() && is_gif(&job.out) {
        bail!("{} is a folder, not a GIF file", job.out.display());
    }
    if job.out.is_dir() {
        // --force replaces an earlier export's slides, never files of the user's beside them
        let slide = |n: &str| n.len() == 8 && n.ends_with(".png") && n[..4].bytes().all(|b| b.is_ascii_digit());
        let entries = std::fs::read_dir(&job.out).with_context(|| format!("cannot read {}", job.out.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !slide(&name) {
                bail!("{} holds {name}, which is no slide: not replaced", job.out.display());
            }
        }
    }
    Ok(())
}

/// The app with its worker and models, presenting the images as a playlist.
fn app(job: &PresentJob, settings: Settings) -> StudioApp {
    let mut app = StudioApp::new(settings, Some(job.models.worker(Arc::new(|| {}))), Arc::new(|| {}));
    app.gallery_mut().clear();
    app.presenter_mut().key_hints = false;
    app.present_playlist(Playlist::of_files(job.images.clone(), None, "the talk"));
    app
}

/// A window-less harness around `app` that renders with wgpu.
fn harness(job: &PresentJob, app: StudioApp) -> anyhow::Result<Harness<'static, StudioApp>> {
    let [w, h] = job.size;
    let build = move || {
        Harness::builder()
            .with_size([w as f32, h as f32])
            .with_pixels_per_point(1.0)
            .with_render_cursor(false)
            .with_accessibility_check(false)
            .wgpu()
            .build_ui_state(|ui, a: &mut StudioApp| a.ui(ui), app)
    };
    // wgpu panics when it finds no adapter at all: say what is missing instead
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(build));
    std::panic::set_hook(hook);
    built.map_err(|_| {
        anyhow::anyhow!(
            "no graphics adapter to render the frames offscreen: wgpu needs a GPU driver or Mesa \
             (llvmpipe, e.g. Debian's libegl1-mesa / mesa-vulkan-drivers)"
        )
    })
}

/// The time the harness's frames see: advanced by hand, so fades take the same frames every run.
struct Clock(f64);

impl Clock {
    fn step(&mut self, h: &mut Harness<'_, StudioApp>, ms: u32) {
        self.0 += f64::from(ms) / 1000.0;
        h.input_mut().time = Some(self.0);
        h.step();
    }
}

/// Steps frames until `path`'s run (and the baseline's) is complete; a model that failed to
/// load or an image that failed to open ends the export with its message.
fn wait_for(h: &mut Harness<'_, StudioApp>, clock: &mut Clock, path: &Path) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        clock.step(h, 0);
        let app = h.state();
        if app.results().is_some_and(|r| r.path.as_deref() == Some(path) && r.is_done()) {
            return Ok(());
        }
        if let Some(why) = app.failure_for(path) {
            bail!("{why}");
        }
        if start.elapsed() > RUN_TIMEOUT {
            bail!("{}: no result after {} s", path.display(), RUN_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn render(h: &mut Harness<'_, StudioApp>) -> anyhow::Result<image::RgbaImage> {
    h.render().map_err(|e| anyhow::anyhow!("add present: rendering a frame: {e}"))
}
