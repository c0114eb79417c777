//! Training batches that depend only on (seed, step): the samples are drawn and augmented with
//! a generator seeded from both, so a resumed run sees exactly the batches it would have seen.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::data::augment::{AugmentParams, augment};
use crate::data::datasets::Dataset;
use crate::network::card::Normalization;

/// A batch: normalised images (N,3,H,W) and labels (N,H,W) u32.
pub struct Batch {
    pub images: Tensor,
    pub labels: Tensor,
}

/// The generator for `step` of a run seeded with `seed`.
pub fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Normalises RGB pixels into a (3,H,W) plane layout.
pub fn normalise_into(img: &image::RgbImage, norm: &Normalization, out: &mut [f32]) {
    let plane = (img.width() * img.height()) as usize;
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (p[c] as f32 / 255.0 - norm.mean[c]) / norm.std[c];
        }
    }
}

/// Builds batch number `step`: `size` samples drawn with replacement, each augmented.
pub fn batch(
    ds: &Dataset,
    size: usize,
    aug: &AugmentParams,
    norm: &Normalization,
    seed: u64,
    step: usize,
    device: &Device,
) -> anyhow::Result<Batch> {
    let mut rng = step_rng(seed, step);
    let picks: Vec<(usize, u64)> = (0..size).map(|_| (rng.random_range(0..ds.len()), rng.random())).collect();
    let samples = picks
        .par_iter()
        .map(|&(i, s)| {
            let d = ds.load(i)?;
            let label =
                d.label.ok_or_else(|| anyhow::anyhow!("{}: training needs a label", ds.samples[i].image.display()))?;
            Ok(augment(&d.image, &label, aug, &mut ChaCha8Rng::seed_from_u64(s)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (h, w) = aug.crop;
    let plane = (h * w) as usize;
    let mut images = vec![0f32; size * 3 * plane];
    let mut labels = Vec::with_capacity(size * plane);
    for (k, (img, lab)) in samples.iter().enumerate() {
        normalise_into(img, norm, &mut images[k * 3 * plane..(k + 1) * 3 * plane]);
        labels.extend(lab.as_raw().iter().map(|&v| v as u32));
    }
    let images = Tensor::from_vec(images, (size, 3, h as usize, w as usize), device)?;
    let labels = Tensor::from_vec(labels, (size, h as usize, w as usize), device)?;
    Ok(Batch { images, labels })
}
