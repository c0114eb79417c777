//! Faults: a cancel is honoured within one cell or head; a worker whose thread dies comes back with the
//! same models; `add train` killed at any moment leaves a loadable checkpoint that `--resume`
//! continues; a disk that fills up mid-write leaves no half file under a final name.

mod support;

use add_studio::engine::{Engine, Policy, RunEvent, RunOptions};
use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::{Loaded, Loader, ModelSpec, SegmentOptions, Worker, WorkerMsg};
use add_studio::network::ArchCard;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn engine() -> Engine {
    let mut card = ArchCard::preset("add-3", 4).unwrap();
    card.edm.kind = add_studio::network::EdmKind::Scalar;
    Engine::random(card, 3, &candle_core::Device::Cpu).unwrap()
}

fn picture() -> image::RgbImage {
    street_scene(257, 129).0
}

fn analysis() -> RunOptions {
    RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: true, ..RunOptions::default() }
}

#[test]
fn a_cancel_after_an_exit_cell_skips_its_head() {
    let e = engine();
    let first_exit_cell = e.card().exits[0];
    let cancel = AtomicBool::new(false);
    let mut events = Vec::new();
    let s = e
        .run(&picture(), &analysis(), 1, &cancel, &mut |ev| {
            if matches!(ev, RunEvent::CellDone { cell, .. } if cell == first_exit_cell) {
                cancel.store(true, Ordering::Relaxed);
            }
            events.push(ev);
        })
        .unwrap();
    assert!(!s.completed);
    assert!(!events.iter().any(|ev| matches!(ev, RunEvent::Exit(_))), "no head after the cancel");
    assert!(matches!(events.last(), Some(RunEvent::Cancelled { run_id: 1 })));
}

/// A cancel from another thread (as the UI sends it) at several moments: the run reports it was
/// cancelled, and after the flag was set it finished at most the one cell or exit head that was
/// running. Counted in events, not milliseconds, so a busy machine cannot fail it or pass it.
/// A moment after the run had ended is dropped; the early ones always land.
#[test]
fn a_cancel_mid_cell_returns_within_one_cell() {
    let e = engine();
    // how long cells take on this machine now, to spread the moments over a run
    let mut cells = Vec::new();
    e.run(&picture(), &analysis(), 1, &AtomicBool::new(false), &mut |ev| {
        if let RunEvent::CellDone { cell_ms, .. } = ev {
            cells.push(cell_ms)
        }
    })
    .unwrap();
    let slowest_cell = cells.iter().copied().fold(0.0, f64::max);
    let mut landed = Vec::new();
    for moment_ms in [1.0, slowest_cell / 2.0, slowest_cell * 3.0, slowest_cell * 7.5] {
        let cancel = AtomicBool::new(false);
        let mut after_cancel = Vec::new();
        let mut last = None;
        let summary = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_secs_f64(moment_ms / 1e3));
                cancel.store(true, Ordering::Relaxed);
            });
            e.run(&picture(), &analysis(), 2, &cancel, &mut |ev| {
                if cancel.load(Ordering::Relaxed) {
                    match &ev {
                        RunEvent::CellDone { cell, .. } => after_cancel.push(format!("cell {cell}")),
                        RunEvent::Exit(r) => after_cancel.push(format!("exit {}", r.exit)),
                        _ => {}
                    }
                }
                last = Some(ev);
            })
            .unwrap()
        });
        if summary.completed {
            assert!(matches!(last, Some(RunEvent::Finished { .. })), "a completed run ends with Finished: {last:?}");
            continue; // the cancel came after the run's last check
        }
        assert!(matches!(last, Some(RunEvent::Cancelled { run_id: 2 })), "cancelled at {moment_ms:.0} ms: {last:?}");
        assert!(after_cancel.len() <= 1, "cancel at {moment_ms:.0} ms: finished more than one part: {after_cancel:?}");
        landed.push(moment_ms);
    }
    println!("cells take up to {slowest_cell:.1} ms; cancels landed at {landed:?} ms");
    assert!(!landed.is_empty() && landed[0] == 1.0, "the 1 ms cancel must land; landed at {landed:?} ms");
}

/// A loader that counts its calls and records the specs it was given.
fn recording_loader(specs: Arc<Mutex<Vec<ModelSpec>>>) -> Loader {
    Arc::new(move |_, spec: &ModelSpec| {
        specs.lock().unwrap().push(spec.clone());
        Ok(Some(Loaded { segmenter: Box::new(DemoSegmenter::add(Duration::ZERO)), banner: None }))
    })
}

#[test]
fn a_dead_worker_thread_comes_back_with_the_same_model() {
    let specs = Arc::new(Mutex::new(Vec::new()));
    let repaints = Arc::new(AtomicUsize::new(0));
    let r = repaints.clone();
    // the first repaint request panics: it runs on the worker thread outside any model, so
    // the thread dies (as it would on a bug in the worker itself)
    let repaint = Arc::new(move || {
        if r.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("repaint exploded");
        }
    });
    let spec = ModelSpec { model: Some("weights.safetensors".into()), card: None, device: "cpu".into() };
    let mut w = Worker::spawn(recording_loader(specs.clone()), spec.clone(), None, repaint);
    let mut seen = Vec::new();
    let start = Instant::now();
    while !seen.iter().any(|m| matches!(m, WorkerMsg::Restarted { .. })) {
        assert!(start.elapsed() < Duration::from_secs(20), "no restart: {seen:?}");
        seen.extend(w.poll());
        std::thread::sleep(Duration::from_millis(2));
    }
    let run = w.run(
        Arc::new(street_scene(64, 32).0),
        SegmentOptions { policy: Policy::FixedExit(9), analysis: false, max_side: 512 },
        false,
    );
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < Duration::from_secs(20), "the restarted worker does not run");
        let msgs = w.poll();
        if msgs
            .iter()
            .any(|m| matches!(m, WorkerMsg::Event { event: RunEvent::Finished { run_id, .. }, .. } if *run_id == run))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let specs = specs.lock().unwrap();
    assert_eq!(specs.len(), 2, "loaded once, then again after the restart");
    assert!(specs.iter().all(|s| *s == spec), "{specs:?}");
}

