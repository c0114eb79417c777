//! Bad input through the library and the `add` binary: every file of the generated corpus
//! (tests/support) is either read correctly or refused with a message that names it and says
//! what was wrong; nothing panics, hangs or allocates gigabytes; checkpoints never run code.

mod support;

use add_studio::data::image_io;
use add_studio::network::ArchCard;
use add_studio::network::checkpoint::TensorFile;
use std::path::Path;
use std::process::{Command, Output};
use support::{Expect, checkpoints, images, judge};

fn add(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_add")).args(args).current_dir(cwd).output().expect("run add")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A refusal, not a crash: exit status 1 (a panic exits with 101, a signal with none).
fn refused(o: &Output) -> bool {
    o.status.code() == Some(1) && !text(o).contains("panicked")
}

fn complain(problems: Vec<String>) {
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn images_load_or_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = images::corpus(dir.path());
    assert!(corpus.cases.len() > 50);
    let problems =
        corpus.cases.iter().filter_map(|c| judge(c, image_io::load_rgb(&c.path), |i| i.dimensions())).collect();
    complain(problems);
}

#[test]
fn bombs_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = images::corpus(dir.path());
    let before = support::peak_rss_mib();
    for c in corpus.cases.iter().filter(|c| c.name().starts_with("bomb")) {
        let e = image_io::load_rgb(&c.path).unwrap_err();
        assert!(matches!(e, image_io::DataError::TooLarge { .. }), "{}: {e}", c.name());
    }
    if let (Some(before), Some(after)) = (before, support::peak_rss_mib()) {
        // the smallest bomb claims 268 Mpx (800 MB as RGB); decoding any would show here
        assert!(after < before + 100, "peak RSS went from {before} to {after} MiB");
    }
}

#[test]
fn checkpoints_load_or_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = checkpoints::corpus(dir.path());
    let problems = corpus
        .cases
        .iter()
        .filter_map(|c| judge(c, TensorFile::read(&c.path), |f| (f.tensors.len() as u32, 0)))
        .collect();
    complain(problems);
}

#[test]
fn cards_load_or_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = support::cards::corpus(dir.path());
    let problems = corpus.cases.iter().filter_map(|c| judge(c, ArchCard::load(&c.path), |_| (0, 0))).collect();
    complain(problems);
}

#[test]
fn a_pickle_that_calls_os_system_runs_nothing() {
    // The fixture's pickle asks, on load, for os.system("touch add_studio_pickle_ran") (run by
    // torch.load(weights_only=False) in the current folder; see tests/fixtures/bad_input).
    let cwd = tempfile::tempdir().unwrap();
    let evil = support::fixture("evil_reduce.pth");
    let marker = cwd.path().join("add_studio_pickle_ran");
    for args in [
        vec!["info", "--model", evil.to_str().unwrap()],
        vec!["import", evil.to_str().unwrap(), "--arch", "add-2", "--filters", "4", "-o", "out.safetensors"],
    ] {
        let o = add(&args, cwd.path());
        let t = text(&o);
        assert!(refused(&o) && t.contains("evil_reduce.pth") && t.contains("`posix.system`"), "{t}");
        assert!(t.contains("nothing in it was run"), "{t}");
    }
    assert!(!marker.exists(), "the pickle's command ran");
    assert!(!cwd.path().join("out.safetensors").exists());
    // and in-process, through the library: refused for the call it would make, by name (no
    // working-directory change: this binary's tests run in parallel)
    let Err(e) = TensorFile::read(&evil) else { panic!("the pickle that calls os.system loaded") };
    let e = format!("{e:#}");
    assert!(
        e.contains("evil_reduce.pth") && e.contains("`posix.system`") && e.contains("nothing in it was run"),
        "{e}"
    );
}

#[test]
fn cli_info_and_import_refuse_bad_weights_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = checkpoints::corpus(&dir.path().join("weights"));
    let cards = support::cards::corpus(&dir.path().join("cards"));
    let mut problems = Vec::new();
    for c in &corpus.cases {
        let Expect::Fails(words) = c.expect else { continue };
        let p = c.path.to_str().unwrap();
        let out = dir.path().join(format!("{}.safetensors", c.name()));
        for args in [
            vec!["info", "--model", p, "--card", cards.cases[0].path.to_str().unwrap()],
            vec!["import", p, "--arch", "add-2", "--filters", "4", "-o", out.to_str().unwrap()],
        ] {
            let o = add(&args, dir.path());
            let t = text(&o);
            if !refused(&o) || !t.contains(&c.name()) || !t.contains(words) {
                problems.push(format!("add {}: {:?} {t}", args[0], o.status));
            }
        }
        if out.exists() {
            problems.push(format!("{}: import wrote {}", c.name(), out.display()));
        }
    }
    for c in &cards.cases {
        let Expect::Fails(words) = c.expect else { continue };
        let o = add(&["info", "--card", c.path.to_str().unwrap()], dir.path());
        let t = text(&o);
        if !refused(&o) || !t.contains(&c.name()) || !t.contains(words) {
            problems.push(format!("add info --card {}: {:?} {t}", c.name(), o.status));
        }
    }
    complain(problems);
}

#[test]
fn weights_that_do_not_fit_the_card_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = checkpoints::corpus(dir.path());
    let ok = corpus.cases.iter().find(|c| c.name() == "ok.safetensors").unwrap();
    // no card anywhere
    let o = add(&["info", "--model", ok.path.to_str().unwrap()], dir.path());
    assert!(refused(&o) && text(&o).contains("ok.safetensors") && text(&o).contains("no architecture card"));
    // a card whose network needs other tensors
    let card = dir.path().join("ok.json");
    std::fs::write(&card, ArchCard::preset("add-2", 4).unwrap().to_json()).unwrap();
    let o = add(&["info", "--model", ok.path.to_str().unwrap()], dir.path());
    let t = text(&o);
    assert!(refused(&o) && t.contains("ok.safetensors") && t.contains("missing") && t.contains("unexpected: w"), "{t}");
}

#[test]
fn cli_infer_runs_every_good_image_and_names_every_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = images::corpus(&dir.path().join("in"));
    let out = dir.path().join("out");
    let o = add(
        &[
            "infer",
            corpus.dir.to_str().unwrap(),
            "--preset",
            "add-2",
            "--filters",
            "4",
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let t = text(&o);
    let good: Vec<_> = corpus.cases.iter().filter(|c| matches!(c.expect, Expect::Loads(..))).collect();
    let bad: Vec<_> = corpus.cases.iter().filter(|c| matches!(c.expect, Expect::Fails(_))).collect();
    assert!(refused(&o), "{t}");
    assert!(t.contains(&format!("{} of {} image(s) failed", bad.len(), corpus.cases.len())), "{t}");
    for c in bad {
        let Expect::Fails(words) = c.expect else { unreachable!() };
        let line = t.lines().find(|l| l.contains(&format!("skipped {}", c.path.display())));
        assert!(line.is_some_and(|l| l.contains(words)), "{}: {line:?}", c.name());
    }
    let records = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(records.lines().count(), good.len(), "{t}");
    for c in good {
        let Expect::Loads(w, h) = c.expect else { unreachable!() };
        let rec = records
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| r["image"].as_str() == c.path.to_str());
        let rec = rec.unwrap_or_else(|| panic!("{}: no record", c.name()));
        assert_eq!((rec["width"].as_u64(), rec["height"].as_u64()), (Some(w.into()), Some(h.into())), "{}", c.name());
    }
}
