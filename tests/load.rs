//! Load: `add infer` over many images never stops on a bad file and keeps its memory flat.
//! CI runs 50 images (5 bad) and checks that resident memory at 200 images is that at 50; the
//! 5,000-image measurement is ignored by default:
//! `cargo test --release --test load -- --ignored --nocapture` prints resident memory at 100,
//! 1,000 and 5,000 images.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `n` small images into `dir`, every `bad_every`-th one broken in a rotating way;
/// returns the paths of the bad ones.
fn folder(dir: &Path, n: usize, bad_every: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let good = image::RgbImage::from_fn(48, 32, |x, y| image::Rgb([(x * 5) as u8, (y * 7) as u8, 60]));
    let png = support::images::encode(&image::DynamicImage::ImageRgb8(good), image::ImageFormat::Png);
    let mut bad = Vec::new();
    for i in 0..n {
        let p = dir.join(format!("img{i:05}.png"));
        if i % bad_every == bad_every - 1 {
            let bytes = match bad.len() % 5 {
                0 => Vec::new(),
                1 => png[..png.len() / 2].to_vec(),
                2 => support::noise(png.len(), i as u64),
                3 => {
                    let mut b = png.clone();
                    support::images::set_png_size(&mut b, 90_000, 90_000);
                    b
                }
                _ => b"not an image".to_vec(),
            };
            std::fs::write(&p, bytes).unwrap();
            bad.push(p);
        } else {
            std::fs::write(&p, &png).unwrap();
        }
    }
    bad
}

fn infer(input: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_add"));
    c.arg("infer").arg(input).args(["--preset", "add-2", "--filters", "4", "--device", "cpu", "-o"]).arg(out);
    c
}

#[test]
fn fifty_images_with_five_bad_ones_all_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = folder(&dir.path().join("in"), 50, 10);
    let out = dir.path().join("out");
    let o = infer(&dir.path().join("in"), &out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("5 of 50 image(s) failed"), "{err}");
    for b in &bad {
        assert!(err.contains(&format!("skipped {}", b.display())), "{} not named: {err}", b.display());
    }
    let records = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 45);
}

fn rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

fn records_written(out: &Path) -> usize {
    std::fs::read_dir(out)
        .map(|d| d.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))).count())
        .unwrap_or(0)
}

/// Resident memory of `add infer` over `n` images (every `bad_every`-th bad), sampled every
/// 10 ms: `(images done, RSS MiB, seconds)` at the first sample past each of `goals` and at the
/// last sample before the process ended; and the peak.
fn rss_over_a_run(n: usize, bad_every: usize, goals: &[usize]) -> (Vec<(usize, u64, u64)>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let bad = folder(&dir.path().join("in"), n, bad_every);
    let out = dir.path().join("out");
    let mut child = infer(&dir.path().join("in"), &out)
        // with backtraces on, the closing "N of M failed" error loads the debug symbols (about
        // 15 MiB) just before the process ends, where the last sample may fall
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut marks, mut peak) = (Vec::new(), 0);
    let start = Instant::now();
    let mut last_sample = None;
    while child.try_wait().unwrap().is_none() {
        let Some(rss) = rss_mib(child.id()) else { break };
        peak = peak.max(rss);
        let done = records_written(&out);
        last_sample = Some((done, rss, start.elapsed().as_secs()));
        if let Some(&goal) = goals.get(marks.len())
            && done >= goal
        {
            marks.push((done, rss, start.elapsed().as_secs()));
            println!("{done} images: RSS {rss} MiB ({} s)", start.elapsed().as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // the last sample before the process ended: all, or nearly all, images done
    if let Some((done, rss, s)) = last_sample {
        println!("{done} images (last sample): RSS {rss} MiB ({s} s)");
        marks.push((done, rss, s));
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "the bad images make the run fail at the end, not stop it");
    assert_eq!(std::fs::read_to_string(out.join("results.jsonl")).unwrap().lines().count(), n - bad.len());
    println!("peak RSS {peak} MiB over {n} images ({} bad)", bad.len());
    assert_eq!(marks.len(), goals.len() + 1, "a sample past every goal and a last one: {marks:?}");
    (marks, peak)
}

/// The CI version: a leak of 20 KiB or more per image shows over the 150 images after the
/// first 50 (by then the allocator and the thread pools have grown to their working size).
/// Measured on the 2-core CI machine: 88 MiB at 50 and at 198 images, in each of three runs.
#[test]
fn two_hundred_images_keep_memory_flat() {
    let (marks, _) = rss_over_a_run(200, 100, &[50]);
    let ((_, at_50, _), (done, at_end, _)) = (marks[0], marks[1]);
    assert!(done >= 180, "the last sample came {} images before the end: {marks:?}", 200 - done);
    assert!(at_end <= at_50 + 3, "RSS grew from {at_50} MiB at 50 images to {at_end} MiB at {done}: {marks:?}");
}

#[test]
#[ignore = "load measurement: minutes; run by hand"]
fn five_thousand_images_keep_memory_flat() {
    let (marks, _) = rss_over_a_run(5000, 100, &[100, 1000]);
    let (first, last) = (marks[0].1, marks.last().unwrap().1);
    assert!(last <= first + first / 5 + 20, "memory grew from {first} to {last} MiB: {marks:?}");
}
