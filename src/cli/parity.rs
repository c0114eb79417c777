//! `add parity`: the same model and image on two devices (by default the CPU and the first
//! CUDA GPU), every exit's logits compared; fails when one differs by more than `--tol`.

use crate::data::size::parse_size;
use crate::engine::{Engine, device, parity};
use crate::network::ArchCard;

/// Options of `add parity`.
#[derive(Debug, Clone, clap::Args)]
pub struct ParityArgs {
    /// A built-in card (add-2, add-3, add-4, autodeeplab, autodeeplab-dense) with random weights.
    #[arg(long, default_value = "add-3")]
    pub preset: String,
    /// Filter multiplier F for --preset.
    #[arg(long, default_value_t = 20)]
    pub filters: usize,
    /// Seed of the random weights and of the noise image.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Input size HxW.
    #[arg(long, default_value = "257x513")]
    pub size: String,
    /// Reference device, then the device under test.
    #[arg(long, value_delimiter = ',', default_values_t = ["cpu".to_string(), "cuda:0".to_string()])]
    pub devices: Vec<String>,
    /// Largest relative L2 error of an exit's logits that passes.
    #[arg(long, default_value_t = 1e-4)]
    pub tol: f64,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `add parity`.
pub fn run(args: ParityArgs) -> anyhow::Result<()> {
    let (h, w) = parse_size("--size", &args.size)?;
    let (h, w) = (h as usize, w as usize);
    anyhow::ensure!(
        args.devices.len() == 2,
        "--devices: expected two devices, e.g. cpu,cuda:0, got {:?}",
        args.devices
    );
    let card = ArchCard::preset(&args.preset, args.filters)?;
    let engine = |spec: &str| -> anyhow::Result<Engine> {
        let dev = device::select(Some(spec)).map_err(anyhow::Error::msg)?;
        Ok(Engine::random(card.clone(), args.seed, &dev)?)
    };
    let (reference, tested) = (engine(&args.devices[0])?, engine(&args.devices[1])?);
    let (rn, tn) = (reference.device_name(), tested.device_name());
    if !args.json {
        println!("{} F={} at {h}x{w}: {tn} against {rn}", card.name, card.f);
        println!("exit cell   rel L2 error   max |diff|   argmax agree");
    }
    let results = parity::compare(&reference, &tested, &parity::noise_image(h, w, args.seed))?;
    for e in &results {
        if args.json {
            let v = serde_json::json!({ "model": card.name, "f": card.f, "size": [h, w], "reference": rn, "tested": tn, "tol": args.tol, "parity": e });
            println!("{v}");
        } else {
            println!(
                "{:>4} {:>4}   {:>12.3e}   {:>10.3e}   {:>11.4}%",
                e.exit,
                e.cell,
                e.rel_l2,
                e.max_abs,
                100.0 * e.argmax_agree
            );
        }
    }
    let worst = results.iter().map(|e| e.rel_l2).fold(0.0, f64::max);
    anyhow::ensure!(worst <= args.tol, "parity FAILED: worst relative L2 error {worst:.3e} > {:.1e}", args.tol);
    if !args.json {
        println!("parity ok: worst relative L2 error {worst:.3e} <= {:.1e}", args.tol);
    }
    Ok(())
}
