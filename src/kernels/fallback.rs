//! What our kernels run on CUDA/Metal (and for dtypes other than f32): the same maths built only
//! from candle ops that every backend has and that all have a backward pass. The unit tests run
//! these on the CPU against the fast kernels, so the GPU path is checked without a GPU.

use super::resize_cpu::axis_taps;
use candle_core::{Result, Tensor};

/// Depthwise conv (x (N,C,H,W), w (C,1,k,k)) as a sum of k*k shifted, strided views of the
/// zero-padded input, each times its per-channel tap: 2k² element-wise ops. candle's grouped
/// conv2d instead runs one convolution per channel (C im2col + GEMM launches on a GPU).
/// Output sizes are PyTorch's; the caller has checked that the kernel fits.
pub(crate) fn depthwise_conv2d(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    let k = w.dim(2)?;
    let span = dilation * (k - 1) + 1;
    let (oh, ow) = ((h + 2 * padding - span) / stride + 1, (wd + 2 * padding - span) / stride + 1);
    let xp = if padding > 0 {
        x.pad_with_zeros(2, padding, padding)?.pad_with_zeros(3, padding, padding)?
    } else {
        x.clone()
    };
    let mut acc: Option<Tensor> = None;
    for ky in 0..k {
        let rows = strided(&xp, 2, ky * dilation, oh, stride)?;
        for kx in 0..k {
            let view = strided(&rows, 3, kx * dilation, ow, stride)?;
            let tap = w.narrow(2, ky, 1)?.narrow(3, kx, 1)?.reshape((1, c, 1, 1))?;
            let term = view.broadcast_mul(&tap)?;
            acc = Some(match acc {
                Some(a) => (a + term)?,
                None => term,
            });
        }
    }
    acc.ok_or_else(|| candle_core::Error::Msg("depthwise_conv2d: empty kernel".into()))
}

/// Elements `start, start + stride, ...` (`len` of them) of `x` along `dim`: a view for stride 1,
/// a gather otherwise.
fn strided(x: &Tensor, dim: usize, start: usize, len: usize, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return x.narrow(dim, start, len);
    }
    let idx: Vec<u32> = (0..len).map(|i| (start + i * stride) as u32).collect();
    // candle's index-select (CUDA and CPU) reads only contiguous sources; views are not
    x.contiguous()?.index_select(&Tensor::new(idx, x.device())?, dim)
}

/// Bilinear resize with PyTorch's `F.interpolate` size-mode arithmetic, separable like the CPU
/// kernel: two gathers and a blend along W, then along H, with the CPU kernel's taps. Not
/// candle's `upsample_bilinear2d`: it has no backward, and it places source pixels in f64 where
/// PyTorch (CPU and CUDA) and our kernel use f32, which differs by up to ~4 * size * f32::EPSILON.
pub(crate) fn resize_bilinear(x: &Tensor, out_h: usize, out_w: usize, align_corners: bool) -> Result<Tensor> {
    let y = blend_axis(x, 3, out_w, align_corners)?;
    blend_axis(&y, 2, out_h, align_corners)
}

