//! `add bench-app`: the app's responsiveness without a window ([`crate::ui::app_timing`]): when
//! the first exit and each later one are on screen after an image is opened, and the UI
//! thread's time per frame while the models compute.

use crate::data::size::parse_size;
use crate::ui::app_timing::{self, AppTiming, AppTimingJob, ImageTiming};
use crate::ui::frame_times::spread;
use std::path::PathBuf;

/// Options of `add bench-app`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchAppArgs {
    /// Images to open, in order: files, or folders (their images in name order).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// Passes over the images (the first image of the first pass is the cold start).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    #[command(flatten)]
    pub models: super::app::ModelChoiceArgs,
    /// Compute and show every exit, not only the ones the policy reaches.
    #[arg(long)]
    pub analysis: bool,
    /// Longest image side the network runs at (the app's default is 1024; 2049 runs a
    /// 1025x2049 image at full size).
    #[arg(long, default_value_t = 1024)]
    pub max_side: usize,
    /// Window size as HEIGHTxWIDTH.
    #[arg(long, default_value = "1000x1600", value_parser = |s: &str| parse_size("--window", s))]
    pub window: (u32, u32),
    /// Frames per second the window draws while a run streams.
    #[arg(long, default_value_t = 60.0)]
    pub hz: f64,
    /// Print everything measured as one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `add bench-app`.
pub fn run(args: BenchAppArgs) -> anyhow::Result<()> {
    let (h, w) = args.window;
    let job = AppTimingJob {
        images: super::inputs::expand_images(&args.images)?,
        rounds: args.rounds,
        models: args.models.into(),
        analysis: args.analysis,
        max_side: args.max_side,
        window: [w as f32, h as f32],
        hz: args.hz,
    };
    let json = args.json;
    let timing = app_timing::run(&job, &mut |t| {
        if !json {
            eprintln!("add bench-app: {}", one_line(t));
        }
    })?;
    if json {
        println!("{}", serde_json::to_string(&timing)?);
    } else {
        print!("{}", summary(&job, &timing));
    }
    Ok(())
}

/// An image's milestones in one line.
fn one_line(t: &ImageTiming) -> String {
    let exits: Vec<String> =
        t.exits.iter().map(|e| format!("exit {} {:.0}/{:.0}", e.exit + 1, e.computed_ms, e.on_screen_ms)).collect();
    let full = t.full_ms.map(|f| format!(", full {f:.0}")).unwrap_or_default();
    format!(
        "pass {} {}: photo {:.0} ms, {} (engine/on screen ms){full}, done {:.0} ms, {} frames",
        t.round + 1,
        t.image,
        t.photo_ms,
        exits.join(", "),
        t.done_ms,
        t.frame_ms.len()
    )
}

/// The table: per image, the medians of its warm runs (the very first run, the cold start,
/// has its own row); then the UI thread's frame times while computing.
pub fn summary(job: &AppTimingJob, timing: &AppTiming) -> String {
    let mut out = String::new();
    let device = timing.runs.first().map_or("-", |t| t.device.as_str());
    out += &format!(
        "App timing on {device}: models ready in {:.1} s; {}; window {}x{} at {} Hz\n\n",
        timing.load_s,
        if job.analysis { "analysis mode (every exit)" } else { "the policy's exits only" },
        job.window[1],
        job.window[0],
        job.hz
    );
    let mut exits: Vec<(usize, usize)> =
        timing.runs.iter().flat_map(|t| t.exits.iter().map(|e| (e.exit, e.cell))).collect();
    exits.sort();
    exits.dedup();
    let with_full = timing.runs.iter().any(|t| t.full_ms.is_some());
    out += "Milliseconds from opening the image to on screen (the engine's own time to the exit), medians:\n\n";
    out += "| image | runs | input | photo |";
    for (k, cell) in &exits {
        out += &format!(" exit {} (cell {cell}) |", k + 1);
    }
    out += if with_full { " full Auto-DeepLab | all done |\n" } else { " all done |\n" };
    out += &"|---".repeat(4 + exits.len() + 1 + usize::from(with_full));
    out += "|\n";
    // the cold start apart, then each image over its warm runs, in the order first opened
    let mut groups: Vec<(String, Vec<&ImageTiming>)> = Vec::new();
    for (i, t) in timing.runs.iter().enumerate() {
        let name = if i == 0 { format!("{} (cold start)", t.image) } else { t.image.clone() };
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, g)) => g.push(t),
            None => groups.push((name, vec![t])),
        }
    }
    let med = |v: Vec<f64>| spread(&v).0;
    for (name, g) in &groups {
        let input = g[0].input.map_or_else(|| "-".into(), |(w, h)| format!("{h}x{w}"));
        out += &format!("| {name} | {} | {input} | {:.0} |", g.len(), med(g.iter().map(|t| t.photo_ms).collect()));
        for (k, _) in &exits {
            let (eng, scr): (Vec<f64>, Vec<f64>) = g
                .iter()
                .filter_map(|t| t.exits.iter().find(|e| e.exit == *k))
                .map(|e| (e.computed_ms, e.on_screen_ms))
                .unzip();
            out += &if scr.is_empty() { " - |".to_string() } else { format!(" {:.0} ({:.0}) |", med(scr), med(eng)) };
        }
        if with_full {
            out += &format!(" {:.0} |", med(g.iter().filter_map(|t| t.full_ms).collect()));
        }
        out += &format!(" {:.0} |\n", med(g.iter().map(|t| t.done_ms).collect()));
    }
    let frames: Vec<f64> = timing.runs.iter().flat_map(|t| t.frame_ms.iter().copied()).collect();
    let (p50, p99, worst) = spread(&frames);
    let slow = frames.iter().filter(|&&f| f > 16.0).count();
    out += &format!(
        "\nUI thread per frame while computing (ui + tessellation, {} frames): median {p50:.2} ms, p99 {p99:.2} ms, \
         worst {worst:.2} ms; {slow} over 16 ms\n",
        frames.len()
    );
    out
}
