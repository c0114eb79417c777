//! A writer killed with SIGKILL mid-write leaves a hidden `.NAME.tmp-PID-N` file; the next run
//! that writes into the same folders removes it (and never one of a live writer, see fsutil's
//! unit tests).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temps(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().contains(".tmp-") {
                found.push(p);
            }
        }
    }
    found
}

fn synth(out: &Path, count: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_add"));
    c.args(["synth", "--count", count, "--size", "96x160", "--seed", "3", "--out"]).arg(out);
    c
}

#[test]
fn a_rerun_removes_what_a_sigkilled_writer_left() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("data");
    // a temp file whose writer is certainly gone (PIDs stop at 2^22 on Linux), in a folder the
    // rerun writes into, so the test does not depend on when the kill lands
    let city = out.join("leftImg8bit/train");
    std::fs::create_dir_all(&city).unwrap();
    std::fs::write(out.join(".manifest.jsonl.tmp-4194305-0"), b"half").unwrap();
    // and real kills, mid-write, until one leaves a temp file behind (or 20 tries)
    let mut left = 0;
    for attempt in 0..20 {
        let mut child = synth(&out, "400").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_millis(150 + 37 * attempt));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        left = temps(&out).len();
        if left > 1 || t0.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    eprintln!("temp files left by the killed writers: {left}");
    assert!(!temps(&out).is_empty());
    let o = synth(&out, "400").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stale = temps(&out);
    assert!(stale.is_empty(), "stale temp files after the rerun: {stale:?}");
}
