//! Device parity: one network (the same weights) and one image on two devices, every exit's
//! logits compared. This is how a GPU build is checked against the CPU path (`add parity`,
//! `tests/gpu.rs`): candle's CUDA ops and our fallbacks there against our CPU kernels here.

use candle_core::{DType, Device, Tensor};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::prepare::prepare;
use super::runner::{Engine, EngineError};

/// How far one exit's logits on the tested device are from the reference device's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ExitParity {
    pub exit: usize,
    pub cell: usize,
    /// `||tested - reference||_2 / ||reference||_2` over all logits.
    pub rel_l2: f64,
    /// Largest absolute difference of one logit.
    pub max_abs: f64,
    /// Fraction of pixels whose argmax class is the same on both devices.
    pub argmax_agree: f64,
}

/// A seeded noise image: every pixel differs, so no op gets away with a constant input.
pub fn noise_image(h: usize, w: usize, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    RgbImage::from_fn(w as u32, h as u32, |_, _| image::Rgb([rng.random(), rng.random(), rng.random()]))
}

/// Runs `image` through `reference` and `tested` (the same model on two devices) cell by cell in
/// lockstep and compares every exit's logits (N,K,H,W) at input resolution.
pub fn compare(reference: &Engine, tested: &Engine, image: &RgbImage) -> Result<Vec<ExitParity>, EngineError> {
    let card = reference.card();
    let (na, nb) = (reference.net(), tested.net());
    let input = |e: &Engine| prepare(image, &card.normalization, u32::MAX, e.device()).map_err(EngineError::Image);
    let (mut ta, mut tb) = (na.start(&input(reference)?.tensor, false)?, nb.start(&input(tested)?.tensor, false)?);
    let exit_cells = card.exit_cells();
    let mut out = Vec::with_capacity(exit_cells.len());
    for cell in 0..=*exit_cells.last().expect("a card has at least one exit") {
        na.step(&mut ta, false)?;
        nb.step(&mut tb, false)?;
        if let Some(exit) = exit_cells.iter().position(|&c| c == cell) {
            let a = na.exit_logits(exit, &ta, false)?;
            let b = nb.exit_logits(exit, &tb, false)?;
            out.push(exit_parity(exit, cell, &a, &b)?);
        }
    }
    Ok(out)
}

/// Compares `tested` logits with `reference` ones (any devices; copied to the CPU in f64).
fn exit_parity(exit: usize, cell: usize, reference: &Tensor, tested: &Tensor) -> candle_core::Result<ExitParity> {
    let on_cpu = |t: &Tensor| t.to_device(&Device::Cpu)?.to_dtype(DType::F64);
    let (r, t) = (on_cpu(reference)?, on_cpu(tested)?);
    let diff = (&t - &r)?;
    let norm = |x: &Tensor| -> candle_core::Result<f64> { x.sqr()?.sum_all()?.to_scalar::<f64>().map(f64::sqrt) };
    let rel_l2 = norm(&diff)? / norm(&r)?.max(f64::MIN_POSITIVE);
    let max_abs = diff.abs()?.max_all()?.to_scalar::<f64>()?;
    let same = r.argmax(1)?.eq(&t.argmax(1)?)?.to_dtype(DType::F64)?.mean_all()?.to_scalar::<f64>()?;
    Ok(ExitParity { exit, cell, rel_l2, max_abs, argmax_agree: same })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ArchCard;

    #[test]
    fn same_device_is_exact_and_every_exit_is_reported() {
        let card = ArchCard::preset("add-3", 4).unwrap();
        let a = Engine::random(card.clone(), 7, &Device::Cpu).unwrap();
        let b = Engine::random(card.clone(), 7, &Device::Cpu).unwrap();
        let img = noise_image(65, 97, 1);
        let r = compare(&a, &b, &img).unwrap();
        assert_eq!(r.iter().map(|e| e.cell).collect::<Vec<_>>(), card.exit_cells());
        for e in &r {
            assert_eq!((e.rel_l2, e.max_abs, e.argmax_agree), (0.0, 0.0, 1.0), "{e:?}");
        }
        // different weights are far apart: the measure does see a difference
        let c = Engine::random(card, 8, &Device::Cpu).unwrap();
        assert!(compare(&a, &c, &img).unwrap().iter().all(|e| e.rel_l2 > 0.1));
    }
}
