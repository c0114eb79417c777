//! Our network against the reference PyTorch network on the same weights and input.
//!
//! The fixtures in tests/fixtures/reference were made by running the public reference code
//! (HankKung/Auto-Dynamic-DeepLab, `modeling/ADD.py`, `modeling/baseline_model.py`) with random
//! weights and randomised BatchNorm statistics, all rounded to f16 and saved as reference-style
//! `torch.save` checkpoints; `<name>_io.safetensors` holds the input and every exit's logits
//! (and the EDM score) that PyTorch computed in float32. `scripts/make_parity_fixtures.py
//! CHECKOUT` makes fixtures of this form from a checkout of the reference (a reconstruction:
//! the code that made these was not kept, so it makes the same files, not the same bytes).

use std::path::PathBuf;

use add_studio::network::checkpoint::{self, TensorFile};
use add_studio::network::{ArchCard, BuildMode, ParamTable};
use candle_core::{Device, Tensor};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference").join(name)
}

fn rel_l2(ours: &Tensor, theirs: &Tensor) -> f64 {
    let diff = (ours - theirs).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
    let norm = theirs.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() as f64;
    (diff / norm).sqrt()
}

fn check_fixture(name: &str, with_edm: bool) {
    let card = ArchCard::load(&fixture(&format!("{name}.json"))).unwrap();
    let mut file = TensorFile::read(&fixture(&format!("{name}.pth"))).unwrap();
    if with_edm {
        let edm = TensorFile::read(&fixture(&format!("{name}_edm.pth"))).unwrap();
        checkpoint::merge_edm(&mut file.tensors, edm, 0).unwrap();
    }
    checkpoint::check_against(&card, name, &file.tensors).unwrap();
    let io = candle_core::safetensors::load(fixture(&format!("{name}_io.safetensors")), &Device::Cpu).unwrap();
    let input = &io["input"];
    for mode in [BuildMode::Unfolded, BuildMode::Folded] {
        let net = checkpoint::build(&card, file.tensors.clone(), &Device::Cpu, mode).unwrap();
        let outs = net.forward_t(input, false).unwrap();
        assert_eq!(outs.len(), card.num_exits());
        for (k, out) in outs.iter().enumerate() {
            let err = rel_l2(out, &io[&format!("exit{k}")]);
            assert!(err <= 1e-4, "{name} {mode:?} exit {k}: relative L2 error {err:e}");
        }
        if with_edm {
            let mut t = net.start(input, false).unwrap();
            for _ in 0..=card.exits[0] {
                net.step(&mut t, false).unwrap();
            }
            let score = net.edm_score(0, t.feature()).unwrap().unwrap();
            let err = rel_l2(&score, &io["edm0"]);
            assert!(err <= 1e-4, "{name} {mode:?} EDM: relative error {err:e}");
        }
    }
}

#[test]
fn add_two_exits_with_edm_matches_reference() {
    check_fixture("add2", true);
}

#[test]
fn dense_with_reduce_adapters_matches_reference() {
    check_fixture("add3_reduce", false);
}

#[test]
fn add4_upsampling_adapters_match_reference() {
    check_fixture("add4", false);
}

#[test]
fn dense_autodeeplab_with_three_exits_matches_reference() {
    check_fixture("dense3", false);
}

/// none, max and avg pooling and skip next to the convolutions; the checkpoint is as train.py
/// saves it, with SGD's momentum buffers under `optimizer` and a numpy float64 `best_pred`,
/// which load without being used.
#[test]
fn none_pool_and_skip_ops_and_a_train_py_checkpoint_match_reference() {
    let card = ArchCard::load(&fixture("ops_mix.json")).unwrap();
    let ops: std::collections::BTreeSet<usize> = card.genotype.iter().map(|r| r[1] as usize).collect();
    assert!([0, 1, 2, 3].iter().all(|o| ops.contains(o)), "{ops:?}");
    check_fixture("ops_mix", false);
}

#[test]
fn plain_autodeeplab_matches_reference() {
    check_fixture("autodeeplab", false);
}

#[test]
fn parameter_count_matches_reference_fact() {
    // the reference ADD network with F=8, B=5, 19 classes, 2-exit path
    let mut card = ArchCard::preset("add-2", 8).unwrap();
    card.edm.kind = add_studio::network::EdmKind::None;
    assert_eq!(ParamTable::of(&card).unwrap().network(), 4_053_555);
}

#[test]
fn mismatched_checkpoint_is_refused_by_name() {
    let card = ArchCard::load(&fixture("add2.json")).unwrap();
    let mut file = TensorFile::read(&fixture("add2.pth")).unwrap();
    file.tensors.remove("cells.3._ops.2.op.1.weight");
    let t = file.tensors.remove("aspp.conv1.weight").unwrap();
    file.tensors.insert("aspp.conv1.weight".into(), t.narrow(0, 0, 10).unwrap());
    file.tensors.insert("extra.weight".into(), Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap());
    let err = checkpoint::check_against(&card, "add2.pth", &file.tensors).unwrap_err().to_string();
    assert!(err.contains("cells.3._ops.2.op.1.weight"), "{err}");
    assert!(err.contains("aspp.conv1.weight: expected [256, 1280, 1, 1], found [10, 1280, 1, 1]"), "{err}");
    assert!(err.contains("extra.weight"), "{err}");
    // the card demands an EDM the checkpoint lacks
    assert!(err.contains("edm.0.conv.weight"), "{err}");
}
