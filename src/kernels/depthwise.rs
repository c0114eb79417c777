//! Depthwise kxk convolution as a candle custom op: candle 0.11 runs grouped conv2d as one
//! convolution per channel (chunk + cat), about 10x slower than PyTorch on sep-convs.

use super::depthwise_cpu::{Geom, corr_plane, scatter_plane, weight_grad_plane};
use super::launch::MAX_DEPTHWISE_K;
use super::util::{
    assume_init, dense_f32, dense_on_gpu, has_avx2_fma, par_planes, shape_str, uninit_f32, use_cpu_kernel,
    use_cuda_kernel,
};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, bail};

/// Depthwise conv2d, like PyTorch `F.conv2d(x, w, stride, padding, dilation, groups=C)`:
/// x (N,C,H,W), w (C,1,k,k), no bias. Fast CPU/f32 kernel with backward, and with `--features
/// cuda` CUDA kernels for f32 GPU tensors (k <= 8); elsewhere a sum of shifted views
/// ([`super::fallback`]), not candle's grouped conv2d (one conv per channel).
pub fn depthwise_conv2d(x: &Tensor, w: &Tensor, stride: usize, padding: usize, dilation: usize) -> Result<Tensor> {
    let Ok((_, c, h, wd)) = x.dims4() else {
        bail!("depthwise_conv2d: input x must be (N,C,H,W), got {}", shape_str(x.dims()))
    };
    let k = match w.dims() {
        &[wc, 1, kh, kw] if wc == c && kh == kw && kh > 0 => kh,
        d => bail!("depthwise_conv2d: weight must be (C,1,k,k) with C={c}, got {}", shape_str(d)),
    };
    if stride == 0 || dilation == 0 {
        bail!("depthwise_conv2d: stride and dilation must be >= 1, got stride={stride} dilation={dilation}")
    }
    out_size(h, k, stride, padding, dilation).zip(out_size(wd, k, stride, padding, dilation)).ok_or_else(|| {
        candle_core::Error::Msg(format!(
            "depthwise_conv2d: input x (H,W)=({h},{wd}) is smaller than the dilated kernel \
                 {} with padding {padding}",
            dilation * (k - 1) + 1
        ))
    })?;
    if x.dtype() != w.dtype() {
        bail!("depthwise_conv2d: weight dtype {:?} differs from input dtype {:?}", w.dtype(), x.dtype())
    }
    let ours = use_cpu_kernel(x) || (use_cuda_kernel(x) && k <= MAX_DEPTHWISE_K);
    if !ours || !w.device().same_device(x.device()) {
        return super::fallback::depthwise_conv2d(x, w, stride, padding, dilation);
    }
    dense_on_gpu(x)?.apply_op2(&dense_on_gpu(w)?, DepthwiseConv { stride, padding, dilation })
}

/// PyTorch's output size `(n + 2p - d(k-1) - 1) / s + 1`, `None` when the kernel does not fit.
fn out_size(n: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    (n + 2 * p).checked_sub(d * (k - 1) + 1).map(|v| v / s + 1)
}

/// Forward op; parameters of the conv, shapes come from the layouts.
#[derive(Clone, Copy, Debug)]
struct DepthwiseConv {
    stride: usize,
    padding: usize,
    dilation: usize,
}

impl DepthwiseConv {
    /// Forward geometry for an input plane of `h x w` and kernel `k`.
    fn geom(&self, h: usize, w: usize, k: usize) -> Result<Geom> {
        let (s, p, d) = (self.stride, self.padding, self.dilation);
        let (Some(oh), Some(ow)) = (out_size(h, k, s, p, d), out_size(w, k, s, p, d)) else {
            bail!("depthwise_conv2d: input ({h},{w}) is smaller than the dilated kernel")
        };
        Ok(Geom { ih: h, iw: w, oh, ow, k, s, d, pad: p as isize, simd: has_avx2_fma() })
    }

