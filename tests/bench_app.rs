//! `add bench-app`: the app timed without a window. With the demo models, every exit of an
//! analysis run must reach the screen, in order, never before the engine produced it; a policy
//! run shows only the exits the policy reached; frames are drawn while the runs go on; bad input
//! ends with a message naming it, not a hang. No timing is judged here: that is the bench's job.

use add_studio::jobs::demo::street_scene;
use add_studio::ui::ModelChoice;
use add_studio::ui::app_timing::{self, AppTimingJob};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scene(dir: &Path) -> PathBuf {
    let p = dir.join("scene.png");
    street_scene(384, 192).0.save(&p).unwrap();
    p
}

fn job(images: Vec<PathBuf>, policy: &str, analysis: bool) -> AppTimingJob {
    AppTimingJob {
        images,
        rounds: 2,
        models: ModelChoice { device: "cpu".into(), demo: true, policy: Some(policy.into()), ..Default::default() },
        analysis,
        max_side: 1024,
        window: [1200.0, 800.0],
        hz: 60.0,
    }
}

#[test]
fn every_exit_reaches_the_screen_in_order_after_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let timing = app_timing::run(&job(vec![scene(dir.path())], "edm:0.3", true), &mut |_| {}).unwrap();
    assert_eq!(timing.runs.len(), 2, "one run per pass");
    for t in &timing.runs {
        assert_eq!(t.image, "scene.png");
        assert_eq!(t.input, Some((384, 192)), "the size the network ran at");
        let exits: Vec<usize> = t.exits.iter().map(|e| e.exit).collect();
        assert_eq!(exits, [0, 1, 2], "analysis mode draws every exit: {t:?}");
        assert_eq!(t.exits.iter().map(|e| e.cell).collect::<Vec<_>>(), [3, 7, 11]);
        for w in t.exits.windows(2) {
            assert!(w[0].on_screen_ms <= w[1].on_screen_ms && w[0].computed_ms < w[1].computed_ms, "{t:?}");
        }
        for e in &t.exits {
            // the run starts after the image was opened, and a mask is drawn after it exists
            assert!(e.on_screen_ms >= e.computed_ms && e.on_screen_ms >= t.photo_ms, "{e:?} in {t:?}");
        }
        let full = t.full_ms.expect("the baseline's output was drawn");
        assert!(full >= t.exits[0].on_screen_ms && t.done_ms >= full, "{t:?}");
        assert!(!t.frame_ms.is_empty() && t.frame_ms.iter().all(|f| f.is_finite() && *f >= 0.0), "{t:?}");
    }
    let table = add_studio::cli::bench_app::summary(&job(vec![], "edm:0.3", true), &timing);
    assert!(table.contains("| scene.png (cold start) | 1 | 192x384 |"), "{table}");
    assert!(table.contains("| scene.png | 1 | 192x384 |"), "{table}");
    assert!(table.contains("exit 3 (cell 11)") && table.contains("full Auto-DeepLab"), "{table}");
}

#[test]
fn a_policy_run_shows_only_the_exits_it_reached() {
    let dir = tempfile::tempdir().unwrap();
    let timing = app_timing::run(&job(vec![scene(dir.path())], "exit:1", false), &mut |_| {}).unwrap();
    for t in &timing.runs {
        assert_eq!(t.exits.iter().map(|e| e.exit).collect::<Vec<_>>(), [0], "{t:?}");
    }
}

#[test]
fn bad_input_is_named_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.png");
    let e = app_timing::run(&job(vec![missing], "edm:0.3", true), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("nowhere.png") && e.contains("no such image"), "{e}");

    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"not a png").unwrap();
    let e = app_timing::run(&job(vec![broken], "edm:0.3", true), &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("broken.png"), "{e}");

    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["bench-app", "--device", "cpu", "--images"])
        .arg(scene(dir.path()))
        .arg("--model")
        .arg(dir.path().join("no_model.safetensors"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("no_model.safetensors"), "{err}");
}

#[test]
fn the_command_line_prints_json_of_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["bench-app", "--demo", "--analysis", "--rounds", "1", "--json", "--images"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success(), "an empty folder is refused");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no images in this folder"));
    scene(dir.path());
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["bench-app", "--demo", "--analysis", "--rounds", "1", "--json", "--images"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["exits"].as_array().unwrap().len(), 3);
    assert!(v["load_s"].as_f64().is_some());
}
