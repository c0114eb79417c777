//! Bilinear resize as a candle custom op: candle's `upsample_bilinear2d` has no backward, and
//! the network resizes features (cell inputs, dense fusion, decoder) on the training path.

use super::resize_cpu::{axis_taps, resize_plane, resize_plane_bwd};
use super::util::{
    assume_init, dense_f32, dense_on_gpu, par_planes, shape_str, uninit_f32, use_cpu_kernel, use_cuda_kernel, zeroed,
};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};

/// Bilinear resize of x (N,C,H,W) to (N,C,out_h,out_w), exactly PyTorch's
/// `F.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners=...)` (no antialias),
/// with a backward pass on CPU/f32 and, with `--features cuda`, on f32 GPU tensors; elsewhere
/// [`super::fallback::resize_bilinear`], the same taps as gathers and blends (candle's
/// `upsample_bilinear2d` has no backward).
pub fn resize_bilinear(x: &Tensor, out_h: usize, out_w: usize, align_corners: bool) -> Result<Tensor> {
    let Ok((_, _, h, w)) = x.dims4() else {
        bail!("resize_bilinear: input x must be (N,C,H,W), got {}", shape_str(x.dims()))
    };
    if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
        bail!("resize_bilinear: sizes must be non-zero, got input (H,W)=({h},{w}) and output ({out_h},{out_w})")
    }
    if (h, w) == (out_h, out_w) {
        // Both align_corners modes are the identity here (scale 1, zero fractions).
        return Ok(x.clone());
    }
    if !use_cpu_kernel(x) && !use_cuda_kernel(x) {
        return super::fallback::resize_bilinear(x, out_h, out_w, align_corners);
    }
    dense_on_gpu(x)?.apply_op1(ResizeBilinear { out_h, out_w, align_corners })
}

/// Forward op: the target size; the input size comes from the layout.
#[derive(Clone, Copy, Debug)]
struct ResizeBilinear {
    out_h: usize,
    out_w: usize,
    align_corners: bool,
}

