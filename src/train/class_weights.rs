//! Class-balanced loss weights, as the reference's `--use-balanced-weights`: every train label's
//! pixels are counted once per class, and class k weighs 1 / ln(1.02 + frequency_k). A class
//! covering a third of the pixels weighs about 3, a class that is 0.1 % of them about 50, so
//! thin and rare classes (poles, signs, people) are not drowned by road and sky.

use rayon::prelude::*;

use crate::data::datasets::Dataset;
use crate::eval::metrics::IGNORE;

/// Pixel count per class over every label of `ds` (ignore excluded).
pub fn class_counts(ds: &Dataset, classes: usize) -> anyhow::Result<Vec<u64>> {
    (0..ds.len())
        .into_par_iter()
        .map(|i| {
            let d = ds.load(i)?;
            let label =
                d.label.ok_or_else(|| anyhow::anyhow!("{}: training needs a label", ds.samples[i].image.display()))?;
            let mut c = vec![0u64; classes];
            for &v in label.as_raw() {
                if v != IGNORE as u8 && (v as usize) < classes {
                    c[v as usize] += 1;
                }
            }
            Ok(c)
        })
        .try_reduce(|| vec![0u64; classes], |a, b| Ok(a.iter().zip(&b).map(|(x, y)| x + y).collect()))
}

/// The reference's weights from pixel counts: 1 / ln(1.02 + count / total).
pub fn reference_weights(counts: &[u64]) -> Vec<f32> {
    let total = counts.iter().sum::<u64>().max(1) as f64;
    counts.iter().map(|&c| (1.0 / (1.02 + c as f64 / total).ln()) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_classes_weigh_more_and_match_the_formula() {
        let w = reference_weights(&[600, 300, 99, 1, 0]);
        assert!((w[0] - (1.0 / (1.02f64 + 0.6).ln()) as f32).abs() < 1e-6);
        assert!(w[0] < w[1] && w[1] < w[2] && w[2] < w[3] && w[3] < w[4]);
        // an absent class gets the largest weight, 1 / ln 1.02
        assert!((w[4] - 50.498).abs() < 1e-2, "{}", w[4]);
    }
}
