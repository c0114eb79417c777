//! The demo segmenter: plausible exit maps from colour rules, so the whole app (streaming,
//! policy, exit strip, compare) can be seen and tested without a trained network. Earlier exits
//! work on coarser blocks and are less sure, as real early exits are. Always announced in the
//! UI with a "demo data" banner: these masks come from no network.

use super::segmenter::{Loaded, Loader, Role, SegmentOptions, Segmenter};
use crate::engine::{Decision, ExitMaps, ExitReport, ExitStats, RunEvent};
use crate::eval::label::LabelMap;
use crate::network::card::{ArchCard, PolicyPreset};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A fake model over an architecture card.
pub struct DemoSegmenter {
    card: ArchCard,
    /// Sleep per cell, so that streaming is visible (zero in tests).
    pub cell_delay: Duration,
    /// Block size of the finest exit (1 = per pixel).
    finest_block: usize,
}

impl DemoSegmenter {
    /// The ADD demo: three exits with accurate/fast presets.
    pub fn add(cell_delay: Duration) -> DemoSegmenter {
        let mut card = ArchCard::preset("add-3", 8).expect("built-in card");
        card.name = "demo ADD (colour rules, no network)".into();
        card.edm.kind = crate::network::EdmKind::Both;
        for (name, t) in [("accurate", 0.12), ("fast", 0.35)] {
            card.presets.insert(name.into(), PolicyPreset { policy: format!("edm:{t}"), miou: None, speedup: None });
        }
        DemoSegmenter { card, cell_delay, finest_block: 2 }
    }

    /// The full-model demo: one exit, per-pixel.
    pub fn full(cell_delay: Duration) -> DemoSegmenter {
        let mut card = ArchCard::preset("autodeeplab", 8).expect("built-in card");
        card.name = "demo Auto-DeepLab (colour rules, no network)".into();
        DemoSegmenter { card, cell_delay, finest_block: 1 }
    }

    /// All the events of one run, at once (for tests that feed the UI directly).
    pub fn events(&self, image: &image::RgbImage, opts: &SegmentOptions, run_id: u64) -> Vec<RunEvent> {
        let mut out = Vec::new();
        self.run(image, opts, run_id, &AtomicBool::new(false), &mut |e| out.push(e)).expect("the demo never fails");
        out
    }

    fn block_for_exit(&self, k: usize) -> usize {
        let n = self.card.num_exits();
        let steps = (n - 1 - k) as u32;
        self.finest_block << (2 * steps).min(6)
    }
}

/// Class by colour rules (Cityscapes train ids) and how clear the rule was, in [0, 1].
fn classify(rgb: [f32; 3], y: f32) -> (u8, f32) {
    let [r, g, b] = rgb;
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let sat = max - min;
    if b > r + 12.0 && b >= g && y < 0.65 {
        (10, ((b - r) / 60.0).min(1.0)) // sky
    } else if g > r + 8.0 && g > b + 4.0 {
        if y > 0.7 { (9, ((g - r) / 50.0).min(1.0)) } else { (8, ((g - r) / 40.0).min(1.0)) }
    } else if r > g + 40.0 && r > b + 20.0 {
        if y > 0.5 { (13, ((r - g) / 90.0).min(1.0)) } else { (11, ((r - g) / 90.0).min(1.0)) }
    } else if r > g + 15.0 && b > g + 15.0 {
        (1, ((r.min(b) - g) / 50.0).min(1.0)) // sidewalk (magenta-ish)
    } else if sat < 30.0 {
        if y > 0.55 { (0, 1.0 - sat / 30.0) } else { (2, 0.8 - sat / 60.0) }
    } else if max > 200.0 && y < 0.4 {
        (10, 0.4)
    } else {
        (2, 0.3)
    }
}