impl CustomOp1 for ResizeBilinear {
    fn name(&self) -> &'static str {
        "resize_bilinear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let (oh, ow) = (self.out_h, self.out_w);
        let x = dense_f32(s, l, "resize_bilinear x")?;
        let ty = axis_taps(h, oh, self.align_corners);
        let tx = axis_taps(w, ow, self.align_corners);
        let mut out = uninit_f32(n * c * oh * ow);
        par_planes(&mut out, oh * ow, 3 * (oh + h) * ow, |i, plane, scratch| {
            resize_plane(&x[i * h * w..(i + 1) * h * w], w, &ty, &tx, plane, scratch);
        });
        // SAFETY: resize_plane writes every element of every plane.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (n, c, _, _) = l.shape().dims4()?;
        let y = super::cuda::resize::forward(s, l, (self.out_h, self.out_w), self.align_corners)?;
        Ok((y, Shape::from((n, c, self.out_h, self.out_w))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, gy: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = x.dims4()?;
        let op = ResizeBilinearGrad { in_h: h, in_w: w, fwd: *self };
        Ok(Some(dense_on_gpu(gy)?.apply_op1_no_bwd(&op)?))
    }
}

/// dL/dx from dL/dy: scatter-add of each output gradient onto its four source pixels.
#[derive(Clone, Copy, Debug)]
struct ResizeBilinearGrad {
    in_h: usize,
    in_w: usize,
    fwd: ResizeBilinear,
}

impl ResizeBilinearGrad {
    /// (N,C,oh,ow) of the incoming gradient, which must have the forward's output size.
    fn grad_dims(&self, l: &Layout) -> Result<(usize, usize, usize, usize)> {
        let (n, c, oh, ow) = l.shape().dims4()?;
        if (oh, ow) != (self.fwd.out_h, self.fwd.out_w) {
            bail!(
                "resize_bilinear backward: gradient must be (N,C,{},{}), got {}",
                self.fwd.out_h,
                self.fwd.out_w,
                shape_str(l.dims())
            )
        }
        Ok((n, c, oh, ow))
    }
}

impl CustomOp1 for ResizeBilinearGrad {
    fn name(&self) -> &'static str {
        "resize_bilinear_grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, oh, ow) = self.grad_dims(l)?;
        let (h, w) = (self.in_h, self.in_w);
        let gy = dense_f32(s, l, "resize_bilinear grad")?;
        let ty = axis_taps(h, oh, self.fwd.align_corners);
        let tx = axis_taps(w, ow, self.fwd.align_corners);
        let mut out = uninit_f32(n * c * h * w);
        par_planes(&mut out, h * w, 3 * (oh + h) * ow, |i, plane, scratch| {
            resize_plane_bwd(&gy[i * oh * ow..(i + 1) * oh * ow], &ty, &tx, zeroed(plane), w, scratch);
        });
        // SAFETY: `zeroed` initialised every plane.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((n, c, h, w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (n, c, _, _) = self.grad_dims(l)?;
        let gx = super::cuda::resize::backward(s, l, (self.in_h, self.in_w), self.fwd.align_corners)?;
        Ok((gx, Shape::from((n, c, self.in_h, self.in_w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fd_check, rand_t};
    use candle_core::Device;

    #[test]
    fn matches_candle_upsample_bilinear2d() {
        // (h, w) -> (oh, ow): up, down, mixed, odd sizes, to and from a single pixel.
        let cases = [
            ((17, 23), (33, 45)),
            ((65, 129), (129, 257)),
            ((65, 129), (33, 65)),
            ((17, 23), (5, 7)),
            ((17, 33), (40, 9)),
            ((9, 7), (1, 1)),
            ((1, 5), (4, 11)),
            ((33, 65), (257, 513)),
            ((129, 257), (17, 33)),
        ];
        for (i, &((h, w), (oh, ow))) in cases.iter().enumerate() {
            for align in [false, true] {
                let n = 1 + i % 2;
                let x = rand_t(&[n, 3, h, w], i as u64);
                let ours = resize_bilinear(&x, oh, ow, align).unwrap();
                let theirs = x.upsample_bilinear2d(oh, ow, align).unwrap();
                // We place source pixels in f32 like PyTorch's CPU kernel (opmath_t = float),
                // candle in f64: the fraction then differs by up to ~2 ulp of the source
                // coordinate per axis, times |x1 - x0| <= 2 max|x|. Up to 64 pixels wide that
                // stays under the 1e-5 budget; beyond, the budget grows with that bound.
                let max_in = h.max(w) as f64;
                let tol = 1e-5f64.max(2.0 * 2.0 * 2.0 * max_in * f32::EPSILON as f64 / 2.0);
                assert_close(&ours, &theirs, tol, &format!("{h}x{w} -> {oh}x{ow} align={align}"));
            }
        }
    }

    #[test]
    fn source_fractions_are_within_rounding_of_exact() {
        use crate::kernels::resize_cpu::axis_taps;
        for (n_in, n_out) in [(65, 129), (129, 257), (257, 65), (33, 65), (7, 3)] {
            for align in [false, true] {
                let scale = if align { (n_in - 1) as f64 / (n_out - 1) as f64 } else { n_in as f64 / n_out as f64 };
                for (i, t) in axis_taps(n_in, n_out, align).iter().enumerate() {
                    let src = if align { scale * i as f64 } else { (scale * (i as f64 + 0.5) - 0.5).max(0.0) };
                    let ours = t.i0 as f64 + t.l1 as f64;
                    let ulp = (src.max(1.0) * f32::EPSILON as f64).max(f32::EPSILON as f64);
                    assert!((ours - src).abs() <= 4.0 * ulp, "{n_in}->{n_out} align={align} i={i}: {ours} vs {src}");
                    assert!((t.l0 + t.l1 - 1.0).abs() <= f32::EPSILON, "weights must sum to 1");
                }
            }
        }
    }

    #[test]
    fn pytorch_reference_values() {
        // torch.nn.functional.interpolate(torch.arange(4.).view(1,1,1,4), size=(1,8), mode='bilinear')
        let x = Tensor::arange(0f32, 4., &Device::Cpu).unwrap().reshape((1, 1, 1, 4)).unwrap();
        let y: Vec<f32> = resize_bilinear(&x, 1, 8, false).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(y, [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]);
        // align_corners=True, size 7: exact halves.
        let y: Vec<f32> = resize_bilinear(&x, 1, 7, true).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(y, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]);
        // Downsampling 4 -> 2 without align_corners averages pairs: src = 0.5, 2.5.
        let y: Vec<f32> = resize_bilinear(&x, 1, 2, false).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(y, [0.5, 2.5]);
    }

    #[test]
    fn identity_and_non_contiguous() {
        let x = rand_t(&[2, 3, 7, 9], 1);
        assert_close(&resize_bilinear(&x, 7, 9, true).unwrap(), &x, 0.0, "identity");
        let xt = rand_t(&[2, 3, 9, 7], 2).transpose(2, 3).unwrap();
        let ours = resize_bilinear(&xt, 13, 4, false).unwrap();
        let theirs = xt.contiguous().unwrap().upsample_bilinear2d(13, 4, false).unwrap();
        assert_close(&ours, &theirs, 1e-5, "transposed input");
    }

    #[test]
    fn gradients_by_finite_differences() {
        let cases = [((3, 4), (7, 9)), ((7, 9), (3, 4)), ((5, 5), (9, 2)), ((1, 3), (2, 5)), ((6, 7), (1, 1))];
        for (i, &((h, w), (oh, ow))) in cases.iter().enumerate() {
            for align in [false, true] {
                let x = rand_t(&[2, 2, h, w], 10 + i as u64);
                let f = |t: &[Tensor]| resize_bilinear(&t[0], oh, ow, align);
                let e = fd_check(&f, &[x], 20 + i as u64);
                assert!(e <= 1e-3, "{h}x{w} -> {oh}x{ow} align={align}: gradient error {e:.3e}");
            }
        }
    }

    #[test]
    fn errors_name_the_tensor_and_shape() {
        let e = resize_bilinear(&rand_t(&[3, 4, 5], 1), 8, 8, false).unwrap_err().to_string();
        assert!(e.contains("resize_bilinear: input x must be (N,C,H,W), got (3,4,5)"), "{e}");
        let e = resize_bilinear(&rand_t(&[1, 3, 4, 5], 1), 0, 8, false).unwrap_err().to_string();
        assert!(e.contains("non-zero"), "{e}");
    }
}
