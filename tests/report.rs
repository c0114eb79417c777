//! `add report`: a self-contained page whose numbers are `add eval`'s on the same images, every
//! criterion's section, and every thumbnail it links present; an existing folder is kept. Ctrl-C,
//! a cancel flag and the app's Cancel leave no report and no temp folder, and a report in place
//! stays as it was; progress reaches the total.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use add_studio::data::synth::writer::{DatasetPlan, write_dataset};
use add_studio::report::{ReportJob, run};

/// `count` generated labelled scenes (all in the val split) in `dir`.
fn scenes(dir: &Path, count: u64, seed: u64) -> PathBuf {
    let out = dir.join("data");
    let plan = DatasetPlan {
        out: out.clone(),
        count,
        width: 160,
        height: 96,
        seed,
        val_fraction: 1.0,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    out
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(name)
}

/// Names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    v.sort();
    v
}

fn add(args: &[&str], paths: &[(&str, &Path)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_add"));
    c.args(args);
    for (flag, p) in paths {
        c.arg(flag).arg(p);
    }
    c.output().unwrap()
}

#[test]
fn the_report_shows_evals_numbers_every_section_and_its_images() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(tmp.path(), 6, 11);
    // copies: `add eval` writes its presets into the model it evaluates
    let (model, baseline) = (tmp.path().join("add.safetensors"), tmp.path().join("autodeeplab.safetensors"));
    std::fs::copy(shipped("add.safetensors"), &model).unwrap();
    std::fs::copy(shipped("autodeeplab.safetensors"), &baseline).unwrap();
    let (report, eval) = (tmp.path().join("report"), tmp.path().join("eval"));
    let common = [("--model", model.as_path()), ("--baseline", baseline.as_path()), ("--data", data.as_path())];
    let o = add(
        &["report", "--policy", "edm:0.3", "--worst", "2", "--device", "cpu"],
        &[&common[..], &[("-o", report.as_path())]].concat(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = add(&["eval", "--device", "cpu"], &[&common[..], &[("-o", eval.as_path())]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(eval.join("eval.json")).unwrap()).unwrap();
    for (k, e) in ev["exits"].as_array().unwrap().iter().enumerate() {
        let shown = format!("<th>exit {} (cell {})<br>{:.2}</th>", k + 1, e["cell"], e["miou"].as_f64().unwrap());
        assert!(page.contains(&shown), "{shown} not in the page");
    }
    let base = format!(
        "<td class=\"l\">full Auto-DeepLab</td><td></td><td>{:.2}</td>",
        ev["baseline"]["miou"].as_f64().unwrap()
    );
    assert!(page.contains(&base), "{base}");
    for title in [
        "Exited early, but wrong",
        "Lowest mIoU at the chosen exit",
        "Largest disagreement with full Auto-DeepLab",
        "Decision maker most wrong",
    ] {
        assert!(page.contains(title), "{title}");
    }
    assert!(page.contains("<svg") && page.contains("Confusion matrix"));
    // exit rates per difficulty bin: every scene (difficulties 0..1 in the manifest) in one bin
    let table = &page[page.find("Exit rates by scene difficulty").expect("the difficulty table")..];
    let counted: usize = ["0.00 to 0.33", "0.33 to 0.67", "0.67 to 1.00"]
        .iter()
        .map(|bin| {
            let row = &table[table.find(&format!("{bin}</td><td>")).unwrap_or_else(|| panic!("{bin}"))..];
            let n = &row[bin.len() + 9..];
            n[..n.find('<').unwrap()].parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(counted, 6, "each of the 6 scenes in its bin");
    // every linked image exists; the lowest-mIoU section always has its 2 images, each with
    // photo, label, 3 exits, the baseline and 2 EDM-maps
    let links: Vec<&str> = page.split("src=\"images/").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
    assert!(links.len() >= 16, "{} thumbnails", links.len());
    for l in &links {
        assert!(report.join("images").join(l).is_file(), "{l} missing");
    }
    for kind in ["photo", "label", "exit1", "exit2", "exit3", "baseline", "edm1", "edm2"] {
        assert!(links.iter().any(|l| l.ends_with(&format!("_{kind}.png"))), "no {kind} thumbnail");
    }
    // a folder in use is not written over
    let o = add(&["report", "--device", "cpu"], &[&common[..], &[("-o", report.as_path())]].concat());
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not empty; pass --force"));
}

/// The dataset browser's "Export report": after a run over a folder, the app writes the same
/// report for its models, folder and policy, and says where.
/// The app with the shipped model, after a dataset run over `data` (ended before any row:
/// the report runs the folder itself).
fn app_over(data: &Path) -> add_studio::ui::StudioApp {
    use add_studio::jobs::{Role, WorkerMsg};
    let model = shipped("add.safetensors");
    let card = add_studio::network::checkpoint::TensorFile::read(&model).unwrap().card.unwrap();
    let mut app = add_studio::ui::StudioApp::new(Default::default(), None, std::sync::Arc::new(|| {}));
    app.gallery_mut().clear();
    app.set_model_path(Some(model));
    app.set_device("cpu".into());
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card: card.clone(), device: "cpu".into(), banner: None });
    let set = add_studio::jobs::open_set::open_dataset(data, &card.classes).unwrap();
    let job = app.dataset_mut().start(data.to_path_buf(), set, 1024, false);
    app.apply(WorkerMsg::DatasetDone { job_id: job.job_id, cancelled: true });
    app
}

#[test]
fn the_app_exports_the_report_of_its_dataset_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut app = app_over(&scenes(tmp.path(), 3, 12));
    assert_eq!(app.dataset().split.as_deref(), Some("val"));
    let out = tmp.path().join("report");
    app.export_report(out.clone());
    let ctx = eframe::egui::Context::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !app.messages().iter().any(|m| m.text.starts_with("report")) {
        assert!(std::time::Instant::now() < deadline, "no report after 300 s: {:?}", app.messages());
        let _ = ctx.run_ui(Default::default(), |ui| app.ui(ui));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let last = app.messages().last().unwrap().clone();
    assert!(!last.error && last.text.contains("index.html"), "{last:?}");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("Exited early, but wrong"));
}

fn job(data: &Path, out: &Path) -> ReportJob {
    ReportJob {
        model: shipped("add.safetensors"),
        baseline: Some(shipped("autodeeplab.safetensors")),
        data: data.to_path_buf(),
        split: "val".into(),
        policy: Some("edm:0.3".into()),
        worst: 2,
        max_images: 100_000,
        out: out.to_path_buf(),
        force: true,
        device: "cpu".into(),
    }
}

/// Progress counts every image up to the total; a flag set during the pass stops it, and then
/// neither a report nor a temp folder is left, and the report in place is as it was.
#[test]
fn progress_reaches_the_total_and_a_cancel_leaves_the_report_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(tmp.path(), 4, 13);
    let out = tmp.path().join("report");
    let seen = std::sync::Mutex::new(Vec::new());
    let never = AtomicBool::new(false);
    let written = run(job(&data, &out), &never, &|d, t| seen.lock().unwrap().push((d, t))).unwrap();
    assert_eq!(written, Some(out.join("index.html")));
    assert_eq!(*seen.lock().unwrap(), [(1, 4), (2, 4), (3, 4), (4, 4)]);
    let before = std::fs::read(out.join("index.html")).unwrap();
    let images = names(&out.join("images"));

    // cancelled after the second image, with --force over the report in place
    let cancel = AtomicBool::new(false);
    let stop = |d: usize, _| cancel.store(d == 2, Ordering::Relaxed);
    assert_eq!(run(job(&data, &out), &cancel, &stop).unwrap(), None);
    assert_eq!(std::fs::read(out.join("index.html")).unwrap(), before);
    assert_eq!(names(&out.join("images")), images);
    assert_eq!(names(tmp.path()), ["data", "report"], "a temp folder is left");
    // into a new folder: nothing at all
    let fresh = tmp.path().join("fresh");
    cancel.store(true, Ordering::Relaxed);
    assert_eq!(run(job(&data, &fresh), &cancel, &|_, _| {}).unwrap(), None);
    assert_eq!(names(tmp.path()), ["data", "report"]);
}

/// Ctrl-C (SIGINT) on `add report --force` over a report in place: it stops, says so, exits
/// with an error, and the folder is as it was, with no temp folder beside it.
#[test]
fn ctrl_c_stops_add_report_and_keeps_the_folder_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let data = scenes(tmp.path(), 3, 14);
    let out = tmp.path().join("report");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("index.html"), "an earlier report").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["report", "--force", "--device", "cpu", "--model"])
        .arg(shipped("add.safetensors"))
        .arg("--data")
        .arg(&data)
        .arg("-o")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // the temp folder appears once the handler is in place; the flag then stops the pass
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !names(tmp.path()).iter().any(|n| n.starts_with(".report.tmp-")) {
        assert!(std::time::Instant::now() < deadline, "no temp folder after 60 s");
        assert!(child.try_wait().unwrap().is_none(), "add report ended before Ctrl-C");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("interrupted: no report written"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), "an earlier report");
    assert_eq!(names(&out), ["index.html"]);
    assert_eq!(names(tmp.path()), ["data", "report"], "a temp folder is left");
}

