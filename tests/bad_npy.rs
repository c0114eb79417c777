//! Bad `.npy` files (the reference search's outputs) through the library, the `add` binary
//! and the app's open-history path: each is read or refused with a message that names it,
//! never a panic. The corpus is tests/support/npy.rs; a mutation test damages a good file at
//! every byte.

#[path = "support/npy.rs"]
mod npy_corpus;
mod support;

use std::path::Path;
use std::process::Command;

use add_studio::search::npy;
use add_studio::search::reference::{import_search, read_betas, read_genotype, read_path};
use support::{Case, judge};

/// Reads a case with the reader its name asks for; the number of values it holds.
fn read(path: &Path) -> Result<usize, String> {
    let name = path.file_name().unwrap().to_string_lossy();
    let r = if name.starts_with("betas_") {
        read_betas(path).map(|b| b.len() * 12)
    } else if name.starts_with("path_") {
        read_path(path).map(|p| p.len())
    } else if name.starts_with("genotype_") {
        read_genotype(path).map(|g| g.len())
    } else {
        npy::read(path).map(|(_, v)| v.len())
    };
    r.map_err(|e| e.to_string())
}

fn judge_case(c: &Case) -> Option<String> {
    let result =
        std::panic::catch_unwind(|| read(&c.path)).unwrap_or_else(|_| Err(format!("{}: PANICKED", c.path.display())));
    judge(c, result, |n| (*n as u32, 0))
}

#[test]
fn npy_files_load_or_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = npy_corpus::corpus(dir.path());
    assert!(corpus.cases.len() >= 30);
    let problems: Vec<String> = corpus.cases.iter().filter_map(judge_case).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// A reference experiment folder with one epoch, `betas` as its betas file.
fn experiment(dir: &Path, betas: &[u8], miou: &str) {
    let e = dir.join("0_eval");
    std::fs::create_dir_all(&e).unwrap();
    std::fs::write(e.join("betas.npy"), betas).unwrap();
    let path = npy_corpus::npy("{'descr': '|u1', 'fortran_order': False, 'shape': (12,), }", &[1; 12]);
    std::fs::write(e.join("network_path.npy"), path).unwrap();
    std::fs::write(e.join("miou.txt"), miou).unwrap();
}

#[test]
fn a_bad_experiment_folder_is_refused_by_the_binary_and_the_app_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let good = npy_corpus::good_betas();
    experiment(tmp.path(), &good[..300], "0.41");
    let e = import_search(tmp.path(), &[5, 11]).unwrap_err().to_string();
    assert!(e.contains("0_eval") && e.contains("betas.npy") && e.contains("needs 576 bytes"), "{e}");
    // the app's open-history path says the same, as a note
    let x = add_studio::ui::extras::history_extras(tmp.path());
    assert!(x.history.is_none() && x.notes.iter().any(|n| n.contains("betas.npy")), "{:?}", x.notes);
    // the binary: exit status 1, no panic
    let out = tmp.path().join("arch.json");
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["card", "--arch", "add-2", "--reference-search"])
        .arg(tmp.path())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("betas.npy") && !err.contains("panicked") && !out.exists(), "{err}");
    // a miou.txt that is not a number
    experiment(tmp.path(), &good, "tensor(0.41)");
    let e = import_search(tmp.path(), &[5, 11]).unwrap_err().to_string();
    assert!(e.contains("miou.txt") && e.contains("not a number"), "{e}");
}

/// Every byte of a good betas file set to a few values, and every cut: read or refused by
/// name, never a panic.
#[test]
fn a_betas_file_damaged_at_every_byte_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let good = npy_corpus::good_betas();
    let p = tmp.path().join("betas_mutant.npy");
    let mut outcomes = (0usize, 0usize);
    let mut check = |bytes: &[u8], what: String| {
        std::fs::write(&p, bytes).unwrap();
        match std::panic::catch_unwind(|| read(&p)) {
            Ok(Ok(_)) => outcomes.0 += 1,
            Ok(Err(e)) => {
                assert!(e.contains("betas_mutant.npy"), "{what}: {e}");
                outcomes.1 += 1;
            }
            Err(_) => panic!("{what}: the reader panicked"),
        }
    };
    for i in 0..good.len() {
        for v in [0u8, b'9', b')', 0xff] {
            let mut m = good.clone();
            m[i] = v;
            check(&m, format!("byte {i} = {v}"));
        }
    }
    for len in 0..good.len() {
        check(&good[..len], format!("cut at {len}"));
    }
    // data bytes may change freely (still 144 floats, unless they make a NaN); header bytes not
    assert!(outcomes.0 > 1000 && outcomes.1 > 500, "{outcomes:?}");
}
