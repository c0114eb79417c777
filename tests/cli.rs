//! The `add` binary end to end: import a reference checkpoint, inspect it, run images.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn add(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_add")).args(args).output().expect("run add")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference").join(name).display().to_string()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn import(dir: &Path) -> PathBuf {
    let out = dir.join("add2.safetensors");
    let o = add(&[
        "import",
        &fixture("add2.pth"),
        "--arch",
        &fixture("add2.json"),
        "--edm",
        &fixture("add2_edm.pth"),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    out
}

#[test]
fn import_info_infer() {
    let dir = tempfile::tempdir().unwrap();
    let model = import(dir.path());
    // no overwrite without --force
    let o = add(&["import", &fixture("add2.pth"), "--arch", &fixture("add2.json"), "-o", model.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("--force"), "{}", text(&o));

    let o = add(&["info", "--model", model.to_str().unwrap(), "--size", "65x97"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("exits at cells [5, 11]"), "{}", text(&o));

    let good = dir.path().join("street.png");
    image::RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, 90])).save(&good).unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let out = dir.path().join("out");
    let o = add(&[
        "infer",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--policy",
        "edm:1e9",
        "--analysis",
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    let t = text(&o);
    assert!(!o.status.success(), "a bad image must make the run fail at the end: {t}");
    assert!(t.contains("broken.png") && t.contains("1 of 2 image(s) failed"), "{t}");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("street.json")).unwrap()).unwrap();
    assert_eq!(rec["chosen_exit"], 1, "exits count from 1");
    assert_eq!(rec["exits"].as_array().unwrap().len(), 2, "analysis mode computes every exit");
    for k in 0..2 {
        let mask = image::open(out.join(format!("street_exit{}.png", k + 1))).unwrap();
        assert_eq!((mask.width(), mask.height()), (120, 80));
    }
    assert_eq!(std::fs::read_to_string(out.join("results.jsonl")).unwrap().lines().count(), 1);
}

#[test]
fn bad_models_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, vec![0xffu8; 64]).unwrap();
    let o = add(&["info", "--model", junk.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("junk.safetensors"), "{}", text(&o));

    // a checkpoint that does not fit the card: refused, and nothing written
    let out = dir.path().join("wrong.safetensors");
    let o = add(&["import", &fixture("autodeeplab.pth"), "--arch", &fixture("add2.json"), "-o", out.to_str().unwrap()]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("missing") && t.contains("autodeeplab.pth"), "{t}");
    assert!(!out.exists());

    if !cfg!(feature = "cuda") {
        let img = dir.path().join("x.png");
        image::RgbImage::new(70, 70).save(&img).unwrap();
        let o = add(&[
            "infer",
            img.to_str().unwrap(),
            "--preset",
            "add-2",
            "--filters",
            "4",
            "--device",
            "cuda:0",
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        assert!(!o.status.success() && text(&o).contains("--features cuda"), "{}", text(&o));
    }
}

#[test]
fn parity_and_device_names() {
    let o = add(&["parity", "--preset", "add-3", "--filters", "4", "--size", "65x97", "--devices", "cpu,cpu"]);
    assert!(o.status.success() && text(&o).contains("parity ok: worst relative L2 error 0.000e0"), "{}", text(&o));
    let o = add(&["parity", "--devices", "cpu"]);
    assert!(!o.status.success() && text(&o).contains("expected two devices"), "{}", text(&o));
    let o = add(&["info", "--preset", "add-2", "--filters", "4", "--size", "65x97", "--device", "cpu"]);
    assert!(o.status.success() && text(&o).contains("device: CPU ("), "{}", text(&o));
}

#[test]
fn sizes_are_checked_and_bench_takes_a_list() {
    let o = add(&["info", "--preset", "add-2", "--filters", "4", "--size", "65x9a"]);
    assert!(!o.status.success() && text(&o).contains("size `65x9a`: `9a` is not a whole number"), "{}", text(&o));
    // two sizes in one comma-separated value, both measured
    let o = add(&["bench", "--preset", "add-2", "--filters", "2", "--size", "65x97,97x129", "--reps", "1"]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("65x97") && t.contains("97x129"), "{t}");
}

#[test]
fn bench_breaks_an_answer_into_its_parts() {
    let o = add(&[
        "bench",
        "--preset",
        "add-2",
        "--filters",
        "2",
        "--size",
        "65x97",
        "--reps",
        "1",
        "--breakdown",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(rows.len(), 2, "one row per exit of add-2");
    for r in &rows {
        let p = &r["parts_ms"];
        let part = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
        assert!(part("stem") > 0.0 && part("cells") > 0.0 && part("head") > 0.0 && part("maps") > 0.0, "{r}");
        assert!(part("stem") + part("cells") + part("head") + part("maps") <= part("total") * 1.05, "{r}");
    }
}

#[test]
fn infer_on_a_folder_runs_its_images_not_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("gallery");
    std::fs::create_dir(&folder).unwrap();
    let run = |folder: &Path| {
        let out = dir.path().join("out");
        let o = add(&[
            "infer",
            folder.to_str().unwrap(),
            "--preset",
            "add-2",
            "--filters",
            "2",
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        (o, out)
    };
    let (o, _) = run(&folder);
    assert!(!o.status.success() && text(&o).contains("gallery: no images in this folder"), "{}", text(&o));
    image::RgbImage::new(70, 70).save(folder.join("scene_00.png")).unwrap();
    image::GrayImage::new(70, 70).save(folder.join("scene_00_label.png")).unwrap();
    let (o, out) = run(&folder);
    assert!(o.status.success(), "{}", text(&o));
    let lines = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 1, "the label image is no input: {lines}");
    assert!(lines.contains("scene_00.png"), "{lines}");
}
