//! Pointwise (1x1) convolution as one GEMM per image, `Y[n] = W[Cout,Cin] x X[n][Cin,H*W] (+ b)`,
//! with no im2col copy: the NCHW layout already is the GEMM's right-hand matrix.

use super::util::{assume_init, dense_f32, shape_str, uninit_f32, use_cpu_kernel};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, D, Layout, Result, Shape, Tensor, bail};
use gemm::Parallelism;
use std::mem::MaybeUninit;

/// 1x1 conv, stride 1: x (N,Cin,H,W), w (Cout,Cin,1,1), optional bias (Cout) — what the
/// sep-convs, ReLU-1x1-BN preprocessing and ASPP projections spend half their time in.
/// CPU/f32: direct `gemm` per image with the bias fused in; elsewhere candle's matmul.
pub fn conv1x1(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (cout, _) = check(x, w, bias)?;
    if !use_cpu_kernel(x) || !w.device().same_device(x.device()) {
        return conv1x1_matmul(x, w, bias);
    }
    let op = Conv1x1 { cout };
    match bias {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

/// The same 1x1 conv built only from candle's differentiable ops (reshape + matmul); the
/// fallback on non-CPU devices and the baseline the benchmark compares against.
pub fn conv1x1_matmul(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (cout, cin) = check(x, w, bias)?;
    let (n, _, h, wd) = x.dims4()?;
    let w2 = w.reshape((cout, cin))?;
    let y = w2.broadcast_left(n)?.matmul(&x.reshape((n, cin, h * wd))?)?;
    let y = match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, cout, 1))?)?,
        None => y,
    };
    y.reshape((n, cout, h, wd))
}

/// Validates the shapes; returns (Cout, Cin).
fn check(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<(usize, usize)> {
    let Ok((_, cin, _, _)) = x.dims4() else {
        bail!("conv1x1: input x must be (N,Cin,H,W), got {}", shape_str(x.dims()))
    };
    let cout = match w.dims() {
        &[co, ci, 1, 1] if ci == cin && ci > 0 => co,
        d => bail!("conv1x1: weight must be (Cout,Cin,1,1) with Cin={cin}, got {}", shape_str(d)),
    };
    if let Some(b) = bias
        && b.dims() != [cout]
    {
        bail!("conv1x1: bias must be (Cout) with Cout={cout}, got {}", shape_str(b.dims()))
    }
    if w.dtype() != x.dtype() || bias.is_some_and(|b| b.dtype() != x.dtype()) {
        bail!("conv1x1: weight and bias must have the input dtype {:?}", x.dtype())
    }
    Ok((cout, cin))
}

/// The custom op; used as CustomOp2 (x, w) and CustomOp3 (x, w, bias).
#[derive(Clone, Copy, Debug)]
struct Conv1x1 {
    cout: usize,
}

impl Conv1x1 {
    fn fwd(&self, x: &[f32], xl: &Layout, w: &[f32], bias: Option<&[f32]>) -> Result<(CpuStorage, Shape)> {
        let (n, cin, h, wd) = xl.shape().dims4()?;
        let (cout, hw) = (self.cout, h * wd);
        let mut out = uninit_f32(n * cout * hw);
        let threads = rayon::current_num_threads();
        let par =
            if threads > 1 && cout * cin * hw >= 1 << 16 { Parallelism::Rayon(threads) } else { Parallelism::None };
        for (b, dst) in out.chunks_exact_mut(cout * hw).enumerate() {
            if let Some(bias) = bias {
                for (row, &bv) in dst.chunks_exact_mut(hw).zip(bias) {
                    row.fill(MaybeUninit::new(bv));
                }
            }
            let src = &x[b * cin * hw..(b + 1) * cin * hw];
            // SAFETY: dst is cout x hw, w is cout x cin, src is cin x hw, all row-major dense;
            // gemm reads dst only when read_dst (bias written above) and writes all of it.
            unsafe {
                gemm::gemm(
                    cout,
                    hw,
                    cin,
                    dst.as_mut_ptr() as *mut f32,
                    1,
                    hw as isize,
                    bias.is_some(),
                    w.as_ptr(),
                    1,
                    cin as isize,
                    src.as_ptr(),
                    1,
                    hw as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    par,
                );
            }
        }
        // SAFETY: gemm wrote every element.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((n, cout, h, wd))))
    }

    /// Gradients through candle ops: dx = W^T x dy (our GEMM again), dW = sum_n dy X^T, db = sum dy.
    fn grads(&self, x: &Tensor, w: &Tensor, gy: &Tensor) -> Result<(Tensor, Tensor)> {
        let (n, cin, h, wd) = x.dims4()?;
        let wt = w.reshape((self.cout, cin))?.t()?.contiguous()?.reshape((cin, self.cout, 1, 1))?;
        let gx = gy.apply_op2_no_bwd(&wt, &Conv1x1 { cout: cin })?;
        let gy3 = gy.reshape((n, self.cout, h * wd))?;
        let x3 = x.reshape((n, cin, h * wd))?;
        let gw = gy3.matmul(&x3.t()?)?.sum(0)?.reshape((self.cout, cin, 1, 1))?;
        Ok((gx, gw))
    }
}

impl CustomOp2 for Conv1x1 {
    fn name(&self) -> &'static str {
        "conv1x1"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = dense_f32(s1, l1, "conv1x1 x")?;
        let w = dense_f32(s2, l2, "conv1x1 w")?;
        self.fwd(&x, l1, &w, None)
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, gy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw) = self.grads(x, w, gy)?;
        Ok((Some(gx), Some(gw)))
    }
}

