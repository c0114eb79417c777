//! A search's checkpoint. Beyond what [`crate::fit::checkpoint`] keeps for every run (weights,
//! SGD's momentum, the state), it holds the architecture weights beta (and alpha, in a cell
//! search) with their Adam moments, the history of finished epochs and the epoch in flight, so
//! a resumed search continues exactly.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::adam::{Adam, Moments};
use super::cell_search;
use super::config::{SearchConfig, SearchFiles};
use super::result::{EpochRecord, template_card};
use super::trellis::{CELLS, LEVELS, RATES};
use crate::fit::checkpoint::{self, Resumed, RunFolder};
use crate::network::ArchCard;

pub(super) const BETA: &str = "arch.beta";
const ADAM_M: &str = "arch.adam_m";
const ADAM_V: &str = "arch.adam_v";
const ALPHA: &str = "arch.alpha";
const ALPHA_M: &str = "arch.alpha_adam_m";
const ALPHA_V: &str = "arch.alpha_adam_v";
/// Mixed into the seed for half B's batches so they differ from half A's at the same step.
pub(super) const ARCH_STREAM: u64 = 0xB5EA_4C11_0000_0001;

/// Progress of the epoch in flight (kept in the checkpoint so a pause loses nothing).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct EpochAcc {
    pub loss_sum: f64,
    pub loss_n: usize,
    pub arch_sum: f64,
    pub arch_n: usize,
    pub seconds: f64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct SearchState {
    pub step: usize,
    pub adam_t: usize,
    pub config: SearchConfig,
    pub history: Vec<EpochRecord>,
    pub acc: EpochAcc,
    /// Steps of alpha's Adam (cell search only).
    #[serde(default)]
    pub alpha_adam_t: usize,
}

/// The architecture weights and their optimisers: beta, and alpha in a cell search.
pub(super) struct Arch {
    pub beta: Var,
    pub adam: Adam,
    /// Alpha (edges x ops) and its Adam, in a cell search.
    pub alpha: Option<(Var, Adam)>,
}

impl Arch {
    /// Beta and alpha from `start`, on `device`, with their Adam state when it has one.
    pub fn new(start: &mut Start, lr: f64, device: &Device) -> anyhow::Result<Arch> {
        let (beta, adam) = with_adam(start.beta.clone(), start.beta_adam.take(), lr, device)?;
        let alpha = start.alpha.take().map(|(a, moments)| with_adam(a, moments, lr, device)).transpose()?;
        Ok(Arch { beta, adam, alpha })
    }

    /// Softmax of alpha over each edge's ops, in a cell search (candle's composed softmax:
    /// `softmax_last_dim` has no backward).
    pub fn op_weights(&self) -> candle_core::Result<Option<Tensor>> {
        self.alpha.as_ref().map(|(a, _)| candle_nn::ops::softmax(a.as_tensor(), candle_core::D::Minus1)).transpose()
    }

    /// Beta, alpha and their moments by their checkpoint names (CPU copies).
    fn tensors(&self) -> candle_core::Result<HashMap<String, Tensor>> {
        let cpu = |t: &Tensor| t.to_device(&Device::Cpu);
        let mut all = HashMap::from([
            (BETA.to_string(), cpu(self.beta.as_tensor())?),
            (ADAM_M.to_string(), cpu(&self.adam.m)?),
            (ADAM_V.to_string(), cpu(&self.adam.v)?),
        ]);
        if let Some((alpha, adam)) = &self.alpha {
            all.insert(ALPHA.into(), cpu(alpha.as_tensor())?);
            all.insert(ALPHA_M.into(), cpu(&adam.m)?);
            all.insert(ALPHA_V.into(), cpu(&adam.v)?);
        }
        Ok(all)
    }
}

fn with_adam(t: Tensor, moments: Option<Moments>, lr: f64, device: &Device) -> anyhow::Result<(Var, Adam)> {
    let var = Var::from_tensor(&t.to_device(device)?)?;
    let mut adam = Adam::new(&var, lr)?;
    if let Some(m) = moments {
        adam.restore(m, device)?;
    }
    Ok((var, adam))
}

