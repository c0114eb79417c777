//! `add present`: presenter mode exported without a window. The demo models run two street
//! scenes through the real app and worker; the GIF must hold one frame per step plus the fade
//! frames of every mask, at the size asked, within the size budget (10 MB per 10 s at 1024 px);
//! the PNG slides are one per step; nothing is overwritten without --force and a failed export
//! leaves nothing behind.

use add_studio::jobs::demo::street_scene;
use add_studio::ui::ModelChoice;
use add_studio::ui::present_export::{self, PresentJob};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Per image with the demo models under `edm:0.3` in analysis mode: the photo, 12 cells, 3
/// exits and the full output; the exits and the full output fade in.
const STEPS: usize = 1 + 12 + 3 + 1;
const FADING: usize = 3 + 1;

fn scenes(dir: &Path) -> Vec<PathBuf> {
    [(320, 160), (384, 192)]
        .into_iter()
        .enumerate()
        .map(|(i, (w, h))| {
            let p = dir.join(format!("scene_{i}.png"));
            street_scene(w, h).0.save(&p).unwrap();
            p
        })
        .collect()
}

fn job(images: Vec<PathBuf>, out: PathBuf, size: [u32; 2], fps: u32) -> PresentJob {
    PresentJob {
        images,
        models: ModelChoice { device: "cpu".into(), demo: true, policy: Some("edm:0.3".into()), ..Default::default() },
        analysis: true,
        size,
        fps,
        out,
        force: false,
    }
}

/// (screen width, height, [(left, top, width, height, delay in cs)]) of a GIF.
fn read_gif(path: &Path) -> (u16, u16, Vec<(u16, u16, u16, u16, u16)>) {
    let mut dec = gif::DecodeOptions::new();
    dec.set_color_output(gif::ColorOutput::RGBA);
    let mut dec = dec.read_info(std::fs::File::open(path).unwrap()).unwrap();
    let (w, h) = (dec.width(), dec.height());
    let mut frames = Vec::new();
    while let Some(f) = dec.read_next_frame().unwrap() {
        frames.push((f.left, f.top, f.width, f.height, f.delay));
    }
    (w, h, frames)
}

#[test]
fn the_gif_has_a_frame_per_step_and_fade_and_fits_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let images = scenes(dir.path());
    let out = dir.path().join("talk.gif");
    let fps = 10;
    let done = present_export::run(&job(images, out.clone(), [1024, 576], fps), &mut |_| {}).unwrap();
    assert_eq!(done.steps, 2 * STEPS);
    let fade = (add_studio::ui::present::FADE * fps as f32).ceil() as usize;
    assert_eq!(done.frames, 2 * (STEPS + FADING * fade), "a frame per step, and {fade} per fade");
    let (w, h, frames) = read_gif(&out);
    assert_eq!((w, h), (1024, 576));
    assert_eq!(frames.len(), done.frames);
    assert_eq!((frames[0].0, frames[0].1, frames[0].2, frames[0].3), (0, 0, 1024, 576), "the first is whole");
    assert!(frames.iter().all(|f| f.0 + f.2 <= w && f.1 + f.3 <= h));
    assert!(
        frames[1..].iter().any(|f| u32::from(f.2) * u32::from(f.3) < 1024 * 576 / 4),
        "later ones only what changed"
    );
    let seconds = frames.iter().map(|f| f64::from(f.4) / 100.0).sum::<f64>();
    assert!(
        (seconds - done.seconds).abs() < 0.02 * frames.len() as f64,
        "{seconds} s in the file, {} said",
        done.seconds
    );
    assert!(seconds > 20.0, "two images take their time: {seconds} s");
    let bytes = std::fs::metadata(&out).unwrap().len() as f64;
    let per_10s = bytes / seconds * 10.0;
    assert!(per_10s <= 10e6, "{:.1} MB per 10 s", per_10s / 1e6);
    eprintln!("{:.2} MB for {seconds:.1} s: {:.2} MB per 10 s", bytes / 1e6, per_10s / 1e6);
}

#[test]
fn slides_are_one_png_per_step_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let images = scenes(dir.path());
    let out = dir.path().join("slides");
    let done = present_export::run(&job(images.clone(), out.clone(), [320, 180], 4), &mut |_| {}).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(done.frames, 2 * STEPS);
    assert_eq!(names.len(), 2 * STEPS);
    assert_eq!((names[0].as_str(), names[2 * STEPS - 1].as_str()), ("0001.png", "0034.png"));
    assert_eq!(image::image_dimensions(out.join("0001.png")).unwrap(), (320, 180));
    let err = present_export::run(&job(images.clone(), out.clone(), [320, 180], 4), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    // a missing image is refused up front and the existing slides stay as they were
    let mut bad = job(vec![images[0].clone(), dir.path().join("gone.png")], out.clone(), [320, 180], 4);
    bad.force = true;
    let err = present_export::run(&bad, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("gone.png"), "{err}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2 * STEPS);
    // --force replaces slides, never a file of the user's put beside them
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let mut again = job(images.clone(), out.clone(), [320, 180], 4);
    again.force = true;
    let err = present_export::run(&again, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    std::fs::remove_file(out.join("notes.txt")).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 3, "the two scenes and the slides, no temp folder: {left:?}");
}

#[test]
fn the_command_line_exports_a_folder_of_images() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    scenes(&images);
    let out = dir.path().join("talk.gif");
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["present", "--demo", "--images", images.to_str().unwrap(), "--export", out.to_str().unwrap()])
        .args(["--size", "180x320", "--fps", "4", "--device", "cpu"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("2/2") && said.contains("wrote"), "{said}");
    let (w, h, frames) = read_gif(&out);
    assert_eq!((w, h), (320, 180));
    assert!(frames.len() >= 2, "{} frames", frames.len());
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["present", "--demo", "--images", images.to_str().unwrap(), "--export", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--force"));
}