    /// The CUDA kernels' arguments for x (N,C,H,W) and kernel size `k`.
    #[cfg(feature = "cuda")]
    fn cuda_args(&self, x: &Layout, k: usize) -> Result<super::launch::DepthwiseArgs> {
        let (n, c, h, w) = x.shape().dims4()?;
        let g = self.geom(h, w, k)?;
        super::launch::DepthwiseArgs::new(n, c, (h, w), (g.oh, g.ow), k, self.stride, self.padding, self.dilation)
    }
}

impl CustomOp2 for DepthwiseConv {
    fn name(&self) -> &'static str {
        "depthwise_conv2d"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let k = l2.dims()[2];
        let g = self.geom(h, w, k)?;
        let x = dense_f32(s1, l1, "depthwise_conv2d x")?;
        let wt = dense_f32(s2, l2, "depthwise_conv2d w")?;
        let mut out = uninit_f32(n * c * g.oh * g.ow);
        par_planes(&mut out, g.oh * g.ow, 2 * k * k * g.oh * g.ow, |i, plane, scratch| {
            let ch = i % c;
            let xp = &x[i * h * w..(i + 1) * h * w];
            corr_plane(xp, &wt[ch * k * k..(ch + 1) * k * k], plane, &g, scratch);
        });
        // SAFETY: corr_plane writes every element of every plane.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((n, c, g.oh, g.ow))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let a = self.cuda_args(l1, l2.dims()[2])?;
        let y = super::cuda::depthwise::forward(&a, s1, l1, s2, l2)?;
        Ok((y, Shape::from((a.n as usize, a.c as usize, a.oh as usize, a.ow as usize))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, gy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, h, wd) = x.dims4()?;
        let k = w.dim(2)?;
        let gy = &dense_on_gpu(gy)?;
        let gx = gy.apply_op2_no_bwd(w, &DepthwiseInputGrad { conv: *self, ih: h, iw: wd })?;
        let gw = x.apply_op2_no_bwd(gy, &DepthwiseWeightGrad { conv: *self, k })?;
        Ok((Some(gx), Some(gw)))
    }
}

/// dL/dx from (gy, w): a stride-1 correlation with the flipped kernel, or a scatter for stride > 1.
#[derive(Clone, Copy, Debug)]
struct DepthwiseInputGrad {
    conv: DepthwiseConv,
    ih: usize,
    iw: usize,
}

impl CustomOp2 for DepthwiseInputGrad {
    fn name(&self) -> &'static str {
        "depthwise_conv2d_input_grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, oh, ow) = l1.shape().dims4()?;
        let k = l2.dims()[2];
        let (ih, iw) = (self.ih, self.iw);
        let g = self.conv.geom(ih, iw, k)?;
        if (g.oh, g.ow) != (oh, ow) {
            bail!("depthwise_conv2d backward: gradient must be (N,C,{},{}), got {}", g.oh, g.ow, shape_str(l1.dims()))
        }
        let gy = dense_f32(s1, l1, "depthwise_conv2d grad")?;
        let wt = dense_f32(s2, l2, "depthwise_conv2d w")?;
        let kk = k * k;
        // Stride 1: gx[iy,ix] = sum w[k-1-ky', k-1-kx'] * gy[iy + ky'd - ((k-1)d - p), ...].
        let flipped: Vec<f32> = (0..c * kk)
            .map(|i| {
                let (ch, t) = (i / kk, i % kk);
                wt[ch * kk + (kk - 1 - t)]
            })
            .collect();
        let pad = ((k - 1) * g.d) as isize - g.pad;
        let gt = Geom { ih: oh, iw: ow, oh: ih, ow: iw, k, s: 1, d: g.d, pad, simd: g.simd };
        let mut out = uninit_f32(n * c * ih * iw);
        par_planes(&mut out, ih * iw, 2 * kk * oh * ow, |i, plane, scratch| {
            let ch = i % c;
            let gp = &gy[i * oh * ow..(i + 1) * oh * ow];
            if g.s == 1 {
                corr_plane(gp, &flipped[ch * kk..(ch + 1) * kk], plane, &gt, scratch);
            } else {
                scatter_plane(gp, &wt[ch * kk..(ch + 1) * kk], plane, &g, scratch);
            }
        });
        // SAFETY: corr_plane and scatter_plane write every element of every plane.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((n, c, ih, iw))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (n, c, oh, ow) = l1.shape().dims4()?;
        let a = super::launch::DepthwiseArgs::new(
            n,
            c,
            (self.ih, self.iw),
            (oh, ow),
            l2.dims()[2],
            self.conv.stride,
            self.conv.padding,
            self.conv.dilation,
        )?;
        let g = self.conv.geom(self.ih, self.iw, l2.dims()[2])?;
        if (g.oh, g.ow) != (oh, ow) {
            bail!("depthwise_conv2d backward: gradient must be (N,C,{},{}), got {}", g.oh, g.ow, shape_str(l1.dims()))
        }
        let gx = super::cuda::depthwise::input_grad(&a, s1, l1, s2, l2)?;
        Ok((gx, Shape::from((n, c, self.ih, self.iw))))
    }
}

