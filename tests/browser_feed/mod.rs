//! Rows for the dataset browser as the worker streams them, shared by tests/ui_browser.rs and
//! the real-window measurement (examples/browser_frames.rs): a small folder of demo street
//! scenes run through the worker's per-image code, then copied into a run of any length.
#![allow(dead_code)] // each user takes a part

use add_studio::jobs::dataset::{self as rows, DatasetRow};
use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::open_set as open;
use add_studio::jobs::{Segmenter, WorkerMsg};
use add_studio::network::ArchCard;
use add_studio::ui::StudioApp;
use add_studio::ui::view_state::Tab;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub const N: usize = 6;

/// A folder of street scenes of different widths with `_label.png` masks beside them.
pub fn write_set(dir: &Path) {
    for i in 0..N {
        let (img, label) = street_scene(96 + 32 * i as u32, 64);
        img.save(dir.join(format!("scene_{i}.png"))).unwrap();
        let grey = image::GrayImage::from_raw(label.width as u32, label.height as u32, label.classes).unwrap();
        grey.save(dir.join(format!("scene_{i}_label.png"))).unwrap();
    }
}

pub fn card() -> ArchCard {
    DemoSegmenter::add(Duration::ZERO).card().clone()
}

/// Every image of the set run as the worker runs it.
pub fn run_rows(dir: &Path) -> (open::OpenedSet, Vec<DatasetRow>) {
    let set = open::open_dataset(dir, &card().classes).unwrap();
    let add = DemoSegmenter::add(Duration::ZERO);
    let mut tables = HashMap::new();
    let cancel = AtomicBool::new(false);
    let rows = (0..set.dataset.len())
        .map(|i| rows::run_sample(&add, None, &set.dataset, i, None, 1024, &cancel, &mut tables).unwrap().unwrap())
        .collect();
    (set, rows)
}

/// Rows as the worker sends them while a dataset runs: copies of the demo set's rows, each
/// with a name and dataset index of its own, applied to the app as `DatasetRow` messages.
pub struct RowFeed {
    pub base: Vec<DatasetRow>,
    pub job_id: u64,
    pub sent: usize,
}

impl RowFeed {
    /// Starts a job of `total` images on `app` (so rows of it are accepted) and shows the tab.
    pub fn start(app: &mut StudioApp, dir: &Path, total: usize) -> RowFeed {
        let (mut set, base) = run_rows(dir);
        let samples = set.dataset.samples.clone();
        set.dataset.samples = (0..total).map(|i| samples[i % N].clone()).collect();
        set.difficulty = vec![None; total];
        let job = app.dataset_mut().start(dir.to_path_buf(), set, 1024, false);
        app.view_mut().tab = Tab::Dataset;
        RowFeed { base, job_id: job.job_id, sent: 0 }
    }

    /// Sends the next `n` rows; the dataset ends (`DatasetDone`) with the last one.
    pub fn send(&mut self, app: &mut StudioApp, n: usize) {
        let total = app.dataset().total();
        for _ in 0..n.min(total - self.sent) {
            let i = self.sent;
            let mut row = self.base[i % N].clone();
            // a time of its own, so that sorting by time interleaves old and new rows; rows 300
            // apart tie (100 times, 6 images), so the order of equal rows is checked too
            row.record.cell_ms.iter_mut().for_each(|t| *t = ((i * 7919) % 100) as f64 / 10.0);
            row.index = i;
            row.name = format!("img_{i:05}.png");
            app.apply(WorkerMsg::DatasetRow { job_id: self.job_id, row: Box::new(row) });
            self.sent += 1;
        }
        if self.sent == total && app.dataset().running {
            app.apply(WorkerMsg::DatasetDone { job_id: self.job_id, cancelled: false });
        }
    }
}

/// Rows the worker delivers before a frame of a 5,000-image run: 40 a frame up to 4,000
/// (a fast model), then one a frame to the end, so the last 1,000 frames each draw a table that
/// grew by one row.
pub fn rows_before_frame(sent: usize) -> usize {
    if sent < 4000 { 40 } else { 1 }
}

/// Frames of the measured run: every row arrived, plus a few frames.
pub const MEASURED_FRAMES: usize = 1102;

/// What happens before frame `k` of the measured run: the worker's rows arrive
/// ([`rows_before_frame`]); at 4,200 rows the user sorts by the "ms" column, at 4,600 flips the
/// direction, at 4,800 picks another policy; the pointer is over the table and the wheel turns
/// (200 frames down, 200 up). Returns the input events of the frame.
pub fn before_frame(app: &mut StudioApp, feed: &mut RowFeed, k: usize) -> Vec<eframe::egui::Event> {
    use add_studio::engine::Policy;
    use add_studio::ui::browser::table::SortKey;
    use eframe::egui;
    let before = feed.sent;
    feed.send(app, rows_before_frame(before));
    let crossed = |n: usize| before < n && feed.sent >= n;
    if crossed(4200) || crossed(4600) {
        app.browser_mut().view.sort_by(SortKey::Time);
    }
    if crossed(4800) {
        app.settings_mut().policy = Policy::FixedExit(0);
    }
    let wheel = if (k / 200) % 2 == 0 { -3.0 } else { 3.0 };
    vec![
        egui::Event::PointerMoved(egui::pos2(600.0, 400.0 + (k % 300) as f32)),
        egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: egui::vec2(0.0, wheel),
            modifiers: Default::default(),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
        },
    ]
}

/// One measured frame: rows in the table, the app's `ui` (update and layout), the rest of the
/// frame (tessellation headless; in the real window, eframe's frame time minus `ui`), all wall
/// clock; and, where the kernel tells, the CPU time the frame's thread got (the same work
/// without the time other processes had the core).
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub rows: usize,
    pub ui_ms: f64,
    pub rest_ms: f64,
    pub cpu_ms: Option<f64>,
}

/// Nanoseconds this thread has run on a CPU: `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, exact
/// to the call (/proc/thread-self/schedstat only moves at scheduler ticks here).
#[cfg(target_os = "linux")]
pub fn thread_cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on 64-bit Linux).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
}

#[cfg(not(target_os = "linux"))]
pub fn thread_cpu_ns() -> Option<u64> {
    None
}

/// Median, p99 and worst of `ui`, of the whole frame and of its CPU time, over all frames and
/// over those drawn with 4,000 rows or more.
pub fn print_frame_stats(frames: &[Frame]) {
    type Pick = fn(&Frame) -> Option<f64>;
    let picks: [(&str, Pick); 3] = [
        ("ui", |f| Some(f.ui_ms)),
        ("whole frame", |f| Some(f.ui_ms + f.rest_ms)),
        ("whole frame, CPU time", |f| f.cpu_ms),
    ];
    for (label, from) in [("all frames", 0), ("frames at 4,000 to 5,000 rows", 4000)] {
        for (what, pick) in picks {
            let v: Vec<f64> = frames.iter().filter(|f| f.rows >= from).filter_map(pick).collect();
            if v.is_empty() {
                continue;
            }
            let (median, p99, worst) = add_studio::ui::frame_times::spread(&v);
            println!(
                "{label}: {} frames, {what}: median {median:.2} ms, p99 {p99:.2} ms, worst {worst:.2} ms",
                v.len()
            );
        }
    }
}
