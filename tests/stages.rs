//! The stages around training, end to end through the `add` binary on tiny data (seconds
//! each): `train-edm` (the scalar EDM learns its target), `eval` (the mIoU of a model whose
//! answer is known equals the value worked out by hand; the presets it writes into the card
//! read back), `search` from the command line, and `pipeline` on a tiny budget (about 40 s
//! here, 33 of them the BatchNorm calibration's fixed 60 batches per model).

use std::path::{Path, PathBuf};
use std::process::Command;

use add_studio::data::datasets::{OnBad, cityscapes};
use add_studio::data::synth::writer::{DatasetPlan, write_dataset};
use add_studio::engine::{Engine, Policy};
use add_studio::network::checkpoint::{self, TensorFile};
use add_studio::network::{ArchCard, EdmKind};
use candle_core::{Device, Tensor};

/// Runs `add` with `args` (words split at spaces) and then each `(flag, path)`; returns its
/// stdout and stderr, failing the test when it fails.
fn add(args: &str, paths: &[(&str, &PathBuf)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_add"));
    cmd.args(args.split_whitespace());
    for (flag, path) in paths {
        cmd.arg(flag).arg(path);
    }
    let o = cmd.output().expect("run add");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "add {args} {paths:?}: {text}");
    text
}

/// `count` generated scenes of 128x64, `val_fraction` of them in the val split.
fn scenes(dir: &Path, count: u64, val_fraction: f32) {
    let plan = DatasetPlan {
        out: dir.to_path_buf(),
        count,
        width: 128,
        height: 64,
        seed: 4,
        val_fraction,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
}

fn tiny_card(edm: EdmKind) -> ArchCard {
    let mut card = ArchCard::preset("add-2", 2).unwrap();
    card.head.width = 16;
    card.head.low_level_width = 8;
    card.edm.kind = edm;
    card.edm.channels = 8;
    card
}

/// The scalar EDM's mean |score - entropy| per exit on the val split, from train-edm's report.
fn edm_l1(report: &str) -> Vec<f64> {
    report
        .lines()
        .filter_map(|l| l.split_once("scalar EDM: mean |score - entropy| "))
        .map(|(_, v)| v.trim().parse().unwrap())
        .collect()
}

#[test]
fn train_edm_lowers_the_scalar_edms_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    scenes(&data, 8, 0.5);
    let card = tiny_card(EdmKind::None);
    let model = tmp.path().join("net.safetensors");
    checkpoint::save(&model, &card, &add_studio::network::init::random_tensors(&card, 2).unwrap()).unwrap();
    let l1 = |epochs: &str| {
        let out = tmp.path().join(format!("edm{epochs}.safetensors"));
        let text = add(
            &format!("train-edm --kind scalar --epochs {epochs} --lr 1e-2 --device cpu"),
            &[("--model", &model), ("--data", &data), ("--out", &out)],
        );
        let l1 = edm_l1(&std::fs::read_to_string(out.with_extension("report.md")).unwrap());
        assert_eq!(l1.len(), card.exits.len(), "one line per early exit: {text}");
        let trained = Engine::load(&out, None, &Device::Cpu).unwrap();
        assert_eq!(trained.card().edm.kind, EdmKind::Scalar);
        l1
    };
    let (untrained, trained) = (l1("0"), l1("40"));
    println!("val L1 of the scalar EDM per exit: {untrained:?} untrained, {trained:?} after 40 epochs");
    for (k, (a, b)) in untrained.iter().zip(&trained).enumerate() {
        assert!(b < &(0.5 * a), "exit {k}: val L1 {a} untrained, {b} after 40 epochs");
    }
}

/// Every pixel of a 128x64 label: the left three quarters road (0), the rest sky (10), the
/// top row ignored (255).
fn hand_label() -> image::GrayImage {
    image::GrayImage::from_fn(128, 64, |x, y| {
        image::Luma([if y == 0 {
            255
        } else if x < 96 {
            0
        } else {
            10
        }])
    })
}