/// The maps of one exit: classify block means, so coarse exits look coarse.
fn exit_maps(image: &image::RgbImage, block: usize, sureness: f32) -> ExitMaps {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    let mut cls = vec![0u8; bw * bh];
    let mut prob = vec![0f32; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let mut sum = [0f32; 3];
            let mut n = 0f32;
            for y in by * block..((by + 1) * block).min(h) {
                for x in bx * block..((bx + 1) * block).min(w) {
                    let p = image.get_pixel(x as u32, y as u32).0;
                    sum = [sum[0] + p[0] as f32, sum[1] + p[1] as f32, sum[2] + p[2] as f32];
                    n += 1.0;
                }
            }
            let mean = [sum[0] / n, sum[1] / n, sum[2] / n];
            let yc = ((by as f32 + 0.5) * block as f32 / h as f32).min(1.0);
            let (c, clarity) = classify(mean, yc);
            cls[by * bw + bx] = c;
            prob[by * bw + bx] = (0.35 + 0.65 * clarity.clamp(0.0, 1.0)) * sureness;
        }
    }
    let mut maps = ExitMaps {
        width: w,
        height: h,
        classes: vec![0; w * h],
        max_prob: vec![0.0; w * h],
        entropy: vec![0.0; w * h],
    };
    for y in 0..h {
        for x in 0..w {
            let b = (y / block) * bw + x / block;
            let i = y * w + x;
            // Less sure where the block disagrees with its neighbour (edges).
            let right = (y / block) * bw + ((x / block) + 1).min(bw - 1);
            let edge = if cls[right] != cls[b] { 0.7 } else { 1.0 };
            let p = (prob[b] * edge).clamp(0.06, 1.0);
            maps.classes[i] = cls[b];
            maps.max_prob[i] = p;
            maps.entropy[i] = ((1.0 - p) * 1.15).clamp(0.0, 1.0);
        }
    }
    maps
}

fn mean(v: &[f32]) -> f32 {
    if v.is_empty() { 0.0 } else { v.iter().sum::<f32>() / v.len() as f32 }
}

impl Segmenter for DemoSegmenter {
    fn card(&self) -> &ArchCard {
        &self.card
    }

    fn device_name(&self) -> String {
        "demo (no network)".into()
    }

    fn run(
        &self,
        image: &image::RgbImage,
        opts: &SegmentOptions,
        run_id: u64,
        cancel: &AtomicBool,
        sink: &mut dyn FnMut(RunEvent),
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        // Without a delay (tests) the clock is simulated from the Multi-Adds (20 GMAdd/s), so
        // that every run reports the same times and snapshots are stable.
        let simulated = std::cell::Cell::new(0.0f64);
        let ms = || if self.cell_delay.is_zero() { simulated.get() } else { start.elapsed().as_secs_f64() * 1e3 };
        let size = (image.width() as usize, image.height() as usize);
        sink(RunEvent::Started { run_id, image_size: size, input_size: size, device: self.device_name() });
        let exit_cells = self.card.exit_cells();
        let n = exit_cells.len();
        let (mut madds, mut chosen) = (0u64, None);
        for (cell, &level) in self.card.path.iter().enumerate() {
            if cancel.load(Ordering::Relaxed) {
                sink(RunEvent::Cancelled { run_id });
                return Ok(());
            }
            let t0 = ms();
            std::thread::sleep(self.cell_delay);
            let stride = 4usize << level;
            let c = self.card.cell_channels(level) as u64;
            madds += (size.0 / stride * size.1 / stride) as u64 * c * c * 3;
            simulated.set(madds as f64 / 2e7);
            sink(RunEvent::CellDone {
                run_id,
                cell,
                level,
                cell_ms: ms() - t0,
                stem_ms: None,
                time_ms: ms(),
                cum_madds: madds,
            });
            let Some(k) = exit_cells.iter().position(|&e| e == cell) else { continue };
            let sureness = 0.7 + 0.3 * (k as f32 + 1.0) / n as f32;
            let maps = exit_maps(image, self.block_for_exit(k), sureness);
            let mean_entropy = mean(&maps.entropy);
            let prob = opts.policy.confident_prob();
            let frac = maps.max_prob.iter().filter(|&&p| p > prob).count() as f32 / maps.max_prob.len() as f32;
            let has_edm = self.card.edm.kind.has_scalar() && k + 1 < n;
            let edm_score = has_edm.then_some((mean_entropy * 0.9 + 0.03).min(1.0));
            let edm_map = (has_edm && self.card.edm.kind.has_map())
                .then(|| Arc::new(exit_maps(image, self.block_for_exit(k) * 4, sureness).entropy));
            let edm_map_score = edm_map.as_ref().map(|m| mean(m));
            let stats = ExitStats {
                edm_score,
                edm_map_score,
                mean_entropy: Some(mean_entropy),
                confident_fraction: Some(frac),
            };
            let decision = if k + 1 == n {
                Decision::Final
            } else if opts.policy.stop_at(k, &stats).unwrap_or(false) {
                Decision::Stop
            } else {
                Decision::Continue
            };
            let head_runs =
                chosen.is_none() && (decision != Decision::Continue || opts.policy.needs_head()) || opts.analysis;
            let report = ExitReport {
                run_id,
                exit: k,
                cell,
                level,
                edm_score,
                edm_map,
                edm_map_score,
                decision,
                maps: head_runs.then(|| Arc::new(maps)),
                mean_entropy: head_runs.then_some(mean_entropy),
                confident_fraction: head_runs.then_some(frac),
                edm_ms: 0.0,
                edm_map_ms: 0.0,
                head_ms: None,
                maps_ms: 0.0,
                time_ms: ms(),
                cum_madds: madds,
            };
            sink(RunEvent::Exit(report));
            if chosen.is_none() && decision != Decision::Continue {
                chosen = Some(k);
                if !opts.analysis {
                    break;
                }
            }
        }
        sink(RunEvent::Finished { run_id, chosen_exit: chosen.unwrap_or(n - 1), total_ms: ms(), cum_madds: madds });
        Ok(())
    }
}

