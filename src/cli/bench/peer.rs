//! The PyTorch peer: `benches/peer/torch_peer.py` run as a child process on the same card and
//! the same weights (written to a temporary folder), answering in JSON lines. A parity check
//! first proves it computes the same network.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use candle_core::{Device, Tensor};

use crate::network::{AddNet, ArchCard, checkpoint};

/// A Python with PyTorch and the peer script, set up for one card and its weights.
pub struct Peer {
    python: String,
    script: PathBuf,
    dir: tempfile::TempDir,
    /// PyTorch's name of the device we run on (`cpu`, `cuda:N`), so both use the same one.
    device: String,
}

impl Peer {
    /// Writes the card and weights where the script can read them; checks the script exists.
    pub fn new(
        python: &str,
        script: &Path,
        card: &ArchCard,
        tensors: &HashMap<String, Tensor>,
        device: &Device,
    ) -> anyhow::Result<Peer> {
        anyhow::ensure!(
            script.is_file(),
            "{}: the peer script is missing (run from the repository root, or pass --peer-script)",
            script.display()
        );
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("card.json"), serde_json::to_string_pretty(card)?)?;
        checkpoint::save(&dir.path().join("weights.safetensors"), card, tensors)?;
        let device = match device.location() {
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            candle_core::DeviceLocation::Cpu => "cpu".to_string(),
            candle_core::DeviceLocation::Metal { .. } => {
                anyhow::bail!("the PyTorch peer runs on cpu or cuda, not Metal")
            }
        };
        Ok(Peer { python: python.to_string(), script: script.to_path_buf(), dir, device })
    }

    /// Runs the script in `mode` with `extra` arguments; returns its JSON lines.
    fn call(&self, mode: &str, extra: &[String]) -> anyhow::Result<Vec<serde_json::Value>> {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .arg(mode)
            .arg("--card")
            .arg(self.dir.path().join("card.json"))
            .arg("--weights")
            .arg(self.dir.path().join("weights.safetensors"))
            .args(["--device", &self.device])
            .args(extra)
            .output()
            .with_context(|| format!("cannot run the peer with `{}`", self.python))?;
        anyhow::ensure!(
            out.status.success(),
            "the peer ({} {}) failed: {}",
            self.python,
            self.script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).with_context(|| format!("peer printed `{l}`")))
            .collect()
    }

    /// Median ms per image answering at each exit, in exit order.
    pub fn infer(&self, size: &str, threads: usize, reps: usize) -> anyhow::Result<Vec<f64>> {
        let args = ["--size", size, "--threads", &threads.to_string(), "--reps", &reps.to_string()];
        let lines = self.call("infer", &args.map(String::from))?;
        lines.iter().map(|v| v["ms"].as_f64().context("peer line without `ms`")).collect()
    }

    /// Median ms of one training step.
    pub fn train_step(&self, batch: usize, crop: &str, threads: usize, reps: usize) -> anyhow::Result<f64> {
        let (b, t, r) = (batch.to_string(), threads.to_string(), reps.to_string());
        let args = ["--batch", &b, "--crop", crop, "--threads", &t, "--reps", &r];
        let lines = self.call("train", &args.map(String::from))?;
        lines.first().and_then(|v| v["ms"].as_f64()).context("peer printed no training time")
    }

    /// The peer process's peak resident memory after one full-path inference, MiB, and on a
    /// GPU the most GPU memory in use during it beyond what was in use before.
    pub fn peak_mem(&self, size: &str) -> anyhow::Result<(f64, Option<f64>)> {
        let lines = self.call("mem", &["--size".to_string(), size.to_string()])?;
        let line = lines.first().context("peer printed no memory figure")?;
        let rss = line["peak_rss_mb"].as_f64().context("peer printed no memory figure")?;
        Ok((rss, line["gpu_peak_mb"].as_f64()))
    }

    /// Largest relative L2 error between our logits and the peer's, over the exits, on a
    /// random 129x257 input.
    pub fn parity(&self, net: &AddNet, device: &Device) -> anyhow::Result<f64> {
        let (h, w) = (129, 257);
        let x = Tensor::randn(0f32, 1.0, (1, 3, h, w), &Device::Cpu)?;
        let input = self.dir.path().join("input.f32");
        let output = self.dir.path().join("output.f32");
        let bytes: Vec<u8> = x.flatten_all()?.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&input, bytes)?;
        let arg = |p: &Path| p.display().to_string();
        self.call(
            "parity",
            &["--size".into(), format!("{h}x{w}"), "--input".into(), arg(&input), "--output".into(), arg(&output)],
        )?;
        let theirs: Vec<f32> =
            std::fs::read(&output)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let ours = net.forward_t(&x.to_device(device)?, false)?;
        let mut at = 0;
        let mut worst = 0f64;
        for logits in ours {
            let ours: Vec<f32> = logits.flatten_all()?.to_device(&Device::Cpu)?.to_vec1()?;
            let theirs = theirs.get(at..at + ours.len()).context("the peer returned fewer logits than we have")?;
            at += ours.len();
            let (mut diff, mut norm) = (0f64, 0f64);
            for (a, b) in ours.iter().zip(theirs) {
                diff += ((a - b) as f64).powi(2);
                norm += (*b as f64).powi(2);
            }
            worst = worst.max((diff / norm.max(1e-30)).sqrt());
        }
        anyhow::ensure!(at == theirs.len(), "the peer returned {} logits, we have {at}", theirs.len());
        Ok(worst)
    }
}
