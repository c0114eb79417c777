//! The engine: a loaded model on a device that runs one image under a policy and reports each
//! cell and exit as it happens. What the policy skips is never computed: with the EDM policy a
//! skipped exit costs only its decision maker, and the executed Multi-Add counter proves it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::Device;
use image::RgbImage;

use super::events::{Decision, ExitMaps, ExitReport, RunEvent};
pub use super::maps::maps_from_logits;
use super::policy::{ExitStats, Policy, PolicyError};
use super::prepare::{Prepared, prepare};
use crate::network::checkpoint::{self, CheckpointError, TensorFile};
use crate::network::{AddNet, ArchCard, BuildMode, EdmKind, cost};

/// Why a model could not be loaded or a run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Image(String),
    #[error("network: {0}")]
    Candle(#[from] candle_core::Error),
}

/// How to run an image.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub policy: Policy,
    /// Compute every head (the policy's decision is still reported at each exit).
    pub analysis: bool,
    /// Longer image side above which the image is scaled down (see [`super::prepare`]).
    pub max_side: u32,
    /// Run the decision makers even when the policy does not need them, and report the
    /// EDM-maps at image resolution (for display). Off, only an EDM policy pays for them.
    pub edm_maps: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: false, max_side: 2049, edm_maps: true }
    }
}

/// What a finished run amounts to (the same facts as its `Finished` event).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    pub chosen_exit: usize,
    pub total_ms: f64,
    pub madds: u64,
    /// False when the run was cancelled before it finished.
    pub completed: bool,
}

/// A loaded model on a device.
pub struct Engine {
    net: AddNet,
    device: Device,
    notes: Vec<String>,
}

impl Engine {
    /// Loads a model (safetensors or reference .pth) and its card (explicit, embedded, or
    /// `<model>.json`), checking every tensor against the card.
    pub fn load(model: &Path, card: Option<&Path>, device: &Device) -> Result<Engine, EngineError> {
        let file = TensorFile::read(model)?;
        let mut card = checkpoint::resolve_card(&file, card)?;
        let mut notes = Vec::new();
        // a reference checkpoint never holds the EDM (it is a separate file): run without it
        if card.edm.kind != EdmKind::None && !file.tensors.keys().any(|n| n.starts_with("edm")) {
            notes.push(format!(
                "{}: the card names decision makers ({:?}) but the weights hold none; loaded without them (entropy, confident and exit policies still work)",
                model.display(),
                card.edm.kind
            ));
            card.edm.kind = EdmKind::None;
        }
        checkpoint::check_against(&card, &model.display().to_string(), &file.tensors)?;
        let net = checkpoint::build(&card, file.tensors, device, BuildMode::Folded)?;
        Ok(Engine { net, device: device.clone(), notes })
    }

    /// A model with random weights (Kaiming init, seeded): for demos, tests and benchmarks.
    pub fn random(card: ArchCard, seed: u64, device: &Device) -> Result<Engine, EngineError> {
        card.validate().map_err(CheckpointError::from)?;
        let tensors = crate::network::init::random_tensors(&card, seed)?;
        let net = checkpoint::build(&card, tensors, device, BuildMode::Folded)?;
        Ok(Engine { net, device: device.clone(), notes: Vec::new() })
    }

    /// Wraps an already built network.
    pub fn from_net(net: AddNet, device: &Device) -> Engine {
        Engine { net, device: device.clone(), notes: Vec::new() }
    }

