//! Frame times of presenter mode in the real window (eframe, glow) at 1920x1080 ($PRESENT_SIZE): a 1024x512
//! sample run by the demo models in analysis mode, stepped forward through every step (a key
//! every 40 frames, so each mask's fade plays out), blanked and unblanked, then stepped back
//! (a key every 10 frames). Each frame records the app's `ui`, eframe's time of the whole frame
//! (ui, tessellation and painting, without the swap; wall clock) and the UI thread's CPU time
//! from one frame to the next, and the wall time from one frame's start to the next. Prints median, p99 and worst, then closes. Under Xvfb:
//!
//!     Xvfb :95 -screen 0 1920x1080x24 & DISPLAY=:95 cargo run --release --example present_frames

#[path = "../tests/browser_feed/mod.rs"]
mod browser_feed;
#[path = "../tests/demo_run/mod.rs"]
mod demo_run;

use add_studio::jobs::Segmenter;
use add_studio::jobs::demo::DemoSegmenter;
use add_studio::ui::StudioApp;
use add_studio::ui::frame_times::spread;
use add_studio::ui::present::steps;
use browser_feed::{Frame, print_frame_stats, thread_cpu_ns};
use eframe::egui;
use std::time::{Duration, Instant};

/// Frames between presses going forward (a fade is 30 frames at 60 Hz) and going back.
const FORWARD_EVERY: usize = 40;
const BACK_EVERY: usize = 10;

struct Measure {
    app: StudioApp,
    /// The frames at which a key goes down, in order.
    keys: Vec<(usize, egui::Key)>,
    frames: Vec<Frame>,
    pending: Option<(usize, f64, Option<u64>)>,
    /// Wall time between the starts of consecutive frames (what the eye sees, rasterising
    /// and the swap included).
    last_start: Option<Instant>,
    intervals: Vec<f64>,
    k: usize,
    done: bool,
}

impl eframe::App for Measure {
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw: &mut egui::RawInput) {
        for &(_, key) in self.keys.iter().filter(|(at, _)| *at == self.k) {
            for pressed in [true, false] {
                let modifiers = Default::default();
                raw.events.push(egui::Event::Key { key, physical_key: None, pressed, repeat: false, modifiers });
            }
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let cpu_now = thread_cpu_ns();
        let start = Instant::now();
        if let Some(last) = self.last_start.replace(start) {
            self.intervals.push((start - last).as_secs_f64() * 1e3);
        }
        if let (Some(whole), Some((step, ui_ms, cpu))) = (frame.info().cpu_usage, self.pending.take()) {
            let whole = f64::from(whole) * 1e3;
            let cpu_ms = cpu.zip(cpu_now).map(|(a, b)| (b - a) as f64 / 1e6);
            self.frames.push(Frame { rows: step, ui_ms, rest_ms: (whole - ui_ms).max(0.0), cpu_ms });
        }
        if self.done {
            return;
        }
        let t = Instant::now();
        self.app.ui(ui);
        self.pending = Some((self.app.presenter().step, t.elapsed().as_secs_f64() * 1e3, cpu_now));
        self.k += 1;
        if self.k > self.keys.last().map_or(0, |k| k.0) + 60 {
            self.done = true;
            assert!(self.app.presenter().active, "still presenting");
            assert_eq!(self.app.presenter().step, 0, "stepped all the way back");
            print_frame_stats(&self.frames);
            let (median, p99, worst) = spread(&self.intervals);
            println!("frame to frame (wall): median {median:.2} ms, p99 {p99:.2} ms, worst {worst:.2} ms");
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ui.ctx().request_repaint();
    }
}

/// The app with a sample's demo run in analysis mode, presenting its photo.
fn presented() -> (StudioApp, usize) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples/scene_00.png");
    let img = image::open(&path).expect("the sample image").to_rgb8();
    let mut app = demo_run::app_with_run("scene_00.png", Some(path), img, None);
    app.present_when_done(0);
    let exit_cells = DemoSegmenter::add(Duration::ZERO).card().exit_cells();
    let n = steps(app.results().expect("shown"), &exit_cells).len();
    (app, n)
}

fn main() -> eframe::Result {
    let (mut app, n) = presented();
    // PRESENT_BLANK=1: the same run on a black screen, the floor of what painting costs here
    let blank = std::env::var_os("PRESENT_BLANK").is_some();
    app.presenter_mut().blank = blank;
    let mut keys: Vec<(usize, egui::Key)> = (1..n).map(|i| (30 + i * FORWARD_EVERY, egui::Key::Space)).collect();
    let end = 30 + n * FORWARD_EVERY;
    if !blank {
        keys.extend([(end, egui::Key::B), (end + 30, egui::Key::B)]);
    }
    keys.extend((1..n).map(|i| (end + 60 + i * BACK_EVERY, egui::Key::ArrowLeft)));
    // PRESENT_SIZE=1280x720 for another window size
    let size = std::env::var("PRESENT_SIZE").unwrap_or_else(|_| "1920x1080".into());
    let (w, h) = size.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?))).expect("WxH");
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("presenter frames").with_inner_size([w, h]),
        persist_window: false,
        ..Default::default()
    };
    eframe::run_native(
        "presenter frames",
        options,
        Box::new(move |_cc| {
            let m = Measure {
                app,
                keys,
                frames: Vec::new(),
                pending: None,
                last_start: None,
                intervals: Vec::new(),
                k: 0,
                done: false,
            };
            Ok(Box::new(m))
        }),
    )
}
