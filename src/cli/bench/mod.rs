//! `add bench`: milliseconds per image for the full path and for answering at each exit, with
//! warm-up and medians, the achieved GFLOP/s (2 FLOP per Multi-Add) against the CPU's peak, at
//! each thread count; optionally one training step, peak memory, and the PyTorch peer of
//! `benches/peer/torch_peer.py` measured in the same run with the ratio ours / PyTorch.

mod peer;
mod train_step;

use std::time::Instant;

use candle_core::{Device, Tensor};

use super::model_arg::ModelArgs;
use crate::data::size::parse_size;
use crate::engine::prepare::prepare;
use crate::network::{AddNet, BuildMode, CostTable, checkpoint};

pub use peer::Peer;

/// Options of `add bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input sizes HxW, comma-separated or repeated.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = ["257x513".to_string(), "513x1025".to_string()])]
    pub size: Vec<String>,
    /// Thread counts to measure, comma-separated (0 = every core).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub threads: Vec<usize>,
    /// Timed repetitions per measurement (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Time one training step (forward of every exit, backward, SGD) instead of inference.
    #[arg(long)]
    pub train_step: bool,
    /// Batch of the training step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Crop HxW of the training step.
    #[arg(long, default_value = "257x257")]
    pub crop: String,
    /// Only report the peak resident memory of loading the model and one full-path inference
    /// at this size (a fresh process measures nothing else).
    #[arg(long, value_name = "HxW")]
    pub peak_mem: Option<String>,
    /// Python with PyTorch: also time the same network in PyTorch eager, side by side.
    #[arg(long, value_name = "PYTHON")]
    pub peer: Option<String>,
    /// The peer script.
    #[arg(long, default_value = "benches/peer/torch_peer.py")]
    pub peer_script: std::path::PathBuf,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where each answer's time goes, run through the engine as the app and `add infer` run
    /// it: stem, cells, the head's network, and the maps (class, confidence, entropy at image
    /// size), medians per part.
    #[arg(long)]
    pub breakdown: bool,
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

/// Median milliseconds of `f` over `reps` runs after one warm-up, the device synchronised
/// before each clock reading (GPU work is asynchronous).
pub fn time_ms(device: &Device, reps: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    f()?;
    device.synchronize()?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        device.synchronize()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(&mut times))
}

/// This CPU's single-precision peak in GFLOP/s for `threads` cores: AVX2 + FMA does 32 FLOP
/// per cycle per core; the clock is the highest `cpu MHz` in /proc/cpuinfo.
pub fn cpu_peak_gflops(threads: usize) -> Option<f64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz = info
        .lines()
        .filter(|l| l.starts_with("cpu MHz"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
    let fma = info.lines().any(|l| l.starts_with("flags") && l.contains(" avx2") && l.contains(" fma"));
    Some(if fma { 32.0 } else { 8.0 } * mhz / 1e3 * threads as f64)
}

/// The deterministic test image every measurement uses (the peer builds the same one).
pub fn bench_image(h: usize, w: usize) -> image::RgbImage {
    image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    })
}

/// Logits of exit `exit`, running only the cells it needs (what "answering at exit k" costs,
/// without the engine's confidence maps, so that it compares with the peer's forward).
pub fn forward_to(net: &AddNet, x: &Tensor, exit: usize) -> candle_core::Result<Tensor> {
    let cell = net.card.exit_cells()[exit];
    let mut t = net.start(x, false)?;
    for _ in 0..=cell {
        net.step(&mut t, false)?;
    }
    net.exit_logits(exit, &t, false)
}

/// Peak resident memory of this process so far (VmHWM), in MiB.
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse::<f64>().ok()?;
    Some(kb / 1024.0)
}

/// Runs `f` in a rayon pool of `threads` threads (0 = the global pool: every core). Our
/// kernels and candle's GEMM split work over the current pool.
fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    if threads == 0 {
        return Ok(f());
    }
    Ok(rayon::ThreadPoolBuilder::new().num_threads(threads).build()?.install(f))
}

fn thread_count(threads: usize) -> usize {
    if threads == 0 { rayon::current_num_threads() } else { threads }
}

