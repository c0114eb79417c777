//! `add report`: a self-contained page whose numbers are `add eval`'s on the same images, every
//! criterion's section, and every thumbnail it links present; an existing folder is kept.

use std::path::Path;
use std::process::Command;

use add_studio::data::synth::writer::{DatasetPlan, write_dataset};

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
    let data = tmp.path().join("data");
    let plan = DatasetPlan {
        out: data.clone(),
        count: 6,
        width: 160,
        height: 96,
        seed: 11,
        val_fraction: 1.0,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    // copies: `add eval` writes its presets into the model it evaluates
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let (model, baseline) = (tmp.path().join("add.safetensors"), tmp.path().join("autodeeplab.safetensors"));
    std::fs::copy(models.join("add.safetensors"), &model).unwrap();
    std::fs::copy(models.join("autodeeplab.safetensors"), &baseline).unwrap();
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
#[test]
fn the_app_exports_the_report_of_its_dataset_run() {
    use add_studio::jobs::open_set::open_dataset;
    use add_studio::jobs::{Role, WorkerMsg};
    use add_studio::network::checkpoint::TensorFile;
    use add_studio::ui::{Settings, StudioApp};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let plan = DatasetPlan {
        out: data.clone(),
        count: 3,
        width: 160,
        height: 96,
        seed: 12,
        val_fraction: 1.0,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/add.safetensors");
    let card = TensorFile::read(&model).unwrap().card.unwrap();
    let mut app = StudioApp::new(Settings::default(), None, std::sync::Arc::new(|| {}));
    app.set_model_path(Some(model));
    app.set_device("cpu".into());
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card: card.clone(), device: "cpu".into(), banner: None });
    let set = open_dataset(&data, &card.classes).unwrap();
    assert_eq!(set.split.as_deref(), Some("val"));
    app.dataset_mut().start(data.clone(), set, 1024, false);
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
