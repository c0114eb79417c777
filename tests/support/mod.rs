//! The bad-input corpus, generated rather than collected: every kind of file a user may hand
//! the app by mistake or by malice, each with what must happen to it. The damage is done by
//! rule (cut here, claim this size there) to files made fresh by the encoders, so the corpus
//! was not picked to pass. Shared by the `bad_input*` and `faults` tests.
#![allow(dead_code)] // each test file uses a part

pub mod cards;
pub mod checkpoints;
pub mod images;

use std::path::{Path, PathBuf};

/// What must happen to a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// It loads, with this size (images) or this many tensors (checkpoints).
    Loads(u32, u32),
    /// It is refused; the message names the file and contains this.
    Fails(&'static str),
}

/// One file of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    pub path: PathBuf,
    pub expect: Expect,
}

impl Case {
    pub fn name(&self) -> String {
        self.path.file_name().unwrap().to_string_lossy().into_owned()
    }
}

/// Collects cases written into one folder.
pub struct Corpus {
    pub dir: PathBuf,
    pub cases: Vec<Case>,
}

impl Corpus {
    pub fn new(dir: &Path) -> Corpus {
        std::fs::create_dir_all(dir).unwrap();
        Corpus { dir: dir.to_path_buf(), cases: Vec::new() }
    }

    pub fn add(&mut self, name: &str, bytes: &[u8], expect: Expect) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        self.cases.push(Case { path: path.clone(), expect });
        path
    }
}

/// Deterministic noise (xorshift), so a failure can be replayed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A committed fixture that Rust cannot make (see tests/fixtures/bad_input/README.md).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad_input").join(name)
}

/// Peak resident memory of this process (Linux), in MiB.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

/// Checks that `result` matches `case`: loads with the size given by `size`, or fails with a
/// message naming the file and containing the expected words. Returns a complaint, if any.
pub fn judge<T, E: std::fmt::Display>(
    case: &Case,
    result: Result<T, E>,
    size: impl Fn(&T) -> (u32, u32),
) -> Option<String> {
    match (&case.expect, result) {
        (Expect::Loads(w, h), Ok(v)) if size(&v) == (*w, *h) => None,
        (Expect::Loads(w, h), Ok(v)) => Some(format!("{}: loaded as {:?}, expected {w}x{h}", case.name(), size(&v))),
        (Expect::Loads(..), Err(e)) => Some(format!("{}: expected to load, got: {e}", case.name())),
        (Expect::Fails(_), Ok(v)) => Some(format!("{}: expected an error, loaded as {:?}", case.name(), size(&v))),
        (Expect::Fails(words), Err(e)) => {
            let m = e.to_string();
            (!m.contains(&case.name()) || !m.contains(words))
                .then(|| format!("{}: message should name the file and say `{words}`: {m}", case.name()))
        }
    }
}