/// Runs `add bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let device = crate::engine::device::select(Some(&args.model.device)).map_err(anyhow::Error::msg)?;
    let (card, tensors) = args.model.weights()?;
    let peer = args.peer.as_ref().map(|py| Peer::new(py, &args.peer_script, &card, &tensors, &device)).transpose()?;
    if let Some(size) = &args.peak_mem {
        return peak_memory(&args, &card, tensors, &device, size, peer.as_ref());
    }
    if args.train_step {
        return train_step::run(&args, &card, &tensors, &device, peer.as_ref());
    }
    let net = checkpoint::build(&card, tensors, &device, BuildMode::Folded)?;
    if args.breakdown {
        return breakdown(&args, crate::engine::Engine::from_net(net, &device));
    }
    if let Some(p) = &peer {
        let err = p.parity(&net, &device)?;
        if args.json {
            println!("{}", serde_json::json!({ "parity_rel_l2": err }));
        } else {
            println!("peer parity: largest relative L2 error over the exits' logits at 129x257 = {err:.2e}");
        }
        anyhow::ensure!(err < 1e-3, "the peer computes a different network (relative error {err:.2e})");
    }
    if !args.json {
        println!(
            "{} on {}, {} rep(s) after a warm-up, medians; network forward only (input prepared)",
            card.name,
            crate::engine::device::name(&device),
            args.reps
        );
        print!("size        threads  answer at          ms/image   G Multi-Adds  GFLOP/s  % peak");
        println!("{}", if peer.is_some() { "   PyTorch ms   ours/PyTorch" } else { "" });
    }
    for size in &args.size {
        let (h, w) = parse_size("--size", size)?;
        let (h, w) = (h as usize, w as usize);
        let x = prepare(&bench_image(h, w), &card.normalization, u32::MAX, &device).map_err(anyhow::Error::msg)?.tensor;
        let table = CostTable::of(&net, h, w);
        for &threads in &args.threads {
            let peer_ms = match &peer {
                Some(p) => p.infer(size, threads, args.reps)?,
                None => Vec::new(),
            };
            for exit in 0..card.num_exits() {
                let (ms, madds) = with_threads(threads, || -> anyhow::Result<(f64, u64)> {
                    crate::network::cost::reset();
                    forward_to(&net, &x, exit)?;
                    let madds = crate::network::cost::executed();
                    Ok((time_ms(&device, args.reps, || Ok(forward_to(&net, &x, exit).map(drop)?))?, madds))
                })??;
                let n = thread_count(threads);
                let gflops = 2.0 * madds as f64 / (ms * 1e6);
                let peak = if device.is_cpu() { cpu_peak_gflops(n) } else { None };
                let theirs = peer_ms.get(exit).copied();
                let label = if exit + 1 == card.num_exits() {
                    "full path".to_string()
                } else {
                    format!("exit {} (cell {})", exit + 1, table.exits[exit].cell)
                };
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "model": card.name, "device": crate::engine::device::name(&device),
                            "size": [h, w], "threads": n, "exit": exit + 1, "ms": ms, "madds": madds, "gflops": gflops,
                            "peak_gflops": peak, "pytorch_ms": theirs, "ratio": theirs.map(|t| ms / t) })
                    );
                } else {
                    let pct = peak.map_or("     -".to_string(), |p| format!("{:>6.1}", 100.0 * gflops / p));
                    let cmp = theirs.map_or(String::new(), |t| format!("   {t:>10.1}   {:>12.2}", ms / t));
                    println!(
                        "{size:<11} {n:>7}  {label:<16} {ms:>10.1}   {:>12.2}  {gflops:>7.1}  {pct}{cmp}",
                        madds as f64 / 1e9
                    );
                }
            }
        }
    }
    Ok(())
}

/// Medians of one answer's parts, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Parts {
    stem: f64,
    cells: f64,
    head: f64,
    maps: f64,
    total: f64,
}

/// One run's parts, from its events: the stem (cell 0 reports it apart), the cells without
/// it, and the answering head split into its network and its maps.
fn parts_of(events: &[crate::engine::RunEvent], total: f64) -> Parts {
    use crate::engine::RunEvent;
    let (mut stem, mut cells, mut head, mut maps) = (0.0, 0.0, 0.0, 0.0);
    for e in events {
        match e {
            RunEvent::CellDone { cell_ms, stem_ms, .. } => {
                let s = stem_ms.unwrap_or(0.0);
                stem += s;
                cells += cell_ms - s;
            }
            RunEvent::Exit(r) => {
                head += r.head_ms.unwrap_or(0.0) - r.maps_ms;
                maps += r.maps_ms;
            }
            _ => {}
        }
    }
    Parts { stem, cells, head, maps, total }
}

