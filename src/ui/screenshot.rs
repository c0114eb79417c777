//! Screenshot mode (`add app --screenshot FILE --image IMG`): run the real window, wait until
//! the image's results are in (and drawn), grab the frame through eframe's screenshot viewport
//! command, save it, close. For figures, and for the real-window test under Xvfb.

use super::panel::Ctx;
use eframe::egui::{self, ViewportCommand};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Give up after this long (a missing model or a stuck run still ends the process).
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// Where a screenshot stands.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Waiting for the results; counts frames drawn after they were complete.
    Waiting {
        settled_frames: u32,
    },
    Requested,
    Closing,
}

/// A pending screenshot.
pub struct ScreenshotJob {
    pub path: PathBuf,
    started: Instant,
    phase: Phase,
    /// Set by the screenshot callback; read by `run_app` after the window closed.
    pub outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

impl ScreenshotJob {
    pub fn new(path: PathBuf) -> ScreenshotJob {
        ScreenshotJob {
            path,
            started: Instant::now(),
            phase: Phase::Waiting { settled_frames: 0 },
            outcome: Arc::default(),
        }
    }
}

fn save(path: &std::path::Path, img: &egui::ColorImage) -> Result<(), String> {
    let rgba: Vec<u8> = img.pixels.iter().flat_map(|c| c.to_srgba_unmultiplied()).collect();
    let buf = image::RgbaImage::from_raw(img.size[0] as u32, img.size[1] as u32, rgba).ok_or("bad screenshot size")?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    buf.write_to(&mut bytes, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    crate::fsutil::atomic_write(path, &bytes.into_inner()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Advances the screenshot job by one frame.
pub fn tick(job: &mut ScreenshotJob, app: &Ctx, ctx: &egui::Context) {
    let ready = app.results.is_some_and(|r| r.is_done()) && app.loading.is_none();
    let no_model = matches!(app.add_model, super::model_slot::ModelSlot::Failed(_));
    let failed_open =
        no_model || app.results.is_none() && app.loading.is_none() && app.messages.iter().any(|m| m.error);
    match job.phase.clone() {
        Phase::Waiting { .. } if failed_open => {
            let why = app.messages.iter().rev().find(|m| m.error).map(|m| m.text.clone()).unwrap_or_default();
            *job.outcome.lock().unwrap() = Some(Err(format!("no image to screenshot: {why}")));
            job.phase = Phase::Closing;
        }
        Phase::Waiting { .. } if job.started.elapsed() > TIMEOUT => {
            *job.outcome.lock().unwrap() = Some(Err("timed out waiting for the results".into()));
            job.phase = Phase::Closing;
        }
        Phase::Waiting { settled_frames } => {
            // A few frames after the last event so every texture is uploaded and laid out.
            if ready && settled_frames >= 3 {
                let (path, outcome, ctx2) = (job.path.clone(), job.outcome.clone(), ctx.clone());
                ctx.send_viewport_cmd(ViewportCommand::Screenshot(egui::ScreenshotCallback::new(move |img| {
                    *outcome.lock().unwrap() = Some(save(&path, &img));
                    ctx2.request_repaint();
                })));
                job.phase = Phase::Requested;
            } else {
                job.phase = Phase::Waiting { settled_frames: if ready { settled_frames + 1 } else { 0 } };
            }
            ctx.request_repaint_after(Duration::from_millis(30));
        }
        Phase::Requested => {
            if job.outcome.lock().unwrap().is_some() {
                job.phase = Phase::Closing;
            }
            ctx.request_repaint_after(Duration::from_millis(30));
        }
        Phase::Closing => {}
    }
    if job.phase == Phase::Closing {
        ctx.send_viewport_cmd(ViewportCommand::Close);
    }
}
