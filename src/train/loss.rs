//! The training loss: pixel-wise cross-entropy that ignores label 255, averaged equally over
//! the exits (as the reference trains ADD).

use candle_core::{D, DType, Result, Tensor};

use crate::eval::metrics::IGNORE;

/// Mean cross-entropy over the pixels whose label is not 255. `logits` (N,K,H,W), `labels`
/// (N,H,W) u32. Returns a scalar; zero when every pixel is ignored.
pub fn cross_entropy_ignore(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let (_, k, _, _) = logits.dims4()?;
    let mask = labels.ne(IGNORE as u32)?.to_dtype(DType::F32)?;
    let safe = labels.minimum((k - 1) as u32)?;
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    let picked = logp.gather(&safe.unsqueeze(1)?.contiguous()?, 1)?.squeeze(1)?;
    let count = mask.sum_all()?.maximum(1f32)?;
    (picked * &mask)?.sum_all()?.neg()?.broadcast_div(&count)
}

/// The reference's multi-exit loss: the mean of each exit's cross-entropy. Also returns each
/// exit's loss value for the log.
pub fn multi_exit_loss(exit_logits: &[Tensor], labels: &Tensor) -> Result<(Tensor, Vec<f32>)> {
    let losses = exit_logits.iter().map(|l| cross_entropy_ignore(l, labels)).collect::<Result<Vec<_>>>()?;
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
}