/// Where a search starts: fresh, or where its checkpoint left off.
pub(super) struct Start {
    /// Supernet weights and BatchNorm statistics by name.
    pub weights: HashMap<String, Tensor>,
    /// SGD's momentum buffers (none in a fresh search).
    pub momentum: HashMap<String, Tensor>,
    pub beta: Tensor,
    /// Beta's Adam state (none before the first architecture step).
    pub beta_adam: Option<Moments>,
    /// Alpha and its Adam state, in a cell search.
    pub alpha: Option<(Tensor, Option<Moments>)>,
    pub step: usize,
    pub history: Vec<EpochRecord>,
    pub acc: EpochAcc,
}

impl Start {
    /// A fresh search: seeded random weights for every variable of `varmap`, and the
    /// architecture weights near uniform (see [`initial_arch_weights`]).
    pub fn fresh(cfg: &SearchConfig, template: &ArchCard, varmap: &VarMap) -> anyhow::Result<Start> {
        let weights = crate::network::init::random_init(crate::fit::vars::shapes(varmap), cfg.seed)?;
        let alpha = cfg.cell_search.then(|| {
            let a = cell_search::initial_alpha(template.b, cfg.seed);
            Tensor::from_vec(a, (cell_search::edges(template.b), cell_search::OPS), &Device::Cpu).map(|t| (t, None))
        });
        let beta = initial_arch_weights(CELLS * LEVELS * RATES, cfg.seed ^ ARCH_STREAM);
        Ok(Start {
            weights,
            momentum: HashMap::new(),
            beta: Tensor::from_vec(beta, (CELLS, LEVELS, RATES), &Device::Cpu)?,
            beta_adam: None,
            alpha: alpha.transpose()?,
            step: 0,
            history: Vec::new(),
            acc: EpochAcc::default(),
        })
    }

    /// The checkpoint at `path`, refused when it was started with other settings than `cfg`.
    pub fn resume(path: &Path, cfg: &SearchConfig) -> anyhow::Result<Start> {
        let Resumed { state, mut tensors, momentum, .. } = checkpoint::read::<SearchState>(path, &SearchFiles::KIND)?;
        checkpoint::same_settings(path, &state.config, cfg)?;
        let mut take = |what: &str| {
            tensors.remove(what).ok_or_else(|| anyhow::anyhow!("{}: search checkpoint lacks `{what}`", path.display()))
        };
        let beta = take(BETA)?;
        anyhow::ensure!(beta.dims() == [CELLS, LEVELS, RATES], "{}: beta has shape {:?}", path.display(), beta.dims());
        let beta_adam = Moments { t: state.adam_t, m: take(ADAM_M)?, v: take(ADAM_V)? };
        let alpha = if cfg.cell_search {
            let alpha = take(ALPHA)?;
            let shape = [cell_search::edges(template_card(cfg.filters, cfg.head_width, cfg.exits).b), cell_search::OPS];
            anyhow::ensure!(
                alpha.dims() == shape,
                "{}: alpha has shape {:?}, expected {shape:?}",
                path.display(),
                alpha.dims()
            );
            Some((alpha, Some(Moments { t: state.alpha_adam_t, m: take(ALPHA_M)?, v: take(ALPHA_V)? })))
        } else {
            None
        };
        Ok(Start {
            weights: tensors,
            momentum,
            beta,
            beta_adam: Some(beta_adam),
            alpha,
            step: state.step,
            history: state.history,
            acc: state.acc,
        })
    }
}

/// Writes the checkpoint at `path`: the supernet's variables, SGD's momentum, the architecture
/// weights and their moments, and the state. `card` is the supernet's template (a valid card;
/// the found one is arch.json).
pub(super) fn save(
    path: &Path,
    card: &ArchCard,
    state: &SearchState,
    varmap: &VarMap,
    sgd: &crate::fit::optim::Sgd,
    arch: &Arch,
) -> anyhow::Result<()> {
    let mut all = crate::fit::vars::values(varmap)?;
    all.extend(arch.tensors()?);
    checkpoint::write(path, card, &SearchFiles::KIND, state, all, sgd)
}

/// `n` values of 1e-3 * N(0, 1) (Box-Muller on a generator seeded with `seed`): how the
/// reference initialises its architecture weights, near-uniform with ties broken by the seed.
pub fn initial_arch_weights(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random();
            (1e-3 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}