/// The demo model for `role` with `cell_delay` per cell; the ADD one carries a "demo data" banner
/// so nobody mistakes it for a network.
pub fn model(role: Role, cell_delay: Duration) -> Loaded {
    let segmenter: Box<dyn Segmenter> = match role {
        Role::Add => Box::new(DemoSegmenter::add(cell_delay)),
        Role::Full => Box::new(DemoSegmenter::full(cell_delay)),
    };
    let banner = (role == Role::Add).then(|| "DEMO DATA: masks come from colour rules, not from a network".to_string());
    Loaded { segmenter, banner }
}

/// A worker loader of the demo models (tests use a zero or small delay).
pub fn loader(cell_delay: Duration) -> Loader {
    Arc::new(move |role, _| Ok(Some(model(role, cell_delay))))
}

/// A small street scene with an exact label (Cityscapes train ids), drawn by code: for tests
/// and for trying the app without any image at hand. Deterministic.
pub fn street_scene(w: u32, h: u32) -> (image::RgbImage, LabelMap) {
    let mut img = image::RgbImage::new(w, h);
    let mut label = vec![0u8; (w * h) as usize];
    let noise = |x: u32, y: u32| -> i32 {
        let mut v = x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263);
        v = (v ^ (v >> 13)).wrapping_mul(1_274_126_177);
        (v >> 24) as i32 % 17 - 8
    };
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let building = fy > 0.12 + 0.25 * ((fx * 7.0).floor() % 3.0) / 3.0 && fy < 0.58 && fx < 0.62;
            let tree = ((fx - 0.76) / 0.1).powi(2) + ((fy - 0.38) / 0.16).powi(2) < 1.0;
            let car = (0.18..0.4).contains(&fx) && (0.56..0.74).contains(&fy);
            let person = (0.5..0.53).contains(&fx) && (0.4..0.62).contains(&fy);
            let (c, rgb): (u8, [i32; 3]) = if car {
                (13, [185, 35, 45])
            } else if person {
                (11, [200, 45, 70])
            } else if tree {
                (8, [60, 125, 45])
            } else if building {
                let window = (x / 6) % 3 == 1 && (y / 6) % 3 == 1;
                (2, if window { [70, 75, 85] } else { [115, 112, 108] })
            } else if fy < 0.58 {
                (10, [90 + (fy * 60.0) as i32, 140 + (fy * 40.0) as i32, 200])
            } else if fy < 0.64 {
                (1, [175, 120, 175])
            } else if fy > 0.9 && fx > 0.8 {
                (9, [120, 160, 70])
            } else {
                (0, [98, 96, 100])
            };
            let n = noise(x, y);
            img.put_pixel(x, y, image::Rgb(rgb.map(|v| (v + n).clamp(0, 255) as u8)));
            label[(y * w + x) as usize] = c;
        }
    }
    (img, LabelMap { width: w as usize, height: h as usize, classes: label })
}