/// Resizes `x` along `dim` (2 or 3 of an NCHW tensor) to `out_len`: `l0 * x[i0] + l1 * x[i1]`.
fn blend_axis(x: &Tensor, dim: usize, out_len: usize, align_corners: bool) -> Result<Tensor> {
    let in_len = x.dim(dim)?;
    if in_len == out_len {
        return Ok(x.clone());
    }
    let taps = axis_taps(in_len, out_len, align_corners);
    let dev = x.device();
    let i0 = Tensor::new(taps.iter().map(|t| t.i0 as u32).collect::<Vec<_>>(), dev)?;
    let i1 = Tensor::new(taps.iter().map(|t| t.i1 as u32).collect::<Vec<_>>(), dev)?;
    let mut shape = [1usize; 4];
    shape[dim] = out_len;
    let weights = |l: Vec<f32>| Tensor::from_vec(l, &shape[..], dev)?.to_dtype(x.dtype());
    let l0 = weights(taps.iter().map(|t| t.l0).collect())?;
    let l1 = weights(taps.iter().map(|t| t.l1).collect())?;
    // candle's index-select (CUDA and CPU) reads only contiguous sources, and in training a
    // cell's input can be a view
    let x = x.contiguous()?;
    let a = x.index_select(&i0, dim)?.broadcast_mul(&l0)?;
    let b = x.index_select(&i1, dim)?.broadcast_mul(&l1)?;
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fd_check, rand_t};
    use candle_core::Var;

    #[test]
    fn depthwise_matches_the_cpu_kernel() {
        // (H, W, k, stride, padding, dilation): the sep-conv, dil-conv and strided shapes.
        let cases = [
            (17, 33, 3, 1, 1, 1),
            (17, 33, 5, 1, 2, 1),
            (17, 33, 3, 1, 2, 2),
            (17, 33, 5, 1, 4, 2),
            (16, 31, 3, 2, 1, 1),
            (17, 33, 5, 2, 2, 1),
            (9, 8, 3, 3, 0, 1),
        ];
        for (i, &(h, w, k, s, p, d)) in cases.iter().enumerate() {
            let x = rand_t(&[2, 6, h, w], 100 + i as u64);
            let wt = rand_t(&[6, 1, k, k], 200 + i as u64);
            let fast = crate::kernels::depthwise_conv2d(&x, &wt, s, p, d).unwrap();
            let generic = depthwise_conv2d(&x, &wt, s, p, d).unwrap();
            assert_close(&generic, &fast, 1e-5, &format!("depthwise case {i}"));
        }
    }

    #[test]
    fn depthwise_gradients_match_the_cpu_kernel() {
        for (i, &(s, p, d)) in [(1, 1, 1), (1, 2, 2), (2, 1, 1)].iter().enumerate() {
            let x = Var::from_tensor(&rand_t(&[2, 3, 9, 10], 300 + i as u64)).unwrap();
            let wt = Var::from_tensor(&rand_t(&[3, 1, 3, 3], 310 + i as u64)).unwrap();
            let r = rand_t(crate::kernels::depthwise_conv2d(&x, &wt, s, p, d).unwrap().dims(), 320);
            let grads = |y: Tensor| (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gf = grads(crate::kernels::depthwise_conv2d(&x, &wt, s, p, d).unwrap());
            let gg = grads(depthwise_conv2d(&x, &wt, s, p, d).unwrap());
            for v in [&x, &wt] {
                assert_close(gg.get(v).unwrap(), gf.get(v).unwrap(), 1e-5, &format!("depthwise grad case {i}"));
            }
        }
    }

    #[test]
    fn resize_matches_the_cpu_kernel() {
        let cases = [((17, 23), (33, 45)), ((65, 129), (129, 257)), ((17, 33), (40, 9)), ((9, 7), (1, 1))];
        for (i, &((h, w), (oh, ow))) in cases.iter().enumerate() {
            for align in [false, true] {
                let x = rand_t(&[2, 3, h, w], 400 + i as u64);
                let fast = crate::kernels::resize_bilinear(&x, oh, ow, align).unwrap();
                let case = format!("resize {h}x{w}->{oh}x{ow} align={align}");
                assert_close(&resize_bilinear(&x, oh, ow, align).unwrap(), &fast, 1e-5, &case);
            }
        }
    }

    #[test]
    fn resize_gradients_by_finite_differences() {
        for (i, &((h, w), (oh, ow))) in [((3, 4), (7, 9)), ((7, 9), (3, 4)), ((6, 7), (1, 1))].iter().enumerate() {
            for align in [false, true] {
                let f = |t: &[Tensor]| resize_bilinear(&t[0], oh, ow, align);
                let e = fd_check(&f, &[rand_t(&[1, 2, h, w], 500 + i as u64)], 510 + i as u64);
                assert!(e <= 1e-4, "resize grad {h}x{w}->{oh}x{ow} align={align}: {e:.3e}");
            }
        }
    }

    /// f64 inputs take every public entry point's non-CPU branch (the one CUDA runs); it must
    /// agree with the f32 fast path. BatchNorm's branch (candle_nn's training forward) is
    /// checked in `batchnorm.rs`.
    #[test]
    fn entry_points_generic_branch_matches_fast_path() {
        use crate::kernels as k;
        use candle_core::DType::F64;
        let f64_ = |t: &Tensor| t.to_dtype(F64).unwrap();
        let x = rand_t(&[2, 8, 17, 33], 600);
        let (w1, b) = (rand_t(&[5, 8, 1, 1], 601), rand_t(&[5], 602));
        let y = k::conv1x1(&f64_(&x), &f64_(&w1), Some(&f64_(&b))).unwrap();
        assert_close(&y, &k::conv1x1(&x, &w1, Some(&b)).unwrap(), 1e-5, "conv1x1");
        let w3 = rand_t(&[5, 8, 3, 3], 603);
        for (s, p, d) in [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 0, 1)] {
            let y = k::conv2d(&f64_(&x), &f64_(&w3), Some(&f64_(&b)), s, p, d).unwrap();
            assert_close(&y, &k::conv2d(&x, &w3, Some(&b), s, p, d).unwrap(), 1e-5, &format!("conv2d s{s} p{p} d{d}"));
        }
        let wd = rand_t(&[8, 1, 5, 5], 604);
        let y = k::depthwise_conv2d(&f64_(&x), &f64_(&wd), 2, 2, 1).unwrap();
        assert_close(&y, &k::depthwise_conv2d(&x, &wd, 2, 2, 1).unwrap(), 1e-5, "depthwise");
        for align in [false, true] {
            let y = k::resize_bilinear(&f64_(&x), 65, 129, align).unwrap();
            assert_close(&y, &k::resize_bilinear(&x, 65, 129, align).unwrap(), 1e-5, "resize");
        }
    }
}
