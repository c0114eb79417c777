//! Frame times of the dataset browser in the real window (eframe, glow) while a 5,000-image run
//! streams in: the same rows, schedule, scrolling and clicks as the headless measurement in
//! tests/ui_browser.rs (`streaming_frame_times`). Each frame records the app's `ui`, eframe's
//! time of the whole frame (ui, tessellation and painting, without the swap; wall clock), and
//! the CPU time the UI thread got from one frame to the next. Prints median, p99 and worst,
//! then closes. Under Xvfb:
//!
//!     Xvfb :95 -screen 0 1920x1080x24 & DISPLAY=:95 cargo run --release --example browser_frames

#[path = "../tests/browser_feed/mod.rs"]
mod browser_feed;

use add_studio::jobs::{Role, WorkerMsg};
use add_studio::ui::StudioApp;
use add_studio::ui::settings::Settings;
use browser_feed::{Frame, MEASURED_FRAMES, RowFeed, before_frame, card, print_frame_stats, thread_cpu_ns, write_set};
use eframe::egui;
use std::sync::Arc;
use std::time::Instant;

struct Measure {
    app: StudioApp,
    feed: RowFeed,
    frames: Vec<Frame>,
    /// Rows, `ui` ms and the thread's CPU ns at its start, of the frame whose whole time
    /// eframe reports next frame.
    pending: Option<(usize, f64, Option<u64>)>,
    k: usize,
    done: bool,
    _dir: tempfile::TempDir,
}

const TOTAL: usize = 5000;

impl eframe::App for Measure {
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw: &mut egui::RawInput) {
        // this frame's rows, clicks and input events, before eframe runs the frame
        if !self.done {
            let events = before_frame(&mut self.app, &mut self.feed, self.k);
            raw.events.extend(events);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let cpu_now = thread_cpu_ns();
        if let (Some(whole), Some((rows, ui_ms, cpu))) = (frame.info().cpu_usage, self.pending.take()) {
            let whole = f64::from(whole) * 1e3;
            // the main thread's CPU time from one frame's start to the next (its swap included)
            let cpu_ms = cpu.zip(cpu_now).map(|(a, b)| (b - a) as f64 / 1e6);
            self.frames.push(Frame { rows, ui_ms, rest_ms: (whole - ui_ms).max(0.0), cpu_ms });
        }
        if self.done {
            return;
        }
        let t = Instant::now();
        self.app.ui(ui);
        self.pending = Some((self.app.dataset().rows.len(), t.elapsed().as_secs_f64() * 1e3, cpu_now));
        self.k += 1;
        if self.k == MEASURED_FRAMES {
            self.done = true;
            let b = self.app.browser();
            assert_eq!(b.view.order.len(), TOTAL, "every row shows");
            print_frame_stats(&self.frames);
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
        ui.ctx().request_repaint();
    }
}

fn main() -> eframe::Result {
    let dir = tempfile::tempdir().expect("a temporary folder");
    write_set(dir.path());
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title("browser frames").with_inner_size([1920.0, 1080.0]),
        persist_window: false,
        ..Default::default()
    };
    eframe::run_native(
        "browser frames",
        options,
        Box::new(move |_cc| {
            let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
            app.gallery_mut().clear();
            app.apply(WorkerMsg::ModelReady { role: Role::Add, card: card(), device: "demo".into(), banner: None });
            let feed = RowFeed::start(&mut app, dir.path(), TOTAL);
            Ok(Box::new(Measure { app, feed, frames: Vec::new(), pending: None, k: 0, done: false, _dir: dir }))
        }),
    )
}