impl CustomOp3 for Conv1x1 {
    fn name(&self) -> &'static str {
        "conv1x1_bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = dense_f32(s1, l1, "conv1x1 x")?;
        let w = dense_f32(s2, l2, "conv1x1 w")?;
        let b = dense_f32(s3, l3, "conv1x1 bias")?;
        self.fwd(&x, l1, &w, Some(&b))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        gy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw) = self.grads(x, w, gy)?;
        let gb = gy.sum(D::Minus1)?.sum(D::Minus1)?.sum(0)?;
        Ok((Some(gx), Some(gw), Some(gb)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fd_check, rand_t};

    #[test]
    fn matches_candle_conv2d() {
        let cases =
            [(1, 20, 20, 17, 33), (2, 40, 80, 17, 23), (1, 160, 40, 33, 65), (2, 3, 5, 65, 129), (1, 7, 1, 1, 1)];
        for (i, &(n, cin, cout, h, w)) in cases.iter().enumerate() {
            let x = rand_t(&[n, cin, h, w], i as u64);
            let wt = rand_t(&[cout, cin, 1, 1], 100 + i as u64);
            let b = rand_t(&[cout], 200 + i as u64);
            let reference = x.conv2d(&wt, 0, 1, 1, 1).unwrap();
            let name = format!("n{n} {cin}->{cout} {h}x{w}");
            assert_close(&conv1x1(&x, &wt, None).unwrap(), &reference, 1e-5, &name);
            let with_bias = reference.broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap()).unwrap();
            assert_close(&conv1x1(&x, &wt, Some(&b)).unwrap(), &with_bias, 1e-5, &name);
            assert_close(&conv1x1_matmul(&x, &wt, Some(&b)).unwrap(), &with_bias, 1e-5, &name);
        }
    }

    #[test]
    fn non_contiguous_input() {
        let x = rand_t(&[2, 6, 9, 5], 1).transpose(2, 3).unwrap();
        let wt = rand_t(&[4, 6, 1, 1], 2);
        let reference = x.contiguous().unwrap().conv2d(&wt, 0, 1, 1, 1).unwrap();
        assert_close(&conv1x1(&x, &wt, None).unwrap(), &reference, 1e-5, "transposed input");
    }

    #[test]
    fn gradients_by_finite_differences() {
        let x = rand_t(&[2, 3, 4, 5], 1);
        let wt = rand_t(&[4, 3, 1, 1], 2);
        let b = rand_t(&[4], 3);
        let f = |t: &[Tensor]| conv1x1(&t[0], &t[1], Some(&t[2]));
        let e = fd_check(&f, &[x.clone(), wt.clone(), b], 4);
        assert!(e <= 1e-3, "with bias: gradient error {e:.3e}");
        let f = |t: &[Tensor]| conv1x1(&t[0], &t[1], None);
        let e = fd_check(&f, &[x, wt], 5);
        assert!(e <= 1e-3, "without bias: gradient error {e:.3e}");
    }

    #[test]
    fn errors_name_the_tensor_and_shape() {
        let x = rand_t(&[1, 40, 3, 3], 1);
        let e = conv1x1(&x, &rand_t(&[20, 30, 1, 1], 2), None).unwrap_err().to_string();
        assert!(e.contains("conv1x1: weight must be (Cout,Cin,1,1) with Cin=40, got (20,30,1,1)"), "{e}");
        let e = conv1x1(&x, &rand_t(&[20, 40, 1, 1], 2), Some(&rand_t(&[21], 3))).unwrap_err().to_string();
        assert!(e.contains("bias must be (Cout) with Cout=20, got (21)"), "{e}");
    }
}
