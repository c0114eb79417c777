//! Training-mode BatchNorm on CUDA: batch statistics in one kernel (one block per channel),
//! normalisation in one, backward in two; the running statistics are updated on the device,
//! so nothing is copied to the host. candle_nn's training path (the GPU fallback) runs about
//! a dozen kernels and temporaries per layer, forward and backward.
//!
//! No fused BatchNorm+ReLU: in ADD's cells ReLU comes first (ReLU, conv, BN), and inference
//! folds every BN into its conv; BN followed by ReLU is only in the stem and the head, a few
//! layers of the whole net, where candle's one ReLU kernel is cheap beside the conv.

use super::{dense, launch};
use crate::kernels::launch::{elementwise, int_arg, per_reduction};
use candle_core::{CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, Var, bail};
use candle_nn::BatchNorm;

/// `bn.forward_t(x, true)` for f32 CUDA tensors: like `kernels::batch_norm_train`, with
/// PyTorch's running-statistics update. `gamma`, `beta` are bn's affine parameters.
pub(crate) fn batch_norm_train(x: &Tensor, bn: &BatchNorm, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let x = x.contiguous()?;
    // (3,C): mean, invstd, var of the batch; constants to autograd, the backward accounts for them
    let stats = x.detach().apply_op1_no_bwd(&BnStats { eps: bn.eps() as f32 })?;
    // (5,C) rows gamma, beta, mean, invstd, var: gradients reach gamma and beta through the cat
    let params = Tensor::cat(&[&gamma.reshape((1, c))?, &beta.reshape((1, c))?, &stats], 0)?;
    let y = x.apply_op2(&params, BnApply)?;
    let m = (n * h * w) as f64;
    let mom = bn.momentum();
    let unbiased = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
    let update = |running: &Tensor, batch: Tensor, scale: f64| -> Result<()> {
        let batch = (batch * (mom * scale))?.to_dtype(running.dtype())?;
        Var::from_tensor(running)?.set(&((running * (1.0 - mom))? + batch)?)
    };
    update(bn.running_mean(), stats.get(0)?, 1.0)?;
    update(bn.running_var(), stats.get(2)?, unbiased)?;
    Ok(y)
}

/// Batch mean, invstd and biased variance per channel of contiguous (N,C,H,W) x: (3,C).
struct BnStats {
    eps: f32,
}

impl CustomOp1 for BnStats {
    fn name(&self) -> &'static str {
        "batch_norm_stats_cuda"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("batch_norm_stats_cuda runs on CUDA only; the CPU has kernels::batch_norm_stats_apply")
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let dev = s.device.clone();
        let xv = dense(s, l, "batch_norm x")?;
        let (ni, ci, hw) = (int_arg(n, "batch")?, int_arg(c, "channels")?, int_arg(h * w, "height x width")?);
        // SAFETY: block c writes the three statistics of channel c.
        let stats = unsafe { dev.alloc::<f32>(3 * c)? };
        launch!(dev, "bn_stats", per_reduction(c)?; &xv, &stats, &ni, &ci, &hw, &self.eps);
        Ok((CudaStorage::wrap_cuda_slice(stats, dev), Shape::from((3, c))))
    }
}

/// y = (x - mean) * invstd * gamma + beta from x and the (5,C) parameters.
struct BnApply;

impl CustomOp2 for BnApply {
    fn name(&self) -> &'static str {
        "batch_norm_apply_cuda"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("batch_norm_apply_cuda runs on CUDA only; the CPU has kernels::batch_norm_stats_apply")
    }

    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout, s2: &CudaStorage, l2: &Layout) -> Result<(CudaStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let dev = s1.device.clone();
        let (xv, pv) = (dense(s1, l1, "batch_norm x")?, dense(s2, l2, "batch_norm parameters")?);
        let (ci, hw, total) = (int_arg(c, "channels")?, int_arg(h * w, "height x width")?, (n * c * h * w) as u64);
        // SAFETY: bn_apply writes every element.
        let y = unsafe { dev.alloc::<f32>(total as usize)? };
        launch!(dev, "bn_apply", elementwise(total as usize); &xv, &pv, &y, &ci, &hw, &total);
        Ok((CudaStorage::wrap_cuda_slice(y, dev), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, params: &Tensor, _res: &Tensor, gy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let gy = gy.contiguous()?;
        // (2,C): dgamma, dbeta
        let sums = x.apply_op3_no_bwd(&gy, params, &BnGrad::Sums)?;
        let gx = x.apply_op3_no_bwd(&gy, &Tensor::cat(&[params, &sums], 0)?, &BnGrad::Input)?;
        // the statistics rows are constants: zero gradient
        let c = params.dim(1)?;
        let gparams = Tensor::cat(&[&sums, &Tensor::zeros((3, c), params.dtype(), params.device())?], 0)?;
        Ok((Some(gx), Some(gparams)))
    }
}

/// The backward's two kernels, both from (x, gy, per-channel rows):
/// - `Sums`: rows (5,C) -> (2,C) rows dgamma, dbeta;
/// - `Input`: rows (7,C), the parameters then the sums -> dL/dx.
#[derive(Clone, Copy)]
enum BnGrad {
    Sums,
    Input,
}

impl CustomOp3 for BnGrad {
    fn name(&self) -> &'static str {
        match self {
            BnGrad::Sums => "batch_norm_grad_sums_cuda",
            BnGrad::Input => "batch_norm_grad_input_cuda",
        }
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        bail!("{} runs on CUDA only; the CPU has kernels::batch_norm_stats_apply", self.name())
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        if l2.dims() != l1.dims() {
            bail!("batch_norm backward: gradient {:?} differs from input {:?}", l2.dims(), l1.dims())
        }
        let dev = s1.device.clone();
        let (xv, gv) = (dense(s1, l1, "batch_norm x")?, dense(s2, l2, "batch_norm grad")?);
        let pv = dense(s3, l3, "batch_norm parameters")?;
        let (ci, hw) = (int_arg(c, "channels")?, int_arg(h * w, "height x width")?);
        match self {
            BnGrad::Sums => {
                let ni = int_arg(n, "batch")?;
                // SAFETY: block c writes both sums of channel c.
                let out = unsafe { dev.alloc::<f32>(2 * c)? };
                launch!(dev, "bn_bwd_sums", per_reduction(c)?; &xv, &gv, &pv, &out, &ni, &ci, &hw);
                Ok((CudaStorage::wrap_cuda_slice(out, dev), Shape::from((2, c))))
            }
            BnGrad::Input => {
                let (total, m) = ((n * c * h * w) as u64, (n * h * w) as f64);
                // SAFETY: bn_bwd_dx writes every element.
                let gx = unsafe { dev.alloc::<f32>(total as usize)? };
                launch!(dev, "bn_bwd_dx", elementwise(total as usize); &xv, &gv, &pv, &gx, &ci, &hw, &total, &m);
                Ok((CudaStorage::wrap_cuda_slice(gx, dev), l1.shape().clone()))
            }
        }
    }
}