/// `--breakdown`: every exit answered through the engine (`exit:K`, the last being the full
/// path), a warm-up run, then `reps` timed runs.
fn breakdown(args: &BenchArgs, engine: crate::engine::Engine) -> anyhow::Result<()> {
    use crate::engine::{Policy, RunOptions};
    use std::sync::atomic::AtomicBool;
    let card = engine.card().clone();
    if !args.json {
        println!(
            "{} on {}, {} rep(s) after a warm-up, medians per part; as the app runs it (maps included)",
            card.name,
            engine.device_name(),
            args.reps
        );
        println!("size        threads  answer at            stem ms  cells ms   head ms   maps ms  total ms");
    }
    for size in &args.size {
        let (h, w) = parse_size("--size", size)?;
        let (h, w) = (h as usize, w as usize);
        let image = bench_image(h, w);
        for &threads in &args.threads {
            for exit in 0..card.num_exits() {
                let opts = RunOptions {
                    policy: Policy::FixedExit(exit),
                    analysis: false,
                    max_side: u32::MAX,
                    edm_maps: false,
                };
                let runs = with_threads(threads, || -> anyhow::Result<Vec<Parts>> {
                    (0..=args.reps.max(1))
                        .map(|_| {
                            let mut events = Vec::new();
                            let s = engine.run(&image, &opts, 0, &AtomicBool::new(false), &mut |e| events.push(e))?;
                            Ok(parts_of(&events, s.total_ms))
                        })
                        .collect()
                })??;
                // the first run is the warm-up
                let med = |f: fn(&Parts) -> f64| median(&mut runs[1..].iter().map(f).collect::<Vec<_>>());
                let p = Parts {
                    stem: med(|p| p.stem),
                    cells: med(|p| p.cells),
                    head: med(|p| p.head),
                    maps: med(|p| p.maps),
                    total: med(|p| p.total),
                };
                let n = thread_count(threads);
                let cell = card.exit_cells()[exit];
                let label = if exit + 1 == card.num_exits() {
                    "full path".to_string()
                } else {
                    format!("exit {} (cell {cell})", exit + 1)
                };
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({ "model": card.name, "device": engine.device_name(), "size": [h, w],
                            "threads": n, "exit": exit + 1, "parts_ms": p })
                    );
                } else {
                    println!(
                        "{size:<11} {n:>7}  {label:<18} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                        p.stem, p.cells, p.head, p.maps, p.total
                    );
                }
            }
        }
    }
    Ok(())
}

/// `--peak-mem`: load, one full-path inference, then this process's high-water mark; the
/// peer does the same in its own process.
fn peak_memory(
    args: &BenchArgs,
    card: &crate::network::ArchCard,
    tensors: std::collections::HashMap<String, Tensor>,
    device: &Device,
    size: &str,
    peer: Option<&Peer>,
) -> anyhow::Result<()> {
    let (h, w) = parse_size("--size", size)?;
    let (h, w) = (h as usize, w as usize);
    let (run, gpu_ours) = gpu_peak_during(device, || -> anyhow::Result<()> {
        let net = checkpoint::build(card, tensors, device, BuildMode::Folded)?;
        let x = prepare(&bench_image(h, w), &card.normalization, u32::MAX, device).map_err(anyhow::Error::msg)?.tensor;
        forward_to(&net, &x, card.num_exits() - 1)?;
        device.synchronize()?;
        Ok(())
    });
    run?;
    let ours = peak_rss_mb().ok_or_else(|| anyhow::anyhow!("/proc/self/status has no VmHWM"))?;
    let (theirs, gpu_theirs) = match peer {
        Some(p) => p.peak_mem(size).map(|(r, g)| (Some(r), g))?,
        None => (None, None),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "model": card.name, "size": [h, w], "peak_rss_mb": ours, "pytorch_peak_rss_mb": theirs,
                "gpu_peak_mb": gpu_ours, "pytorch_gpu_peak_mb": gpu_theirs })
        );
    } else {
        print!("{} at {h}x{w}: peak resident memory {ours:.0} MiB", card.name);
        match theirs {
            Some(t) => println!("; PyTorch {t:.0} MiB (ours/PyTorch {:.2})", ours / t),
            None => println!(),
        }
        if let Some(g) = gpu_ours {
            print!("GPU memory in use at most (beyond the context): {g:.0} MiB");
            match gpu_theirs {
                Some(t) => println!("; PyTorch {t:.0} MiB (ours/PyTorch {:.2})", g / t),
                None => println!(),
            }
        }
    }
    Ok(())
}

/// Runs `f` while a second thread polls the GPU's memory in use every 0.2 ms; returns f's
/// result and the most in use beyond what was before `f`, MiB (None on the CPU). Polled
/// because candle has no allocator statistics; the peer measures the same way.
fn gpu_peak_during<T>(device: &Device, f: impl FnOnce() -> T) -> (T, Option<f64>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(before) = crate::engine::device::gpu_used_mb(device) else {
        return (f(), None);
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let poll = s.spawn(|| {
            let mut peak = before;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(crate::engine::device::gpu_used_mb(device).unwrap_or(peak));
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            peak
        });
        let out = f();
        done.store(true, Ordering::Relaxed);
        let peak = poll.join().unwrap_or(before);
        (out, Some(peak - before))
    })
}
