//! `add bench`: milliseconds per image for the full path and for answering at each exit, with
//! warm-up and medians, the achieved GFLOP/s (2 FLOP per Multi-Add), and the device.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::info::parse_size;
use super::model_arg::ModelArgs;
use crate::engine::{Engine, Policy, RunOptions};
use crate::network::CostTable;

/// Options of `add bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input sizes HxW.
    #[arg(long, default_values_t = ["257x513".to_string(), "513x1025".to_string()])]
    pub size: Vec<String>,
    /// Timed repetitions per measurement (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Median of `xs` (sorted in place).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn time_policy(engine: &Engine, img: &image::RgbImage, policy: Policy, reps: usize) -> anyhow::Result<(f64, u64)> {
    let opts = RunOptions { policy, analysis: false, max_side: u32::MAX, edm_maps: false };
    let cancel = AtomicBool::new(false);
    let mut madds = engine.run(img, &opts, 0, &cancel, &mut |_| {})?.madds;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        madds = engine.run(img, &opts, 0, &cancel, &mut |_| {})?.madds;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok((median(&mut times), madds))
}

/// Runs `add bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let engine = args.model.engine()?;
    let card = engine.card().clone();
    if !args.json {
        println!("{} on {}, {} rep(s) after a warm-up, medians", card.name, engine.device_name(), args.reps);
        println!("size        answer at      ms/image   G Multi-Adds   GFLOP/s");
    }
    for size in &args.size {
        let (h, w) = parse_size(size)?;
        let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
        });
        let table = CostTable::of(engine.net(), h, w);
        for exit in 0..card.num_exits() {
            let (ms, madds) = time_policy(&engine, &img, Policy::FixedExit(exit), args.reps)?;
            let gflops = 2.0 * madds as f64 / (ms * 1e6);
            let label = if exit + 1 == card.num_exits() {
                "full path".to_string()
            } else {
                format!("exit {exit} (cell {})", table.exits[exit].cell)
            };
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "model": card.name, "device": engine.device_name(), "size": [h, w], "exit": exit, "ms": ms, "madds": madds, "gflops": gflops })
                );
            } else {
                println!("{size:<11} {label:<14} {ms:>8.1}   {:>12.2}   {gflops:>7.1}", madds as f64 / 1e9);
            }
        }
    }
    Ok(())
}