fn add() -> Command {
    Command::new(env!("CARGO_BIN_EXE_add"))
}

fn train(data: &Path, out: &Path, steps: usize, resume: bool) -> Command {
    let mut c = add();
    c.args(["train", "--arch", "add-2", "--filters", "2", "--head-width", "8", "--batch", "2", "--crop", "65x65"]);
    c.args(["--checkpoint-every", "1", "--device", "cpu", "--steps", &steps.to_string()]);
    c.arg("--data").arg(data).arg("--out").arg(out);
    if resume {
        c.arg("--resume");
    }
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// The step of the run's checkpoint, checking that it and the model load.
fn check_run(out: &Path) -> Option<usize> {
    let ckpt = out.join("checkpoint.safetensors");
    if !ckpt.exists() {
        return None;
    }
    let step = add_studio::train::trainer::checkpoint_step(&ckpt).unwrap_or_else(|e| panic!("{e:#}"));
    let model = out.join("model.safetensors");
    Engine::load(&model, None, &candle_core::Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
    Some(step)
}

/// Waits until `ready` or 120 s, polling often.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_micros(300));
    }
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.to_string_lossy().contains(".tmp-")).collect())
        .unwrap_or_default()
}

#[test]
fn killing_train_at_any_moment_leaves_a_checkpoint_that_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = add().args(["synth", "--count", "4", "--size", "65x129", "--out"]).arg(&data).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("run");
    let steps = 12;
    // moments: right at the start, while a checkpoint is being written, and between steps
    let mut last = None;
    for moment in ["start", "mid-write", "after 150 ms", "mid-write", "after 40 ms"] {
        let mut child = train(&data, &out, steps, last.is_some()).spawn().unwrap();
        match moment {
            "start" => std::thread::sleep(Duration::from_millis(20)),
            "mid-write" => {
                let seen = Instant::now();
                while temp_files(&out).is_empty() && seen.elapsed() < Duration::from_secs(60) {
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            _ => {
                wait_for("a newer checkpoint", || check_run(&out) > last || child.try_wait().unwrap().is_some());
                let ms = moment.trim_start_matches("after ").trim_end_matches(" ms").parse().unwrap();
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let now = check_run(&out);
        assert!(now >= last, "{moment}: the checkpoint went back from {last:?} to {now:?}");
        last = now;
    }
    assert!(last.is_some(), "some checkpoint was written between the kills");
    let o = train(&data, &out, steps, true).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(check_run(&out), Some(steps));
    assert_eq!(temp_files(&out), Vec::<PathBuf>::new(), "the resumed run cleared the killed runs' temp files");
    let log = std::fs::read_to_string(out.join("train_log.csv")).unwrap();
    let rows: Vec<usize> = log.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(rows, (0..steps).collect::<Vec<_>>(), "one log row per step, none lost or repeated");
}

#[test]
fn a_failing_write_leaves_neither_a_final_file_nor_a_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.safetensors");
    let r = add_studio::fsutil::atomic_write_with(&p, true, |f| {
        use std::io::Write;
        f.write_all(&vec![7u8; 1 << 20])?; // half of what was meant, then the disk is full
        Err(std::io::Error::from_raw_os_error(28)) // ENOSPC
    });
    assert!(r.is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
}

/// Runs `add` with a file-size limit, the way a nearly full disk fails writes (EFBIG instead
/// of ENOSPC, the same path through our code). Linux and macOS shells have `ulimit -f`.
#[cfg(unix)]
fn add_on_a_full_disk(args: &[&str], cwd: &Path, kib: u32) -> std::process::Output {
    let script = format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\"");
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_add"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn a_full_disk_while_importing_or_exporting_leaves_no_half_file() {
    let dir = tempfile::tempdir().unwrap();
    let refs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference");
    let pth = refs.join("add2.pth");
    let card = refs.join("add2.json");
    // import: the safetensors (about 10 MB) does not fit in 1 MiB
    let o = add_on_a_full_disk(
        &["import", pth.to_str().unwrap(), "--arch", card.to_str().unwrap(), "-o", "add2.safetensors"],
        dir.path(),
        1024,
    );
    let t = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("add2.safetensors") && t.contains("cannot write"), "{t}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // infer: masks, confidence maps and records of some 100 KiB do not fit in 2 blocks
    let img = dir.path().join("street.png");
    street_scene(320, 192).0.save(&img).unwrap();
    let o = add_on_a_full_disk(
        &["infer", "street.png", "--preset", "add-2", "--filters", "4", "--device", "cpu", "--analysis", "-o", "out"],
        dir.path(),
        2,
    );
    let t = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("street.png") && t.contains("cannot write"), "{t}");
    for f in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.starts_with('.'), "temp file left: {name}");
        if name.ends_with(".png") {
            image::open(&f).unwrap_or_else(|e| panic!("{name} is half-written: {e}"));
        } else {
            // results.jsonl holds one record a line (none here: the only image failed)
            let text = std::fs::read_to_string(&f).unwrap();
            let records: Vec<&str> = if name.ends_with(".jsonl") { text.lines().collect() } else { vec![&text] };
            for r in records {
                serde_json::from_str::<serde_json::Value>(r).unwrap_or_else(|e| panic!("{name} is half-written: {e}"));
            }
        }
    }
}
