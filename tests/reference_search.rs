//! The reference search's numpy outputs against what the reference itself decodes.
//!
//! tests/fixtures/reference_search/ was made by scripts/make_search_fixtures.py running the
//! unmodified reference decoding code (`Decoder.viterbi_decode`, `genotype_decode`) on small
//! random betas and alphas; expected.json holds what it decoded.

use std::path::{Path, PathBuf};
use std::process::Command;

use add_studio::network::ArchCard;
use add_studio::search::reference::{HistoryFile, import_search, open_history_dir, reference_card};
use add_studio::search::result::History;
use add_studio::search::trellis::{normalise, viterbi};
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference_search")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap()
}

fn levels(v: &Value) -> Vec<u8> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u8).collect()
}

#[test]
fn betas_have_the_shape_the_reference_allocates() {
    let x = expected();
    assert_eq!(x["betas_shape"], serde_json::json!([12, 4, 3]), "Model_search at B=5, 12 layers");
    assert_eq!(x["alphas_shape"], serde_json::json!([20, 8]), "2+3+4+5+6 edges x 8 ops");
}

#[test]
fn the_history_holds_the_reference_paths_betas_and_miou() {
    let x = expected();
    let h = import_search(&dir().join("experiment"), &[5, 11]).unwrap();
    let r = h.reference.as_ref().unwrap();
    let want = x["epochs"].as_array().unwrap();
    assert_eq!(h.history.epochs.len(), want.len());
    assert_eq!(h.history.exit_cells, vec![5, 11]);
    for (k, (e, w)) in h.history.epochs.iter().zip(want).enumerate() {
        assert_eq!(e.epoch, k + 1);
        assert_eq!(r.epochs[k].folder, w["folder"].as_str().unwrap(), "the _eval folder wins");
        assert_eq!(e.path, levels(&w["path"]), "epoch {k}: the reference's stored path");
        assert_eq!(r.epochs[k].miou, w["miou"].as_f64());
        // our normalisation is the reference's network_space
        let space = w["network_space"].as_array().unwrap();
        for (i, cell) in space.iter().enumerate() {
            for (s, node) in cell.as_array().unwrap().iter().enumerate() {
                for (rate, v) in node.as_array().unwrap().iter().enumerate() {
                    let (ours, theirs) = (e.weights[i][s][rate] as f64, v.as_f64().unwrap());
                    assert!((ours - theirs).abs() < 1e-5, "epoch {k} [{i}][{s}][{rate}]: {ours} vs {theirs}");
                }
            }
        }
        // our Viterbi on the same betas: the reference's path, unless the reference put the
        // last cell at level 0 (it takes any last level; a card cannot put the head there)
        let ours = viterbi(&normalise(&e.beta), &[]);
        if e.path[11] == 0 {
            assert!(!r.epochs[k].viterbi_agrees && ours[11] > 0, "epoch {k}: {ours:?}");
        } else {
            assert_eq!(ours, e.path, "epoch {k}");
            assert!(r.epochs[k].viterbi_agrees);
        }
    }
    let agree = r.epochs.iter().filter(|e| e.viterbi_agrees).count();
    assert_eq!(agree, 3, "the fixture has one epoch that ends at level 0");
}

#[test]
fn the_history_file_reads_as_a_plain_history_and_opens_as_a_folder() {
    let h = import_search(&dir().join("experiment"), &[5, 11]).unwrap();
    let text = serde_json::to_string(&h).unwrap();
    let plain: History = serde_json::from_str(&text).unwrap();
    assert_eq!(plain.epochs, h.history.epochs);
    let back: HistoryFile = serde_json::from_str(&text).unwrap();
    assert_eq!(back.reference, h.reference);
    let opened = open_history_dir(&dir().join("experiment")).unwrap();
    assert_eq!(opened.history.epochs, h.history.epochs);
    let e = open_history_dir(&dir().join("card")).unwrap_err().to_string();
    assert!(e.contains("card") && e.contains("no epoch folders"), "{e}");
}