/// A model that answers road everywhere at every exit: the classifier's weights are zero and
/// its bias favours class 0, so the logits are the bias at every pixel.
fn road_everywhere(path: &Path) -> ArchCard {
    let card = tiny_card(EdmKind::Scalar);
    let mut t = add_studio::network::init::random_tensors(&card, 3).unwrap();
    let k = card.classes.len();
    let mut classifiers = 0;
    for (name, v) in t.iter_mut() {
        if name.ends_with("_conv.7.weight") {
            *v = v.zeros_like().unwrap();
            classifiers += 1;
        } else if name.ends_with("_conv.7.bias") {
            let mut b = vec![0f32; k];
            b[0] = 5.0;
            *v = Tensor::from_vec(b, k, &Device::Cpu).unwrap();
        }
    }
    assert!(classifiers > 0, "no classifier found by name");
    checkpoint::save(path, &card, &t).unwrap();
    card
}

/// Road everywhere against the hand label: road's IoU is its 96 columns over the 128 counted
/// (the ignored row drops out of both), sky's is 0, no other class appears, so the mIoU is
/// (0.75 + 0) / 2 = 37.5 at every exit. Then the presets eval writes into the card read back.
#[test]
fn eval_measures_a_known_answer_and_writes_the_presets_into_the_card() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    scenes(&data, 3, 1.0);
    let val = cityscapes::open(&data, "val", OnBad::Fail).unwrap();
    assert_eq!(val.len(), 3);
    for sample in &val.samples {
        hand_label().save(sample.label.as_ref().unwrap()).unwrap();
    }
    let model = tmp.path().join("road.safetensors");
    let card = road_everywhere(&model);
    assert!(card.presets.is_empty());
    let out = tmp.path().join("eval");
    add("eval --steps 4 --device cpu", &[("--model", &model), ("--data", &data), ("--out", &out)]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    let exits = json["exits"].as_array().unwrap();
    assert_eq!(exits.len(), card.num_exits());
    for e in exits {
        let miou = e["miou"].as_f64().unwrap();
        assert!((miou - 37.5).abs() < 1e-9, "exit {}: mIoU {miou}, expected 37.5", e["exit"]);
        let iou = e["iou"].as_array().unwrap();
        assert_eq!((iou[0].as_f64(), iou[10].as_f64()), (Some(0.75), Some(0.0)));
        assert_eq!(iou.iter().filter(|v| !v.is_null()).count(), 2, "only road and sky were seen: {iou:?}");
    }

    // the presets eval reported are in the model's card, and they are policies the app can run
    let written = TensorFile::read(&model).unwrap().card.unwrap().presets;
    let reported = json["presets"].as_object().unwrap();
    assert!(written.contains_key("accurate") && written.contains_key("fast"), "{written:?}");
    assert_eq!(written.len(), reported.len());
    for (name, p) in &written {
        assert_eq!(reported[name]["policy"].as_str(), Some(p.policy.as_str()), "{name}");
        assert_eq!(p.miou, Some(37.5), "{name}: every policy has the same answer here");
        p.policy.parse::<Policy>().unwrap_or_else(|e| panic!("{name}: {}: {e}", p.policy));
    }
    let loaded = Engine::load(&model, None, &Device::Cpu).unwrap();
    assert_eq!(&loaded.card().presets, &written, "the engine reads the presets back");
}

#[test]
fn search_from_the_command_line_writes_a_card_and_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    scenes(&data, 6, 0.0);
    let out = tmp.path().join("search");
    add(
        "search --filters 2 --head-width 16 --epochs 2 --warmup 1 --steps-per-epoch 2 --crop 65x97 --batch 2 \
         --device cpu",
        &[("--data", &data), ("--out", &out)],
    );
    let card = ArchCard::from_json(&std::fs::read_to_string(out.join("arch.json")).unwrap()).unwrap();
    card.validate().unwrap();
    assert_eq!(card.num_exits(), 2, "--exits 2 by default: one early exit and the last cell");
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("search_history.json")).unwrap()).unwrap();
    let epochs = history["epochs"].as_array().expect("one record per epoch");
    assert_eq!(epochs.len(), 2);
    // the card's path is the one decoded at the last epoch
    let last_path: Vec<u64> = epochs[1]["path"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(last_path, card.path.iter().map(|&l| u64::from(l)).collect::<Vec<_>>());
}