    /// What loading had to work around (shown to the user, never silently dropped).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn card(&self) -> &ArchCard {
        &self.net.card
    }

    pub fn net(&self) -> &AddNet {
        &self.net
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn device_name(&self) -> String {
        super::device::name(&self.device)
    }

    /// Runs a blank `width x height` image through every cell, decision maker and head once
    /// and throws the result away. A process's first run pays for growing the allocator's
    /// memory and starting the thread pools: the baseline took 306 ms on its first 256x512
    /// image and 133-159 ms on the next ones, and the app would show, and `add eval` average
    /// in, that cold time.
    pub fn warm_up(&self, width: u32, height: u32) -> Result<(), EngineError> {
        let image = RgbImage::from_pixel(width.max(1), height.max(1), image::Rgb([128, 128, 128]));
        let opts =
            RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: true, max_side: u32::MAX, edm_maps: true };
        self.run(&image, &opts, 0, &AtomicBool::new(false), &mut |_| {})?;
        Ok(())
    }

    /// Runs `image`, calling `sink` with each event in order; checks `cancel` before each cell
    /// and each exit.
    pub fn run(
        &self,
        image: &RgbImage,
        opts: &RunOptions,
        run_id: u64,
        cancel: &AtomicBool,
        sink: &mut dyn FnMut(RunEvent),
    ) -> Result<RunSummary, EngineError> {
        let card = &self.net.card;
        if matches!(opts.policy, Policy::Edm { .. }) && !card.edm.kind.has_scalar() && !card.edm.kind.has_map() {
            return Err(PolicyError::NoEdm(opts.policy.to_string()).into());
        }
        if matches!(opts.policy, Policy::EdmMap { .. }) && !card.edm.kind.has_map() {
            return Err(PolicyError::NoEdm(opts.policy.to_string()).into());
        }
        let t0 = Instant::now();
        let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
        cost::reset();
        let p = prepare(image, &card.normalization, opts.max_side, &self.device).map_err(EngineError::Image)?;
        sink(RunEvent::Started {
            run_id,
            image_size: p.image_size,
            input_size: p.input_size,
            device: self.device_name(),
        });
        let exits = card.exit_cells();
        let last_exit = exits.len() - 1;
        let mut chosen: Option<usize> = None;
        let t_stem = Instant::now();
        let mut trace = self.net.start(&p.tensor, false)?;
        self.device.synchronize()?;
        let stem_ms = ms(t_stem);
        // checked before each cell and before each exit, so a cancel waits for at most one
        // cell or one exit head, never both
        let cancelled = |chosen: Option<usize>, sink: &mut dyn FnMut(RunEvent)| {
            cancel.load(Ordering::Relaxed).then(|| {
                sink(RunEvent::Cancelled { run_id });
                RunSummary {
                    chosen_exit: chosen.unwrap_or(last_exit),
                    total_ms: ms(t0),
                    madds: cost::executed(),
                    completed: false,
                }
            })
        };
        for cell in 0..exits[last_exit] + 1 {
            if let Some(summary) = cancelled(chosen, sink) {
                return Ok(summary);
            }
            // cell 0's time includes the stem's
            let tc = if cell == 0 { t_stem } else { Instant::now() };
            self.net.step(&mut trace, false)?;
            self.device.synchronize()?;
            sink(RunEvent::CellDone {
                run_id,
                cell,
                level: card.path[cell],
                cell_ms: ms(tc),
                stem_ms: (cell == 0).then_some(stem_ms),
                time_ms: ms(t0),
                cum_madds: cost::executed(),
            });
            let Some(exit) = exits.iter().position(|&c| c == cell) else { continue };
            if let Some(summary) = cancelled(chosen, sink) {
                return Ok(summary);
            }
            let report = self.exit(exit, &trace, &p, opts, run_id, t0)?;
            if chosen.is_none() && report.decision != Decision::Continue {
                chosen = Some(exit);
            }
            sink(RunEvent::Exit(report));
            if chosen.is_some() && !opts.analysis {
                break;
            }
        }
        let chosen_exit = chosen.unwrap_or(last_exit);
        let summary = RunSummary { chosen_exit, total_ms: ms(t0), madds: cost::executed(), completed: true };
        sink(RunEvent::Finished { run_id, chosen_exit, total_ms: summary.total_ms, cum_madds: summary.madds });
        Ok(summary)
    }

    /// Decides at one exit, running its decision makers and, when needed, its head.
    fn exit(
        &self,
        exit: usize,
        trace: &crate::network::Trace,
        p: &Prepared,
        opts: &RunOptions,
        run_id: u64,
        t0: Instant,
    ) -> Result<ExitReport, EngineError> {
        let card = &self.net.card;
        let cell = card.exit_cells()[exit];
        let is_last = exit + 1 == card.num_exits();
        let mut stats = ExitStats::default();
        let mut edm_map = None;
        // each decision maker only when shown, analysed, or read by the policy (`edm` reads
        // the map only without a scalar EDM)
        let shown = opts.edm_maps || opts.analysis;
        let edm_policy = matches!(opts.policy, Policy::Edm { .. });
        let need_scalar = shown || edm_policy;
        let need_map =
            shown || matches!(opts.policy, Policy::EdmMap { .. }) || (edm_policy && !card.edm.kind.has_scalar());
        let (mut edm_ms, mut edm_map_ms) = (0.0, 0.0);
        if !is_last && (need_scalar || need_map) {
            let feature = trace.feature();
            if need_scalar {
                let te = Instant::now();
                let score = self.net.edm_score(exit, feature)?.map(|s| s.to_vec1::<f32>()).transpose()?;
                stats.edm_score = score.map(|v| v[0]);
                self.device.synchronize()?;
                edm_ms = te.elapsed().as_secs_f64() * 1e3;
            }
            if need_map {
                let te = Instant::now();
                let m = self.net.edm_map(exit, feature)?;
                if let Some(m) = &m {
                    stats.edm_map_score = Some(m.mean_all()?.to_scalar::<f32>()?);
                }
                self.device.synchronize()?;
                // the decision's time: the picture below is for showing, which a policy never pays
                edm_map_ms = te.elapsed().as_secs_f64() * 1e3;
                if let Some(m) = m.filter(|_| opts.edm_maps) {
                    let (ih, iw) = (p.input_size.1, p.input_size.0);
                    let full = crate::network::layers::resize(&m, ih, iw)?;
                    edm_map = Some(Arc::new(p.to_image(&full)?.flatten_all()?.to_vec1::<f32>()?));
                }
            }
        }
        // Does this exit's head run? The last always; analysis mode always; output-based
        // policies need it to decide; otherwise only when the policy stops here.
        let run_head_first = is_last || opts.analysis || opts.policy.needs_head();
        let mut head = None;
        if run_head_first {
            let h = self.head_maps(exit, trace, p, opts.policy.confident_prob())?;
            stats.mean_entropy = Some(h.mean_entropy);
            stats.confident_fraction = Some(h.confident_fraction);
            head = Some(h);
        }
        let decision = if is_last {
            Decision::Final
        } else if opts.policy.stop_at(exit, &stats)? {
            Decision::Stop
        } else {
            Decision::Continue
        };
        if head.is_none() && decision == Decision::Stop {
            head = Some(self.head_maps(exit, trace, p, opts.policy.confident_prob())?);
        }
        self.device.synchronize()?;
        Ok(ExitReport {
            run_id,
            exit,
            cell,
            level: card.path[cell],
            edm_score: stats.edm_score,
            edm_map,
            edm_map_score: stats.edm_map_score,
            decision,
            mean_entropy: head.as_ref().map(|h| h.mean_entropy),
            confident_fraction: head.as_ref().map(|h| h.confident_fraction),
            edm_ms,
            edm_map_ms,
            head_ms: head.as_ref().map(|h| h.ms),
            maps_ms: head.as_ref().map_or(0.0, |h| h.maps_ms),
            maps: head.map(|h| Arc::new(h.maps)),
            time_ms: t0.elapsed().as_secs_f64() * 1e3,
            cum_madds: cost::executed(),
        })
    }

    /// Runs exit `exit`'s head and turns its logits into maps at image size, timing both.
    fn head_maps(
        &self,
        exit: usize,
        trace: &crate::network::Trace,
        p: &Prepared,
        confident_prob: f32,
    ) -> Result<HeadRun, EngineError> {
        let start = Instant::now();
        let logits = self.net.exit_logits(exit, trace, false)?;
        let logits = p.to_image(&logits)?;
        self.device.synchronize()?;
        let t = Instant::now();
        let (maps, mean_entropy, confident_fraction) = maps_from_logits(&logits, confident_prob)?;
        let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
        Ok(HeadRun { maps, mean_entropy, confident_fraction, ms: ms(start), maps_ms: ms(t) })
    }
}

/// What running one exit's head gave: its maps, their mean normalised entropy, the fraction of
/// pixels whose max probability exceeds the policy's level, and the milliseconds of the whole
/// head and of the maps alone.
struct HeadRun {
    maps: ExitMaps,
    mean_entropy: f32,
    confident_fraction: f32,
    ms: f64,
    maps_ms: f64,
}