#[test]
fn the_card_is_what_the_reference_decodes() {
    let x = expected();
    let base = ArchCard::preset("add-2", 8).unwrap();
    let card = reference_card(
        &base,
        Some(&dir().join("card/network_path.npy")),
        Some(&dir().join("card/genotype.npy")),
        Some(&[5]),
        Some(19),
    )
    .unwrap();
    assert_eq!(card.path, levels(&x["card"]["path"]));
    let genotype: Vec<[usize; 2]> = x["card"]["genotype"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| [r[0].as_u64().unwrap() as usize, r[1].as_u64().unwrap() as usize])
        .collect();
    assert_eq!(card.genotype, genotype);
    assert_eq!((card.b, card.f, card.exits.clone(), card.classes.len()), (5, 8, vec![5], 19));
}

#[test]
fn a_card_that_does_not_fit_names_the_file_and_field() {
    let base = ArchCard::preset("add-2", 8).unwrap();
    let path = dir().join("card/network_path.npy");
    // an early exit at the last cell breaks the card's own rule: not from a file
    let e = reference_card(&base, Some(&path), None, Some(&[11]), None).unwrap_err().to_string();
    assert!(e.contains("the card's options") && e.contains("exits[0]"), "{e}");
    // a genotype file that is a path: wrong shape, named
    let e = reference_card(&base, None, Some(&path), None, None).unwrap_err().to_string();
    assert!(e.contains("network_path.npy") && e.contains("[rows, 2]"), "{e}");
    // a path file holding betas: wrong shape, named
    let betas = dir().join("experiment/0_eval/betas.npy");
    let e = reference_card(&base, Some(&betas), None, None, None).unwrap_err().to_string();
    assert!(e.contains("betas.npy") && e.contains("[12]"), "{e}");
    // a genotype whose branch does not exist: the card's own rule, with the file's name
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("genotype_bad.npy");
    let t = candle_core::Tensor::new(&[[0i64, 4], [1, 7], [2, 5], [9, 5]], &candle_core::Device::Cpu).unwrap();
    t.write_npy(&bad).unwrap();
    let e = reference_card(&base, None, Some(&bad), None, None).unwrap_err().to_string();
    assert!(e.contains("genotype_bad.npy") && e.contains("genotype[3]") && e.contains("branch 9"), "{e}");
}

#[test]
fn add_card_writes_the_card_and_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("arch.json");
    let run = |extra: &[&str]| {
        let mut args = vec!["card", "--arch", "add-2", "--filters", "8", "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_add")).args(&args).output().unwrap()
    };
    let exp = dir().join("experiment");
    let genotype = dir().join("card/genotype.npy");
    let o =
        run(&["--reference-search", exp.to_str().unwrap(), "--genotype", genotype.to_str().unwrap(), "--exits", "5"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("4 epochs; our Viterbi gives the reference's path in 3 of them"), "{stdout}");
    let card = ArchCard::load(&out).unwrap();
    let x = expected();
    assert_eq!(card.path, levels(&x["epochs"][3]["path"]), "the last epoch's path");
    let h: HistoryFile =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("search_history.json")).unwrap()).unwrap();
    assert_eq!(h.history.epochs.len(), 4);
    // a second run does not overwrite without --force; a broken file is named
    let o = run(&["--reference-search", exp.to_str().unwrap()]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--force"));
    let np = dir().join("experiment/0_eval/miou.txt");
    let o = run(&["--network-path", np.to_str().unwrap(), "--force"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("miou.txt") && err.contains("numpy"), "{err}");
}

#[test]
fn the_reference_searched_architectures_build() {
    for name in ["searched-baseline-1", "searched-baseline-2", "40-5e-38-lr-1", "40-5e-38-lr-2"] {
        let card = ArchCard::preset(name, 4).unwrap();
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, candle_core::DType::F32, &candle_core::Device::Cpu);
        add_studio::network::AddNet::load(&card, vb, add_studio::network::BuildMode::Unfolded)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!vm.all_vars().is_empty(), "{name}");
    }
}