/// The browser's report export shows its progress and a Cancel; after Cancel the app says so
/// and no report (nor temp folder) is left.
#[test]
fn the_apps_report_export_can_be_cancelled() {
    use add_studio::ui::view_state::Tab;
    use egui_kittest::kittest::Queryable;
    let tmp = tempfile::tempdir().unwrap();
    // enough images that the pass is still going when Cancel is clicked
    let mut app = app_over(&scenes(tmp.path(), 30, 15));
    app.view_mut().tab = Tab::Dataset;
    let out = tmp.path().join("report");
    app.export_report(out.clone());
    let mut h = egui_kittest::Harness::builder()
        .with_size([1400.0, 900.0])
        .build_ui_state(|ui, app: &mut add_studio::ui::StudioApp| app.ui(ui), app);
    h.run_steps(2);
    assert!(h.query_by_label_contains("report: ").is_some(), "no progress bar");
    h.get_by_label("Cancel report").click();
    h.run_steps(2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while h.state().dataset().report.is_some() {
        assert!(std::time::Instant::now() < deadline, "the report did not stop: {:?}", h.state().messages());
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let last = h.state().messages().last().unwrap().clone();
    assert!(!last.error && last.text.starts_with("report cancelled"), "{last:?}");
    assert_eq!(names(tmp.path()), ["data"]);
    assert!(h.query_by_label("Cancel report").is_none());
}
