//! The PyTorch trainer (pytorch/add_torch) on a tiny card, on the CPU: two steps, a pause and an
//! exact resume, and the model it writes opens in `add` and gives the same logits at every exit
//! (relative L2 error <= 1e-4).
//!
//! Needs a Python with PyTorch, which CI does not have: the test is ignored by default, and
//! `scripts/test.sh` runs it when it finds one (`$ADD_TORCH_PYTHON`, else
//! `benches/peer/.venv/bin/python`). Asked to run without one, it fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use add_studio::cli::bench::Peer;
use add_studio::data::synth::writer::{DatasetPlan, write_dataset};
use add_studio::network::checkpoint::{self, TensorFile};
use add_studio::network::{ArchCard, BuildMode};
use add_studio::train::provenance::trained_elsewhere;
use candle_core::Device;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python to use, checked to import what the trainer needs.
fn torch_python() -> String {
    let candidates: Vec<String> = std::env::var("ADD_TORCH_PYTHON")
        .ok()
        .into_iter()
        .chain([repo().join("benches/peer/.venv/bin/python").display().to_string()])
        .collect();
    for py in &candidates {
        let ok = Command::new(py)
            .args(["-c", "import torch, numpy, PIL, safetensors"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return py.clone();
        }
    }
    panic!("no Python with torch, numpy, pillow and safetensors among {candidates:?}: set ADD_TORCH_PYTHON");
}

fn add(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_add")).args(args).output().expect("run add");
    assert!(out.status.success(), "add {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn trainer(py: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .current_dir(repo().join("pytorch"))
        .args(["-m", "add_torch", "train"])
        .args(args)
        .output()
        .expect("run the PyTorch trainer");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "add_torch train {args:?} failed:\n{text}");
    text
}

fn log_rows(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("train_log.csv")).unwrap().lines().skip(1).map(String::from).collect()
}

#[test]
#[ignore = "needs PyTorch: scripts/test.sh runs it when $ADD_TORCH_PYTHON or benches/peer/.venv has torch"]
fn a_pytorch_trained_model_opens_in_add_with_the_same_logits() {
    let py = torch_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let plan = DatasetPlan {
        out: data.clone(),
        count: 8,
        width: 128,
        height: 64,
        seed: 5,
        val_fraction: 0.25,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    let card_path = dir.path().join("card.json");
    let card_arg = card_path.to_str().unwrap();
    add(&["card", "--arch", "add-3", "--filters", "4", "--head-width", "16", "--stem-width", "8", "-o", card_arg]);
    let card = ArchCard::load(&card_path).unwrap();

    let run = dir.path().join("run");
    let run_arg = run.to_str().unwrap();
    let common = [
        "--card",
        card_arg,
        "--data",
        data.to_str().unwrap(),
        "--out",
        run_arg,
        "--steps",
        "3",
        "--batch",
        "2",
        "--crop",
        "65x97",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--checkpoint-every",
        "1",
        "--eval-every",
        "3",
        "--eval-images",
        "1",
    ];
    // the initial weights (a pause at step 0), two steps, a pause, then the last step resumed
    trainer(&py, &[&common[..], &["--until", "0"]].concat());
    let init = TensorFile::read(&run.join("model.safetensors")).unwrap().tensors;
    let paused = trainer(&py, &[&common[..], &["--until", "2", "--resume"]].concat());
    assert!(paused.contains("paused: checkpoint at step 2"), "{paused}");
    let meta = trained_elsewhere(&run.join("model.safetensors")).unwrap().expect("provenance in the model");
    assert_eq!((meta.step, meta.steps, meta.complete), (2, 3, false));
    trainer(&py, &[&common[..], &["--resume"]].concat());
    let rows = log_rows(&run);
    assert_eq!(rows.iter().map(|r| r.split(',').next().unwrap()).collect::<Vec<_>>(), ["0", "1", "2"]);
    for r in &rows {
        let loss: f32 = r.split(',').nth(1).unwrap().parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{r}");
    }
    let val = std::fs::read_to_string(run.join("val_log.csv")).unwrap();
    assert_eq!(val.lines().count(), 1 + card.num_exits(), "one row per exit at step 3:\n{val}");

    // an uninterrupted run gives the same weights: resume is exact
    let straight = dir.path().join("straight");
    let mut args = common.to_vec();
    args[5] = straight.to_str().unwrap();
    trainer(&py, &args);
    let (a, b) = (
        TensorFile::read(&run.join("model.safetensors")).unwrap(),
        TensorFile::read(&straight.join("model.safetensors")).unwrap(),
    );
    for (name, t) in &a.tensors {
        let d = (t - &b.tensors[name]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(d, 0.0, "{name} differs between resumed and uninterrupted runs");
    }

    // the model opens in add: card embedded, every tensor checked, complete provenance
    let model = run.join("model.safetensors");
    let file = TensorFile::read(&model).unwrap();
    assert_eq!(file.card.as_ref(), Some(&card));
    checkpoint::check_against(&card, "model", &file.tensors).unwrap();
    let moved = file.tensors.iter().filter(|(n, t)| {
        n.ends_with("weight")
            && (*t - &init[*n]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() > 0.0
    });
    assert!(moved.count() > 10, "training moved almost no weight");
    let meta = trained_elsewhere(&model).unwrap().unwrap();
    assert!(meta.complete && meta.step == 3 && meta.images_seen == 6, "{meta:?}");
    add(&["info", "--model", model.to_str().unwrap(), "--size", "65x129"]);

    // same logits at every exit, ours against PyTorch's on the same weights
    let net = checkpoint::build(&card, file.tensors.clone(), &Device::Cpu, BuildMode::Unfolded).unwrap();
    let peer = Peer::new(&py, &repo().join("benches/peer/torch_peer.py"), &card, &file.tensors, &Device::Cpu).unwrap();
    let err = peer.parity(&net, &Device::Cpu).unwrap();
    assert!(err <= 1e-4, "relative L2 error {err} between add and PyTorch");
}
