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
            // a relative path (scripts/test.sh passes one) must survive the trainer's own
            // working directory
            return std::path::absolute(py).map_or(py.clone(), |p| p.display().to_string());
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
    let (dir, data, card_path) = tiny_data_and_card(5);
    let card_arg = card_path.to_str().unwrap();
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
    let (d, name) = worst_weight_difference(&run.join("model.safetensors"), &straight.join("model.safetensors"));
    assert_eq!(d, 0.0, "{name} differs between resumed and uninterrupted runs");

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

/// Eight generated 64x128 scenes of `seed` and a tiny add-3 card: (dir, data, card).
fn tiny_data_and_card(seed: u64) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let plan = DatasetPlan {
        out: data.clone(),
        count: 8,
        width: 128,
        height: 64,
        seed,
        val_fraction: 0.25,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    let card = dir.path().join("card.json");
    add(&[
        "card",
        "--arch",
        "add-3",
        "--filters",
        "4",
        "--head-width",
        "16",
        "--stem-width",
        "8",
        "-o",
        card.to_str().unwrap(),
    ]);
    (dir, data, card)
}

/// The largest difference between two model files' tensors, and the tensor it is in.
fn worst_weight_difference(a: &Path, b: &Path) -> (f32, String) {
    let (a, b) = (TensorFile::read(a).unwrap(), TensorFile::read(b).unwrap());
    assert_eq!(a.tensors.len(), b.tensors.len());
    a.tensors
        .iter()
        .map(|(name, t)| {
            let d = (t - &b.tensors[name]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            (d, name.clone())
        })
        .fold((0.0, String::new()), |worst, x| if x.0 > worst.0 { x } else { worst })
}

fn max_weight_difference(a: &Path, b: &Path) -> f32 {
    worst_weight_difference(a, b).0
}

fn log_column(run: &Path, column: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("train_log.csv")).unwrap();
    let mut lines = text.lines();
    let at = lines.next().unwrap().split(',').position(|c| c == column).expect(column);
    lines.map(|l| l.split(',').nth(at).unwrap().parse().unwrap()).collect()
}

#[test]
#[ignore = "needs PyTorch: scripts/test.sh runs it when $ADD_TORCH_PYTHON or benches/peer/.venv has torch"]
fn the_campaign_schedule_extends_and_continues_exactly_from_a_model_file() {
    let py = torch_python();
    let (dir, data, card) = tiny_data_and_card(6);
    let at = |name: &str| dir.path().join(name);
    let common = |out: &Path, steps: &str| -> Vec<String> {
        [
            "--card",
            card.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--steps",
            steps,
            "--batch",
            "2",
            "--crop",
            "65x97",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--checkpoint-every",
            "1",
            "--schedule",
            "wsd",
            "--warmup",
            "2",
            "--exit-weights",
            "1,1,2",
            "--distill",
            "0.5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let train = |args: Vec<String>, more: &[&str]| {
        let all: Vec<&str> = args.iter().map(String::as_str).chain(more.iter().copied()).collect();
        trainer(&py, &all)
    };
    // uninterrupted: 4 steps
    train(common(&at("straight"), "4"), &[]);
    // extended: 2 steps, then the same run asked for 4 (a stable run's total is no part of its recipe)
    train(common(&at("extended"), "2"), &[]);
    let two = at("two.safetensors");
    std::fs::copy(at("extended/model.safetensors"), &two).unwrap();
    train(common(&at("extended"), "4"), &["--resume"]);
    // a new machine: only the model file and its momentum file survive
    train(common(&at("gone"), "2"), &[]);
    let shipped = at("shipped");
    std::fs::create_dir(&shipped).unwrap();
    std::fs::copy(at("gone/model.safetensors"), shipped.join("add.safetensors")).unwrap();
    std::fs::copy(at("gone/model.optimizer.safetensors"), shipped.join("add.optimizer.safetensors")).unwrap();
    std::fs::remove_dir_all(at("gone")).unwrap();
    let model = shipped.join("add.safetensors");
    train(common(&at("restarted"), "4"), &["--resume-from-model", model.to_str().unwrap()]);

    let end = at("straight/model.safetensors");
    assert!(max_weight_difference(&two, &end) > 0.0, "steps 2..4 trained nothing");
    for run in ["extended", "restarted"] {
        let d = max_weight_difference(&end, &at(&format!("{run}/model.safetensors")));
        assert_eq!(d, 0.0, "{run}: weights differ from the uninterrupted run by {d}");
    }
    for run in ["straight", "extended", "restarted"] {
        let loss = log_column(&at(run), "loss");
        assert!(loss.iter().all(|l| l.is_finite() && *l > 0.0), "{run}: {loss:?}");
    }
    assert_eq!(log_column(&at("restarted"), "step"), [2.0, 3.0], "the restart continues at step 2");
    // warm-up then constant: 0.025, 0.05, 0.05, 0.05
    assert_eq!(log_column(&at("straight"), "lr"), [0.025, 0.05, 0.05, 0.05]);

    // the step and the schedule read back from the model file
    let meta = trained_elsewhere(&end).unwrap().unwrap();
    assert_eq!((meta.step, meta.complete, meta.images_seen), (4, false, 8), "a stable run is never complete");
    assert_eq!(meta.schedule["kind"], "wsd");
    assert_eq!(meta.schedule["warmup"], 2);
    assert!(meta.schedule["decay_from"].is_null());
    assert_eq!(meta.recipe["distill"], 0.5, "our loss option is recorded: {}", meta.recipe);

    // momentum from another step is refused, naming both files
    std::fs::copy(at("extended/model.safetensors"), shipped.join("add.safetensors")).unwrap();
    let all: Vec<String> = common(&at("mixed"), "6");
    let out = Command::new(&py)
        .current_dir(repo().join("pytorch"))
        .args(["-m", "add_torch", "train"])
        .args(&all)
        .args(["--resume-from-model", model.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("momentum of step 2") && err.contains("at step 4"), "{err}");

    // a decay branched off at step 4, on larger crops: complete, falling to zero, the stable run untouched
    let branch = at("branch");
    let mut args = common(&branch, "4");
    let crop = args.iter().position(|a| a == "--crop").unwrap() + 1;
    args[crop] = "65x129".into();
    let text = train(args, &["--branch-from", at("straight").to_str().unwrap(), "--decay-steps", "3"]);
    assert!(text.contains("done"), "{text}");
    let meta = trained_elsewhere(&branch.join("model.safetensors")).unwrap().unwrap();
    assert_eq!((meta.step, meta.steps, meta.complete, meta.images_seen), (7, 7, true, 14), "{meta:?}");
    assert_eq!(meta.schedule["decay_from"], 4);
    let lr = log_column(&branch, "lr");
    assert_eq!(lr.len(), 3);
    assert!(lr[0] == 0.05 && lr[1] < lr[0] && lr[2] < lr[1] && lr[2] > 0.0, "{lr:?}");
    assert_eq!(max_weight_difference(&end, &at("straight/model.safetensors")), 0.0);
}
