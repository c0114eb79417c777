//! The training loss: pixel-wise cross-entropy that ignores label 255, optionally weighted per
//! class, averaged equally over the exits (as the reference trains ADD). With weights the mean
//! is sum(w[y] * nll) / sum(w[y]), PyTorch's convention, so `add train` and the PyTorch trainer
//! (pytorch/add_torch) minimise the same number.

use candle_core::{D, DType, Result, Tensor};

use crate::eval::metrics::IGNORE;

/// Mean cross-entropy over the pixels whose label is not 255. `logits` (N,K,H,W), `labels`
/// (N,H,W) u32. Returns a scalar; zero when every pixel is ignored.
pub fn cross_entropy_ignore(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    weighted_cross_entropy(logits, labels, None)
}

/// [`cross_entropy_ignore`] with a weight per class (`weights` (K,) f32): the weighted mean.
pub fn weighted_cross_entropy(logits: &Tensor, labels: &Tensor, weights: Option<&Tensor>) -> Result<Tensor> {
    let (_, k, _, _) = logits.dims4()?;
    let mut mask = labels.ne(IGNORE as u32)?.to_dtype(DType::F32)?;
    let safe = labels.minimum((k - 1) as u32)?;
    if let Some(w) = weights {
        let per_pixel = w.index_select(&safe.flatten_all()?, 0)?.reshape(safe.shape())?;
        mask = (mask * per_pixel)?;
    }
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    let picked = logp.gather(&safe.unsqueeze(1)?.contiguous()?, 1)?.squeeze(1)?;
    let count = if weights.is_some() { mask.sum_all()?.maximum(1e-12f32)? } else { mask.sum_all()?.maximum(1f32)? };
    (picked * &mask)?.sum_all()?.neg()?.broadcast_div(&count)
}

/// The reference's multi-exit loss: the mean of each exit's cross-entropy. Also returns each
/// exit's loss value for the log.
pub fn multi_exit_loss(exit_logits: &[Tensor], labels: &Tensor) -> Result<(Tensor, Vec<f32>)> {
    weighted_multi_exit_loss(exit_logits, labels, None)
}

/// [`multi_exit_loss`] with class weights.
pub fn weighted_multi_exit_loss(
    exit_logits: &[Tensor],
    labels: &Tensor,
    weights: Option<&Tensor>,
) -> Result<(Tensor, Vec<f32>)> {
    let losses = exit_logits.iter().map(|l| weighted_cross_entropy(l, labels, weights)).collect::<Result<Vec<_>>>()?;
    let values = losses.iter().map(|l| l.to_scalar::<f32>()).collect::<Result<Vec<_>>>()?;
    let total = (Tensor::stack(&losses, 0)?.sum(D::Minus1)? / losses.len() as f64)?;
    Ok((total, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_hand_computation_and_ignores_255() {
        // one image, 2 classes, 1x3 pixels
        let logits = Tensor::from_vec(vec![2.0f32, 0.0, 5.0, 0.0, 1.0, -5.0], (1, 2, 1, 3), &Device::Cpu).unwrap();
        let labels = Tensor::from_vec(vec![0u32, 1, 255], (1, 1, 3), &Device::Cpu).unwrap();
        let l = cross_entropy_ignore(&logits, &labels).unwrap().to_scalar::<f32>().unwrap();
        let lse = |a: f32, b: f32| (a.exp() + b.exp()).ln();
        let expected = ((lse(2.0, 0.0) - 2.0) + (lse(0.0, 1.0) - 1.0)) / 2.0;
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
        let all_ignored = Tensor::from_vec(vec![255u32; 3], (1, 1, 3), &Device::Cpu).unwrap();
        assert_eq!(cross_entropy_ignore(&logits, &all_ignored).unwrap().to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn weighted_is_the_weighted_mean_as_pytorch() {
        let logits = Tensor::from_vec(vec![2.0f32, 0.0, 5.0, 0.0, 1.0, -5.0], (1, 2, 1, 3), &Device::Cpu).unwrap();
        let labels = Tensor::from_vec(vec![0u32, 1, 255], (1, 1, 3), &Device::Cpu).unwrap();
        let w = Tensor::new(&[0.5f32, 3.0], &Device::Cpu).unwrap();
        let l = weighted_cross_entropy(&logits, &labels, Some(&w)).unwrap().to_scalar::<f32>().unwrap();
        let lse = |a: f32, b: f32| (a.exp() + b.exp()).ln();
        let expected = (0.5 * (lse(2.0, 0.0) - 2.0) + 3.0 * (lse(0.0, 1.0) - 1.0)) / 3.5;
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
        let ones = Tensor::new(&[1.0f32, 1.0], &Device::Cpu).unwrap();
        let plain = cross_entropy_ignore(&logits, &labels).unwrap().to_scalar::<f32>().unwrap();
        let unit = weighted_cross_entropy(&logits, &labels, Some(&ones)).unwrap().to_scalar::<f32>().unwrap();
        assert!((plain - unit).abs() < 1e-6);
    }
}
