//! The card's own tests: presets, field errors, JSON, files.

use super::*;

fn card() -> ArchCard {
    ArchCard::preset("add-2", 8).unwrap()
}

fn error_of(edit: impl FnOnce(&mut ArchCard)) -> String {
    let mut c = card();
    edit(&mut c);
    // through JSON, as a user's file would arrive
    ArchCard::from_json(&c.to_json()).unwrap_err().to_string()
}

#[test]
fn presets_are_valid_and_round_trip() {
    for name in super::super::presets::PRESET_NAMES {
        let c = ArchCard::preset(name, 20).unwrap();
        assert_eq!(ArchCard::from_json(&c.to_json()).unwrap(), c);
    }
    assert!(ArchCard::preset("add-9", 20).is_err());
}

#[test]
fn errors_name_the_field() {
    let e = error_of(|c| c.path[4] = 0);
    assert!(e.contains("path[4]") && e.contains("jumps from level 2"), "{e}");
    let e = error_of(|c| c.exits = vec![11]);
    assert!(e.contains("exits[0]") && e.contains("before the last cell"), "{e}");
    let e = error_of(|c| c.genotype[8] = [25, 7]);
    assert!(e.contains("genotype[8]") && e.contains("branch 25 does not exist in block 4"), "{e}");
    let e = error_of(|c| c.genotype[3] = [3, 9]);
    assert!(e.contains("genotype[3]") && e.contains("op 9"), "{e}");
    let e = error_of(|c| c.genotype[1] = [0, 4]);
    assert!(e.contains("uses branch 0 twice"), "{e}");
    let e = error_of(|c| {
        c.path.pop();
    });
    assert!(e.contains("`path`") && e.contains("needs 12"), "{e}");
    let e = error_of(|c| c.f = 7);
    assert!(e.contains("`F`"), "{e}");
    let e = error_of(|c| c.low_level_cell = 4);
    assert!(e.contains("low_level_cell"), "{e}");
    let e = error_of(|c| c.classes.truncate(1));
    assert!(e.contains("classes"), "{e}");
    let e = error_of(|c| c.stem.out = 0);
    assert!(e.contains("`stem`") && e.contains("(64, 0)"), "{e}");
}

#[test]
fn unknown_fields_and_bad_json_are_refused() {
    let mut v: serde_json::Value = serde_json::from_str(&card().to_json()).unwrap();
    v["exit_cells"] = serde_json::json!([3]);
    let e = ArchCard::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("exit_cells"), "{e}");
    assert!(ArchCard::from_json("{").is_err());
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    let mut c = card();
    c.path[0] = 3;
    std::fs::write(&p, c.to_json()).unwrap();
    let e = ArchCard::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("path[0]"), "{e}");
    let e = ArchCard::load(&dir.path().join("missing.json")).unwrap_err().to_string();
    assert!(e.contains("missing.json"), "{e}");
}
