//! `add bench --train-step`: one training step as `add train` runs it (forward of every exit
//! with batch statistics, the multi-exit loss, backward, SGD with momentum), on random inputs.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use super::{BenchArgs, Peer, time_ms, with_threads};
use crate::fit::loss::multi_exit_loss;
use crate::fit::optim::Sgd;
use crate::network::ArchCard;
use crate::train::trainer::Trainee;

/// Times the step at each thread count, beside the peer when there is one.
pub fn run(
    args: &BenchArgs,
    card: &ArchCard,
    tensors: &HashMap<String, Tensor>,
    device: &Device,
    peer: Option<&Peer>,
) -> anyhow::Result<()> {
    let (h, w) = super::parse_size("--crop", &args.crop)?;
    let (h, w) = (h as usize, w as usize);
    let trainee = Trainee::new(card, tensors, device)?;
    let mut opt = Sgd::new(trainee.trainable(), 0.9, 4e-5);
    // drawn on the CPU: a GPU machine may have only the stand-in cuRAND (scripts/gpu_env.sh)
    let x = Tensor::randn(0f32, 1.0, (args.batch, 3, h, w), &Device::Cpu)?.to_device(device)?;
    let labels = Tensor::rand(0f32, card.classes.len() as f32, (args.batch, h, w), &Device::Cpu)?
        .floor()?
        .to_dtype(DType::U32)?
        .to_device(device)?;
    if !args.json {
        println!(
            "{}: one training step, batch {} of {h}x{w}, {} rep(s) after a warm-up, medians",
            card.name, args.batch, args.reps
        );
        println!("threads   ms/step{}", if peer.is_some() { "   PyTorch ms   ours/PyTorch" } else { "" });
    }
    for &threads in &args.threads {
        let ms = with_threads(threads, || {
            time_ms(device, args.reps, || {
                let outs = trainee.net.forward_t(&x, true)?;
                let (loss, _) = multi_exit_loss(&outs, &labels)?;
                let grads = loss.backward()?;
                opt.step(&grads, 0.01)?;
                Ok(())
            })
        })??;
        let theirs = peer.map(|p| p.train_step(args.batch, &args.crop, threads, args.reps)).transpose()?;
        let n = super::thread_count(threads);
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "model": card.name, "mode": "train", "threads": n, "batch": args.batch,
                    "crop": [h, w], "ms": ms, "pytorch_ms": theirs, "ratio": theirs.map(|t| ms / t) })
            );
        } else {
            let cmp = theirs.map_or(String::new(), |t| format!("   {t:>10.1}   {:>12.2}", ms / t));
            println!("{n:>7}  {ms:>8.1}{cmp}");
        }
    }
    Ok(())
}