#[test]
fn a_tiny_pipeline_runs_every_stage_and_a_rerun_redoes_none() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pipe");
    let ship = tmp.path().join("models");
    let run = || {
        add(
            "pipeline --seed 4 --scenes 10 --filters 2 --head-width 16 --stem-width 8 --steps 2 --crop 65x97 --edm-epochs 1 \
             --edm-channels 16 --device cpu",
            &[("--out", &out), ("--ship", &ship)],
        )
    };
    run();
    for f in ["add/calibrated.safetensors", "autodeeplab/calibrated.safetensors", "eval/eval.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let shipped = Engine::load(&ship.join("add.safetensors"), None, &Device::Cpu).unwrap();
    assert_eq!(shipped.card().edm.kind, EdmKind::Both);
    assert!(shipped.card().presets.contains_key("accurate"), "{:?}", shipped.card().presets);
    let baseline = Engine::load(&ship.join("autodeeplab.safetensors"), None, &Device::Cpu).unwrap();
    assert!(baseline.card().exits.is_empty(), "the baseline has one exit");
    // each model ships with the BatchNorm statistics that scored higher on val, as recorded
    let card_md = std::fs::read_to_string(ship.join("MODEL_CARD.md")).unwrap();
    for run in ["add", "autodeeplab"] {
        let choice: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(run).join("bn_choice.json")).unwrap()).unwrap();
        let (before, after) = (choice["trained"].as_array().unwrap(), choice["calibrated"].as_array().unwrap());
        assert_eq!(before.len(), if run == "add" { 2 } else { 1 }, "one mIoU per exit: {choice}");
        let mean = |v: &Vec<serde_json::Value>| v.iter().map(|m| m.as_f64().unwrap()).sum::<f64>() / v.len() as f64;
        let calibrate = choice["calibrate"].as_bool().unwrap();
        assert_eq!(calibrate, mean(after) >= mean(before), "{choice}");
        assert!(card_md.contains(&format!("  - {run}: mIoU per exit")), "{card_md}");
        if run == "autodeeplab" {
            let kept = out.join(run).join(if calibrate { "calibrated.safetensors" } else { "model.safetensors" });
            assert_eq!(std::fs::read(ship.join("autodeeplab.safetensors")).unwrap(), std::fs::read(kept).unwrap());
        }
    }
    let edm = std::fs::read(out.join("add_edm.safetensors")).unwrap();
    let eval = std::fs::read(out.join("eval/eval.json")).unwrap();
    run();
    assert_eq!(std::fs::read(out.join("add_edm.safetensors")).unwrap(), edm, "decision makers retrained");
    assert_eq!(std::fs::read(out.join("eval/eval.json")).unwrap(), eval, "evaluated again");
    // a run folder from before the comparison (no bn_choice.json) keeps the calibrated models
    // its decision makers were trained on, and compares nothing
    for run in ["add", "autodeeplab"] {
        std::fs::remove_file(out.join(run).join("bn_choice.json")).unwrap();
    }
    std::fs::remove_file(ship.join("autodeeplab.safetensors")).unwrap();
    run();
    assert!(!out.join("add/bn_choice.json").exists(), "nothing compared");
    assert_eq!(
        std::fs::read(ship.join("autodeeplab.safetensors")).unwrap(),
        std::fs::read(out.join("autodeeplab/calibrated.safetensors")).unwrap()
    );
    let card_md = std::fs::read_to_string(ship.join("MODEL_CARD.md")).unwrap();
    assert!(card_md.contains("  - autodeeplab: not compared (recomputed statistics kept)"), "{card_md}");
}
