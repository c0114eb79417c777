//! The real window under Xvfb: `add app --image IMG --screenshot FILE` opens the app, waits for
//! the image's results, saves a screenshot and exits 0. Needs Xvfb, so `cargo test` reports it as
//! ignored; `scripts/test.sh` installs Xvfb and then runs it with `ADD_REQUIRE_XVFB=1` and
//! `--ignored`. Run that way, an Xvfb that is missing or does not start fails the test.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts Xvfb on a free display; returns it and the display name, or why it could not.
fn xvfb() -> Result<(std::process::Child, String), String> {
    for n in 90..110 {
        if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run Xvfb (apt-get install xvfb, or ./scripts/test.sh as root): {e}"))?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return Ok((child, display));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        return Err(format!("Xvfb {display} did not open its socket within 10 s"));
    }
    Err("no free X display in :90..:109".into())
}

#[test]
#[ignore = "needs Xvfb: ./scripts/test.sh installs it and runs this with ADD_REQUIRE_XVFB=1"]
fn screenshot_of_the_real_window() {
    let (mut x, display) = xvfb().unwrap_or_else(|e| panic!("the real-window test needs Xvfb: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("street.png");
    add_studio::jobs::demo::street_scene(512, 256).0.save(&img).unwrap();
    let shot = dir.path().join("shot.png");
    let out = Command::new(env!("CARGO_BIN_EXE_add"))
        .args(["app", "--device", "cpu", "--image"])
        .arg(&img)
        .arg("--screenshot")
        .arg(&shot)
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .unwrap();
    let _ = x.kill();
    let _ = x.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "add app failed: {stderr}");
    eprintln!("{stderr}");
    let png = image::open(&shot).expect("a PNG screenshot").to_rgb8();
    assert!(png.width() >= 900 && png.height() >= 600, "window size {}x{}", png.width(), png.height());
    // Not a blank frame: many distinct colours (photo, masks, text).
    let mut colours: Vec<[u8; 3]> = png.pixels().step_by(97).map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 200, "only {} colours: blank window?", colours.len());
}
