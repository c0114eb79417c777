//! `add import --edm` says that a reference EDM's scores are not comparable with this model's
//! exits, why, and which commands recalibrate or retrain it.

use std::process::Command;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/reference/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn importing_a_reference_edm_warns_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("add2.safetensors");
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["import", &fixture("add2.pth"), "--arch", &fixture("add2.json"), "--edm", &fixture("add2_edm.pth")])
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("add2_edm.pth: a reference EDM's scores are not comparable"), "{err}");
    assert!(err.contains("get_feature") && err.contains("broadcasts (N,1) against (N,)"), "{err}");
    assert!(err.contains(&format!("add eval --model {}", out.display())), "{err}");
    assert!(err.contains(&format!("add train-edm --model {}", out.display())), "{err}");
    // without --edm there is nothing to warn about
    let plain = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["import", &fixture("add2.pth"), "--arch", &fixture("add2.json"), "--force", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("not comparable"));
}
