//! `add train --class-weights --nesterov` (the reference's distributed recipe on our CPU
//! trainer): the weights are counted from the train labels by the reference's formula and kept
//! in the checkpoint, and a paused, resumed run equals an uninterrupted one.

use std::path::Path;
use std::process::Command;

use add_studio::data::datasets::{OnBad, cityscapes};
use add_studio::data::synth::writer::{DatasetPlan, write_dataset};
use add_studio::network::checkpoint::{self, TensorFile};

fn add(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_add")).args(args).output().expect("run add");
    assert!(out.status.success(), "add {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn train(data: &Path, out: &Path, extra: &[&str]) {
    let base = [
        "train",
        "--arch",
        "add-2",
        "--filters",
        "2",
        "--head-width",
        "16",
        "--stem-width",
        "8",
        "--data",
        data.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--steps",
        "3",
        "--batch",
        "2",
        "--crop",
        "65x97",
        "--checkpoint-every",
        "1",
        "--class-weights",
        "--nesterov",
        "--device",
        "cpu",
    ];
    add(&[&base[..], extra].concat());
}

fn state(run: &Path) -> serde_json::Value {
    let f = TensorFile::read(&run.join("checkpoint.safetensors")).unwrap();
    serde_json::from_str(&f.metadata["add_studio.train_state"]).unwrap()
}

#[test]
fn class_weights_follow_the_labels_and_resume_is_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let plan = DatasetPlan {
        out: data.clone(),
        count: 4,
        width: 128,
        height: 96,
        seed: 5,
        val_fraction: 0.0,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();

    let (straight, paused) = (tmp.path().join("a"), tmp.path().join("b"));
    train(&data, &straight, &[]);
    train(&data, &paused, &["--until", "1"]);
    let after_one = TensorFile::read(&paused.join("model.safetensors")).unwrap();
    train(&data, &paused, &["--resume"]);

    // the weights in the checkpoint are 1 / ln(1.02 + frequency) of the train labels' pixels
    let ds = cityscapes::open(&data, "train", OnBad::Fail).unwrap();
    let mut counts = [0u64; 19];
    for i in 0..ds.len() {
        for &v in ds.load(i).unwrap().label.unwrap().as_raw() {
            if v < 19 {
                counts[v as usize] += 1;
            }
        }
    }
    let total = counts.iter().sum::<u64>() as f64;
    let config = &state(&paused)["config"];
    assert_eq!(config["nesterov"], true);
    let weights: Vec<f64> = config["class_weights"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(weights.len(), 19);
    for (k, w) in weights.iter().enumerate() {
        let expected = 1.0 / (1.02 + counts[k] as f64 / total).ln();
        assert!((w - expected).abs() < 1e-4 * expected, "class {k}: {w} against {expected}");
    }
    assert!(weights.iter().any(|&w| w > 40.0) && weights.iter().any(|&w| w < 10.0), "{weights:?}");
    assert_eq!(state(&straight)["config"], *config);

    let (a, b) = (
        TensorFile::read(&straight.join("model.safetensors")).unwrap(),
        TensorFile::read(&paused.join("model.safetensors")).unwrap(),
    );
    let diff = |x: &candle_core::Tensor, y: &candle_core::Tensor| {
        (x - y).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    };
    for (name, t) in &a.tensors {
        let d = diff(t, &b.tensors[name]);
        assert!(d <= 1e-6, "{name}: resumed weights differ by {d}");
    }
    // ... and both trained: the two steps after the pause moved (almost) every convolution
    let convs: Vec<&String> = a.tensors.keys().filter(|n| n.ends_with("weight") && a.tensors[*n].rank() == 4).collect();
    let moved = convs.iter().filter(|n| diff(&b.tensors[**n], &after_one.tensors[**n]) > 0.0).count();
    assert!(moved * 10 >= convs.len() * 9, "the resumed steps moved {moved} of {} convolutions", convs.len());
}

#[test]
fn add_card_writes_the_card_training_builds_and_keeps_existing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("card.json");
    let o = out.to_str().unwrap();
    add(&["card", "--arch", "add-3", "--filters", "8", "--stem-width", "24", "--head-width", "64", "-o", o]);
    let card = add_studio::network::ArchCard::load(&out).unwrap();
    assert_eq!((card.f, card.stem.width, card.stem.out, card.head.width), (8, 24, 48, 64));
    assert_eq!(card.exits, vec![3, 7]);
    let again =
        Command::new(env!("CARGO_BIN_EXE_add")).args(["card", "--arch", "autodeeplab", "-o", o]).output().unwrap();
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("card.json exists: pass --force"), "{err}");
    assert_eq!(add_studio::network::ArchCard::load(&out).unwrap(), card, "the existing card was replaced");
    let bad =
        Command::new(env!("CARGO_BIN_EXE_add")).args(["card", "--arch", "add-9", "-o", o, "--force"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("add-9"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// A pipeline folder whose two models were trained by the PyTorch trainer: an unfinished one is
/// refused by name, finished ones are taken as they are (no `add train` run, no checkpoint) and
/// the rest of the pipeline runs on them; the model card names the trainer.
#[test]
fn the_pipeline_takes_over_from_models_trained_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, ship) = (tmp.path().join("pipe"), tmp.path().join("models"));
    let trained = |complete: bool| {
        for (run, arch) in [("add", "add-3"), ("autodeeplab", "autodeeplab")] {
            let card = add_studio::train::shape::Shape {
                arch: arch.into(),
                filters: 2,
                head_width: Some(16),
                stem_width: Some(8),
            }
            .card()
            .unwrap();
            let tensors = add_studio::network::init::random_tensors(&card, 7).unwrap();
            std::fs::create_dir_all(out.join(run)).unwrap();
            let meta = format!(
                r#"{{"trainer":"add_torch (pytorch test)","step":{s},"steps":9,"complete":{complete},"images_seen":36,"device":"cpu","recipe":{{"batch":4}}}}"#,
                s = if complete { 9 } else { 4 }
            );
            checkpoint::save_with_metadata(
                &out.join(run).join("model.safetensors"),
                &card,
                &tensors,
                std::collections::HashMap::from([("add_studio.trained".to_string(), meta)]),
            )
            .unwrap();
            std::fs::copy(tmp.path().join("log.csv"), out.join(run).join("train_log.csv")).unwrap();
        }
    };
    std::fs::write(
        tmp.path().join("log.csv"),
        "step,loss,lr,images_per_s,data_s,forward_s,backward_s,update_s,elapsed_s\n0,3.0,0.05,4.0,0.1,0.2,0.3,0.1,0.7\n",
    )
    .unwrap();
    let pipeline = || {
        Command::new(env!("CARGO_BIN_EXE_add"))
            .args(["pipeline", "--seed", "4", "--scenes", "10", "--filters", "2", "--head-width", "16"])
            .args(["--stem-width", "8", "--steps", "9", "--edm-epochs", "1", "--edm-channels", "16", "--device", "cpu"])
            .arg("--out")
            .arg(&out)
            .arg("--ship")
            .arg(&ship)
            .output()
            .unwrap()
    };
    trained(false);
    let o = pipeline();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("stopped at step 4 of 9; finish it there first"), "{err}");
    assert!(err.contains("add/model.safetensors"), "{err}");
    trained(true);
    let o = pipeline();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    assert_eq!(text.matches("trained by add_torch (pytorch test) (9 steps): using it as it is").count(), 2, "{text}");
    assert!(!out.join("add/checkpoint.safetensors").exists(), "add train ran over the PyTorch model");
    let card = std::fs::read_to_string(ship.join("MODEL_CARD.md")).unwrap();
    assert!(card.contains("- ADD: 9 steps by add_torch (pytorch test) on cpu, 36 images seen"), "{card}");
}