/// dL/dw from (x, gy): per channel, row dot products summed over the batch.
#[derive(Clone, Copy, Debug)]
struct DepthwiseWeightGrad {
    conv: DepthwiseConv,
    /// Kernel size: the weight is not an input of this op and, for stride > 1, several k
    /// give the same output size.
    k: usize,
}

impl CustomOp2 for DepthwiseWeightGrad {
    fn name(&self) -> &'static str {
        "depthwise_conv2d_weight_grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let (_, _, oh, ow) = l2.shape().dims4()?;
        let k = self.k;
        let g = self.conv.geom(h, w, k)?;
        if (g.oh, g.ow) != (oh, ow) {
            bail!("depthwise_conv2d backward: gradient must be (N,C,{},{}), got {}", g.oh, g.ow, shape_str(l2.dims()))
        }
        let x = dense_f32(s1, l1, "depthwise_conv2d x")?;
        let gy = dense_f32(s2, l2, "depthwise_conv2d grad")?;
        let kk = k * k;
        let mut out = vec![0f32; c * kk];
        par_planes(&mut out, kk, 2 * kk * oh * ow * n, |ch, dst, scratch| {
            let mut acc = vec![0f64; kk];
            for b in 0..n {
                let i = b * c + ch;
                let xp = &x[i * h * w..(i + 1) * h * w];
                let gp = &gy[i * oh * ow..(i + 1) * oh * ow];
                weight_grad_plane(xp, gp, &g, &mut acc, scratch);
            }
            for (d, a) in dst.iter_mut().zip(&acc) {
                *d = *a as f32;
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((c, 1, k, k))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let a = self.conv.cuda_args(l1, self.k)?;
        if l2.dims() != [a.n as usize, a.c as usize, a.oh as usize, a.ow as usize] {
            bail!("depthwise_conv2d backward: gradient must be (N,C,{},{}), got {}", a.oh, a.ow, shape_str(l2.dims()))
        }
        let gw = super::cuda::depthwise::weight_grad(&a, s1, l1, s2, l2)?;
        Ok((gw, Shape::from((a.c as usize, 1, self.k, self.k))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fd_check, rand_t};
    use candle_core::DType;

    /// Independent f64 reference: the definition of a depthwise correlation, loop by loop.
    fn naive(x: &Tensor, w: &Tensor, s: usize, p: usize, d: usize) -> Tensor {
        let (n, c, h, wd) = x.dims4().unwrap();
        let k = w.dim(2).unwrap();
        let xv: Vec<f64> = x.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let wv: Vec<f64> = w.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let (oh, ow) = (out_size(h, k, s, p, d).unwrap(), out_size(wd, k, s, p, d).unwrap());
        let mut out = vec![0f64; n * c * oh * ow];
        for i in 0..n * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * s + ky * d) as isize - p as isize;
                            let ix = (ox * s + kx * d) as isize - p as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                acc +=
                                    wv[(i % c) * k * k + ky * k + kx] * xv[i * h * wd + iy as usize * wd + ix as usize];
                            }
                        }
                    }
                    out[i * oh * ow + oy * ow + ox] = acc;
                }
            }
        }
        Tensor::from_vec(out, (n, c, oh, ow), x.device()).unwrap().to_dtype(DType::F32).unwrap()
    }

    #[test]
    fn forward_matches_candle_grouped_conv() {
        let sizes = [(17, 23), (65, 129), (9, 7), (33, 20)];
        let mut case = 0u64;
        for k in [3, 5] {
            for d in [1, 2, 4] {
                for s in [1, 2] {
                    for p in 0..=4 {
                        case += 1;
                        let (h, w) = sizes[case as usize % sizes.len()];
                        let n = 1 + case as usize % 2;
                        let c = 3;
                        if out_size(h, k, s, p, d).is_none() || out_size(w, k, s, p, d).is_none() {
                            continue;
                        }
                        let x = rand_t(&[n, c, h, w], case);
                        let wt = rand_t(&[c, 1, k, k], 1000 + case);
                        let ours = depthwise_conv2d(&x, &wt, s, p, d).unwrap();
                        let theirs = x.conv2d(&wt, p, s, d, c).unwrap();
                        let name = format!("n{n} {h}x{w} k{k} s{s} p{p} d{d}");
                        assert_close(&ours, &theirs, 1e-5, &name);
                        assert_close(&ours, &naive(&x, &wt, s, p, d), 1e-5, &name);
                    }
                }
            }
        }
    }

    #[test]
    fn forward_real_network_shapes() {
        for (c, h, w, k, d) in [(20, 129, 257, 3, 1), (40, 65, 129, 5, 2), (80, 33, 65, 3, 2), (160, 17, 33, 5, 1)] {
            let x = rand_t(&[1, c, h, w], 7);
            let wt = rand_t(&[c, 1, k, k], 8);
            let p = d * (k - 1) / 2;
            let ours = depthwise_conv2d(&x, &wt, 1, p, d).unwrap();
            assert_eq!(ours.dims(), &[1, c, h, w]);
            assert_close(&ours, &x.conv2d(&wt, p, 1, d, c).unwrap(), 1e-5, &format!("C{c} {h}x{w} k{k} d{d}"));
        }
    }

    #[test]
    fn non_contiguous_input() {
        let base = rand_t(&[2, 4, 23, 17], 3);
        let x = base.transpose(2, 3).unwrap();
        assert!(!x.is_contiguous());
        let wt = rand_t(&[4, 1, 3, 3], 4);
        let ours = depthwise_conv2d(&x, &wt, 1, 1, 2).unwrap();
        let theirs = x.contiguous().unwrap().conv2d(&wt, 1, 1, 2, 4).unwrap();
        assert_close(&ours, &theirs, 1e-5, "transposed input");
        // A narrowed view (non-zero start offset) as well.
        let x = rand_t(&[3, 4, 11, 13], 5).narrow(0, 1, 2).unwrap().narrow(1, 1, 3).unwrap();
        let wt = rand_t(&[3, 1, 5, 5], 6);
        let ours = depthwise_conv2d(&x, &wt, 2, 2, 1).unwrap();
        assert_close(&ours, &naive(&x, &wt, 2, 2, 1), 1e-5, "narrowed input");
    }

    #[test]
    fn gradients_by_finite_differences() {
        // (h, w, k, s, p, d): odd sizes, stride 2, dilation 2 and 4, padding beyond (k-1)d.
        let cases = [
            (7, 9, 3, 1, 1, 1),
            (7, 8, 3, 2, 1, 1),
            (9, 7, 5, 1, 4, 2),
            (6, 7, 3, 1, 0, 2),
            (9, 10, 3, 2, 3, 4),
            (5, 6, 3, 1, 4, 1),
            (8, 9, 5, 2, 2, 1),
        ];
        for (i, &(h, w, k, s, p, d)) in cases.iter().enumerate() {
            let x = rand_t(&[2, 2, h, w], 50 + i as u64);
            let wt = rand_t(&[2, 1, k, k], 60 + i as u64);
            let f = |t: &[Tensor]| depthwise_conv2d(&t[0], &t[1], s, p, d);
            let e = fd_check(&f, &[x, wt], 70 + i as u64);
            assert!(e <= 1e-3, "case {i} {h}x{w} k{k} s{s} p{p} d{d}: gradient error {e:.3e}");
        }
    }

    #[test]
    fn gradients_match_candle_autograd() {
        let x = candle_core::Var::from_tensor(&rand_t(&[2, 3, 17, 23], 80)).unwrap();
        let wt = candle_core::Var::from_tensor(&rand_t(&[3, 1, 5, 5], 81)).unwrap();
        let r = rand_t(&[2, 3, 17, 23], 82);
        let ours = (depthwise_conv2d(&x, &wt, 1, 4, 2).unwrap() * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let theirs = (x.conv2d(&wt, 4, 1, 2, 3).unwrap() * &r).unwrap().sum_all().unwrap().backward().unwrap();
        for (v, name) in [(x.as_tensor(), "dx"), (wt.as_tensor(), "dw")] {
            assert_close(ours.get(v).unwrap(), theirs.get(v).unwrap(), 1e-5, name);
        }
    }

    #[test]
    fn portable_loops_match_too() {
        let portable = crate::kernels::util::PortableLoops::on_this_thread();
        let x = rand_t(&[2, 3, 17, 45], 90);
        let wt = rand_t(&[3, 1, 5, 5], 91);
        let fwd = depthwise_conv2d(&x, &wt, 1, 2, 2).unwrap();
        let e = fd_check(
            &|t: &[Tensor]| depthwise_conv2d(&t[0], &t[1], 1, 3, 1),
            &[rand_t(&[1, 2, 6, 11], 92), rand_t(&[2, 1, 3, 3], 93)],
            94,
        );
        let e2 = fd_check(
            &|t: &[Tensor]| depthwise_conv2d(&t[0], &t[1], 2, 1, 2),
            &[rand_t(&[1, 2, 7, 12], 95), rand_t(&[2, 1, 3, 3], 96)],
            97,
        );
        drop(portable);
        assert_close(&fwd, &naive(&x, &wt, 1, 2, 2), 1e-5, "portable forward");
        assert!(e <= 1e-3, "portable gradients: error {e:.3e}");
        assert!(e2 <= 1e-3, "portable gradients, stride 2: error {e2:.3e}");
    }

    #[test]
    fn errors_name_the_tensor_and_shape() {
        let x = rand_t(&[1, 40, 9, 9], 1);
        let e = depthwise_conv2d(&x, &rand_t(&[40, 2, 3, 3], 2), 1, 1, 1).unwrap_err().to_string();
        assert!(e.contains("weight must be (C,1,k,k) with C=40, got (40,2,3,3)"), "{e}");
        let e = depthwise_conv2d(&x, &rand_t(&[40, 1, 3, 3], 2), 0, 1, 1).unwrap_err().to_string();
        assert!(e.contains("stride"), "{e}");
        let e = depthwise_conv2d(&x, &rand_t(&[40, 1, 5, 5], 2), 1, 0, 4).unwrap_err().to_string();
        assert!(e.contains("smaller than the dilated kernel"), "{e}");
        let e = depthwise_conv2d(&rand_t(&[40, 9, 9], 1), &rand_t(&[40, 1, 3, 3], 2), 1, 1, 1).unwrap_err().to_string();
        assert!(e.contains("input x must be (N,C,H,W)"), "{e}");
    }

    #[test]
    fn other_dtypes_fall_back_to_candle() {
        let x = rand_t(&[1, 3, 8, 8], 1);
        let wt = rand_t(&[3, 1, 3, 3], 2);
        let y64 =
            depthwise_conv2d(&x.to_dtype(DType::F64).unwrap(), &wt.to_dtype(DType::F64).unwrap(), 1, 1, 1).unwrap();
        assert_eq!(y64.dtype(), DType::F64);
        assert_close(&y64, &depthwise_conv2d(&x, &wt, 1, 1, 1).unwrap(), 1e-5, "f64 fallback");
    }
}
