//! Dense kxk convolution (groups = 1) with any stride, padding and dilation, as im2col + one
//! `gemm` per image, with a GEMM-based backward: `dW = sum_n dY[n] x cols[n]^T` and
//! `dX[n] = col2im(W^T x dY[n])`. candle 0.11's conv2d backward goes through its naive
//! conv_transpose2d / conv2d loops (`vec_dot_f32`), several times slower on the stem, the
//! dil_convs, the ASPP's atrous 3x3s, the decoder and FactorizedReduce's strided 1x1s.
//!
//! The im2col matrix of one image is `(Cin*k*k) x (OH*OW)`, row `(ci, ky, kx)`, column
//! `(oy, ox)`: `cols[r][oy,ox] = x[ci, oy*s + ky*d - p, ox*s + kx*d - p]` (zero outside). A
//! 1x1 conv with stride 1 and no padding needs no im2col: the image itself is that matrix.

use super::util::{assume_init, dense_f32, par_planes, shape_str, uninit_f32, use_cpu_kernel, with_scratch};
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};
use gemm::Parallelism;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// PyTorch `F.conv2d(x, w, b, stride, padding, dilation)` with groups = 1: x (N,Cin,H,W),
/// w (Cout,Cin,k,k), optional bias (Cout). CPU/f32: im2col + gemm with a GEMM backward and the
/// bias fused; elsewhere candle's conv2d.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Result<Tensor> {
    let Ok((_, cin, h, wd)) = x.dims4() else {
        bail!("conv2d: input x must be (N,Cin,H,W), got {}", shape_str(x.dims()))
    };
    let (cout, k) = match w.dims() {
        &[co, ci, kh, kw] if ci == cin && kh == kw && kh > 0 && co > 0 => (co, kh),
        d => bail!("conv2d: weight must be (Cout,Cin,k,k) with Cin={cin}, got {}", shape_str(d)),
    };
    if let Some(b) = bias
        && b.dims() != [cout]
    {
        bail!("conv2d: bias must be (Cout) with Cout={cout}, got {}", shape_str(b.dims()))
    }
    if stride == 0 || dilation == 0 {
        bail!("conv2d: stride and dilation must be >= 1, got stride={stride} dilation={dilation}")
    }
    if out_size(h, k, stride, padding, dilation).is_none() || out_size(wd, k, stride, padding, dilation).is_none() {
        bail!(
            "conv2d: input x (H,W)=({h},{wd}) is smaller than the dilated kernel {} with padding {padding}",
            dilation * (k - 1) + 1
        )
    }
    if w.dtype() != x.dtype() || bias.is_some_and(|b| b.dtype() != x.dtype()) {
        bail!("conv2d: weight and bias must have the input dtype {:?}", x.dtype())
    }
    if !use_cpu_kernel(x) || !w.device().same_device(x.device()) {
        let y = x.conv2d(w, padding, stride, dilation, 1)?;
        return match bias {
            Some(b) => y.broadcast_add(&b.reshape((1, cout, 1, 1))?),
            None => Ok(y),
        };
    }
    let op = Conv2d { k, stride, padding, dilation };
    match bias {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

/// PyTorch's output size `(n + 2p - d(k-1) - 1) / s + 1`, `None` when the kernel does not fit.
fn out_size(n: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    (n + 2 * p).checked_sub(d * (k - 1) + 1).map(|v| v / s + 1)
}

/// The convolution's parameters; shapes come from the layouts.
#[derive(Clone, Copy, Debug)]
struct Conv2d {
    k: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
}

/// Full geometry of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
}

impl Geom {
    fn new(c: &Conv2d, n: usize, cin: usize, cout: usize, h: usize, w: usize) -> Result<Geom> {
        let (Some(oh), Some(ow)) =
            (out_size(h, c.k, c.stride, c.padding, c.dilation), out_size(w, c.k, c.stride, c.padding, c.dilation))
        else {
            bail!("conv2d: input ({h},{w}) is smaller than the dilated kernel")
        };
        Ok(Geom { n, cin, cout, h, w, oh, ow, k: c.k, s: c.stride, p: c.padding, d: c.dilation })
    }
    /// Rows of the im2col matrix, the GEMM's inner dimension.
    fn kdim(&self) -> usize {
        self.cin * self.k * self.k
    }
    fn ohw(&self) -> usize {
        self.oh * self.ow
    }
    /// A 1x1 stride-1 unpadded conv reads the image itself as its im2col matrix.
    fn direct(&self) -> bool {
        self.k == 1 && self.s == 1 && self.p == 0
    }
    /// Output columns `[lo, hi)` whose input column `ox*s + kx*d - p` lies inside the row.
    fn ox_range(&self, kx: usize) -> (usize, usize) {
        let off = kx * self.d;
        let lo = if self.p > off { (self.p - off).div_ceil(self.s) } else { 0 };
        // ix = ox*s + off - p <= w - 1  <=>  ox <= (w - 1 + p - off) / s
        let hi = if self.w + self.p > off { ((self.w - 1 + self.p - off) / self.s + 1).min(self.ow) } else { 0 };
        (lo.min(hi), hi)
    }
    /// Input row read by output row `oy` through kernel row `ky`, if inside the image.
    #[inline]
    fn in_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let iy = (oy * self.s + ky * self.d) as isize - self.p as isize;
        (iy >= 0 && (iy as usize) < self.h).then_some(iy as usize)
    }
    /// Multiply-adds of one image's GEMM.
    fn flops(&self) -> usize {
        2 * self.cout * self.kdim() * self.ohw()
    }
}

/// GEMM parallelism inside one image: the images themselves run in parallel when there are
/// at least as many as threads, otherwise the GEMM splits (when it is big enough to gain).
fn inner_par(g: &Geom) -> Parallelism {
    let threads = rayon::current_num_threads();
    if threads > 1 && g.n < threads && g.flops() >= 1 << 18 { Parallelism::Rayon(threads) } else { Parallelism::None }
}

/// Fills `cols` (kdim x ohw) with the im2col matrix of one image `x` (cin x h x w).
fn im2col(x: &[f32], g: &Geom, cols: &mut [f32]) {
    im2col_rows(x, g, cols, 0, g.oh)
}

/// The im2col matrix of output rows `[oy0, oy1)` only: `kdim x (oy1 - oy0) * ow`. Bands keep
/// the column buffer small where the full matrix would take gigabytes (the decoder's 3x3 conv
/// on a 1025x2049 image: 304 * 9 x 257 * 513 floats = 1.4 GB).
fn im2col_rows(x: &[f32], g: &Geom, cols: &mut [f32], oy0: usize, oy1: usize) {
    let (k, ow) = (g.k, g.ow);
    let ohw = (oy1 - oy0) * ow;
    let ranges: Vec<(usize, usize)> = (0..k).map(|kx| g.ox_range(kx)).collect();
    for ci in 0..g.cin {
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let r = (ci * k + ky) * k + kx;
                let row = &mut cols[r * ohw..(r + 1) * ohw];
                let (lo, hi) = ranges[kx];
                for oy in oy0..oy1 {
                    let dst = &mut row[(oy - oy0) * ow..(oy - oy0 + 1) * ow];
                    let Some(iy) = g.in_row(oy, ky) else {
                        dst.fill(0.0);
                        continue;
                    };
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if hi > lo {
                        let src = &plane[iy * g.w..(iy + 1) * g.w];
                        let ix0 = lo * g.s + kx * g.d - g.p;
                        if g.s == 1 {
                            dst[lo..hi].copy_from_slice(&src[ix0..ix0 + (hi - lo)]);
                        } else {
                            for (j, o) in dst[lo..hi].iter_mut().enumerate() {
                                *o = src[ix0 + j * g.s];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the columns matrix `cols` (kdim x ohw) back into one image `gx` (cin x h x w), which
/// it first zeroes: the adjoint of [`im2col`].
fn col2im(cols: &[f32], g: &Geom, gx: &mut [f32]) {
    let (k, ohw, ow) = (g.k, g.ohw(), g.ow);
    gx.fill(0.0);
    let ranges: Vec<(usize, usize)> = (0..k).map(|kx| g.ox_range(kx)).collect();
    for ci in 0..g.cin {
        let plane = &mut gx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let r = (ci * k + ky) * k + kx;
                let row = &cols[r * ohw..(r + 1) * ohw];
                let (lo, hi) = ranges[kx];
                if hi <= lo {
                    continue;
                }
                let ix0 = lo * g.s + kx * g.d - g.p;
                for oy in 0..g.oh {
                    let Some(iy) = g.in_row(oy, ky) else { continue };
                    let src = &row[oy * ow + lo..oy * ow + hi];
                    let dst = &mut plane[iy * g.w..(iy + 1) * g.w];
                    if g.s == 1 {
                        for (d, s) in dst[ix0..ix0 + (hi - lo)].iter_mut().zip(src) {
                            *d += *s;
                        }
                    } else {
                        for (j, s) in src.iter().enumerate() {
                            dst[ix0 + j * g.s] += *s;
                        }
                    }
                }
            }
        }
    }
}

/// Floats of one band's im2col matrix in [`fwd_cached_bands`] (512 KiB): small enough to stay
/// in a core's L2 cache between being written and being read by the GEMM.
const CACHED_BAND_FLOATS: usize = 128 << 10;

/// The forward of images fewer than the threads (inference: one image): the output rows are
/// cut into bands whose im2col matrix fits in L2, and the threads take bands, each building
/// its band's columns and multiplying them with a single-threaded GEMM. Building the whole
/// matrix first on one thread and then splitting the GEMM wrote and re-read tens of MB from
/// memory with the other core idle (the stem's 24->24 3x3 at 129x257: 28 MB).
fn fwd_cached_bands(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: &Geom) -> (CpuStorage, Shape) {
    let (ohw, kdim, img) = (g.ohw(), g.kdim(), g.cin * g.h * g.w);
    let threads = rayon::current_num_threads();
    // at least two bands per thread, so that uneven bands still balance
    let band = (CACHED_BAND_FLOATS / (kdim * g.ow).max(1)).clamp(1, g.oh.div_ceil(2 * threads).max(1));
    let bands: Vec<(usize, usize)> = (0..g.oh).step_by(band).map(|o| (o, (o + band).min(g.oh))).collect();
    let mut out = uninit_f32(g.n * g.cout * ohw);
    /// The output shared by the bands, which write disjoint columns of it.
    struct Dst(*mut f32);
    // SAFETY: each task writes only its own band's columns (see below).
    unsafe impl Sync for Dst {}
    let dst = Dst(out.as_mut_ptr() as *mut f32);
    for b in 0..g.n {
        let xb = &x[b * img..(b + 1) * img];
        bands.par_iter().for_each(|&(oy0, oy1)| {
            let dst = &dst;
            let cols = (oy1 - oy0) * g.ow;
            // SAFETY: image b's output starts at b * cout * ohw; the band owns columns
            // [oy0 * ow, oy1 * ow) of each of its cout rows, which no other band touches.
            let out_b = unsafe { dst.0.add(b * g.cout * ohw) };
            let band_dst = unsafe { out_b.add(oy0 * g.ow) };
            if let Some(bias) = bias {
                for (co, &bv) in bias.iter().enumerate() {
                    // SAFETY: within this band's columns of row co.
                    unsafe { std::slice::from_raw_parts_mut(band_dst.add(co * ohw), cols) }.fill(bv);
                }
            }
            with_scratch(|scratch| {
                // SAFETY: image b's output, of which this task writes only the band's columns;
                // the bias is already in them if any.
                unsafe { band_forward(xb, w, g, scratch, out_b, oy0, oy1, bias.is_some(), Parallelism::None) };
            });
        });
    }
    // SAFETY: the bands cover every output row of every image, and gemm wrote all of them.
    let out = unsafe { assume_init(out) };
    (CpuStorage::F32(out), Shape::from((g.n, g.cout, g.oh, g.ow)))
}

/// One band of output rows `[oy0, oy1)` of one image: its im2col columns (the image itself
/// for a direct 1x1) built in `scratch`, times the weights, into columns `[oy0 * ow, oy1 * ow)`
/// of each of the cout rows of `out` (row stride oh * ow), added to what is there when
/// `accumulate` (the bias).
///
/// # Safety
/// `out` must point to one image's cout x (oh * ow) output, valid for writes (and reads when
/// `accumulate`) over the band's columns, which nothing else touches meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn band_forward(
    xb: &[f32],
    w: &[f32],
    g: &Geom,
    scratch: &mut Vec<f32>,
    out: *mut f32,
    oy0: usize,
    oy1: usize,
    accumulate: bool,
    par: Parallelism,
) {
    let (kdim, n) = (g.kdim(), (oy1 - oy0) * g.ow);
    let cols: &[f32] = if g.direct() {
        xb
    } else {
        scratch.resize(kdim * n, 0.0);
        im2col_rows(xb, g, scratch, oy0, oy1);
        scratch
    };
    // SAFETY: out's rows are ohw apart and the band is their columns [oy0 * ow, oy1 * ow)
    // (caller); w is cout x kdim, cols kdim x n, dense row-major.
    unsafe {
        gemm_strided(
            g.cout,
            n,
            kdim,
            out.add(oy0 * g.ow),
            g.ohw(),
            accumulate,
            w.as_ptr(),
            kdim,
            1,
            cols.as_ptr(),
            n,
            1,
            par,
        )
    }
}

/// Floats of im2col matrix the forward pass builds at once (64 MiB); larger matrices are built
/// and multiplied a band of output rows at a time.
const FWD_COLS_BUDGET: usize = 16 << 20;

/// `dst (m x n) = [dst +] a (m x k) x b (k x n)`, each operand given by its row and column
/// strides (dst's columns are contiguous, its rows `dst_rs` apart).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_strided(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    b_cs: usize,
    par: Parallelism,
) {
    // SAFETY: the caller guarantees the operands cover the strided extents.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a,
            a_cs as isize,
            a_rs as isize,
            b,
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

impl Conv2d {
    fn geom_fwd(&self, xl: &Layout, wl: &Layout) -> Result<Geom> {
        let (n, cin, h, w) = xl.shape().dims4()?;
        let cout = wl.dims()[0];
        Geom::new(self, n, cin, cout, h, w)
    }

    fn fwd(&self, x: &[f32], xl: &Layout, w: &[f32], wl: &Layout, bias: Option<&[f32]>) -> Result<(CpuStorage, Shape)> {
        let g = self.geom_fwd(xl, wl)?;
        let par = inner_par(&g);
        if matches!(par, Parallelism::Rayon(_)) && !g.direct() {
            return Ok(fwd_cached_bands(x, w, bias, &g));
        }
        let (ohw, kdim, img) = (g.ohw(), g.kdim(), g.cin * g.h * g.w);
        let mut out = uninit_f32(g.n * g.cout * ohw);
        par_planes(&mut out, g.cout * ohw, g.flops(), |b, dst, scratch| {
            if let Some(bias) = bias {
                for (row, &bv) in dst.chunks_exact_mut(ohw).zip(bias) {
                    row.fill(MaybeUninit::new(bv));
                }
            }
            let xb = &x[b * img..(b + 1) * img];
            // output rows per band: the whole image unless its im2col matrix is large
            let band = if g.direct() { g.oh } else { (FWD_COLS_BUDGET / (kdim * g.ow).max(1)).clamp(1, g.oh) };
            for oy0 in (0..g.oh).step_by(band) {
                let oy1 = (oy0 + band).min(g.oh);
                // SAFETY: dst is this image's cout x ohw output, the bias already in it if any.
                unsafe {
                    band_forward(xb, w, &g, scratch, dst.as_mut_ptr() as *mut f32, oy0, oy1, bias.is_some(), par)
                };
            }
        });
        // SAFETY: gemm wrote every element.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.cout, g.oh, g.ow))))
    }

    fn grads(&self, x: &Tensor, w: &Tensor, gy: &Tensor) -> Result<(Tensor, Tensor)> {
        let (_, _, h, wd) = x.dims4()?;
        let gx = gy.apply_op2_no_bwd(w, &Conv2dInputGrad { conv: *self, h, w: wd })?;
        let gw = x.apply_op2_no_bwd(gy, &Conv2dWeightGrad { conv: *self })?;
        Ok((gx, gw))
    }
}

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d_gemm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = dense_f32(s1, l1, "conv2d x")?;
        let w = dense_f32(s2, l2, "conv2d w")?;
        self.fwd(&x, l1, &w, l2, None)
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, gy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw) = self.grads(x, w, gy)?;
        Ok((Some(gx), Some(gw)))
    }
}

impl CustomOp3 for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d_gemm_bias"
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
        let x = dense_f32(s1, l1, "conv2d x")?;
        let w = dense_f32(s2, l2, "conv2d w")?;
        let b = dense_f32(s3, l3, "conv2d bias")?;
        self.fwd(&x, l1, &w, l2, Some(&b))
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
        let gb = gy.sum((0, 2, 3))?;
        Ok((Some(gx), Some(gw), Some(gb)))
    }
}

/// dL/dx from (gy, w): per image `gcols = W^T x gy`, then col2im (for the direct 1x1 case the
/// GEMM writes dx itself).
#[derive(Clone, Copy, Debug)]
struct Conv2dInputGrad {
    conv: Conv2d,
    h: usize,
    w: usize,
}

impl CustomOp2 for Conv2dInputGrad {
    fn name(&self) -> &'static str {
        "conv2d_gemm_input_grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, cout, oh, ow) = l1.shape().dims4()?;
        let cin = l2.dims()[1];
        let g = Geom::new(&self.conv, n, cin, cout, self.h, self.w)?;
        if (g.oh, g.ow) != (oh, ow) {
            bail!("conv2d backward: gradient must be (N,Cout,{},{}), got {}", g.oh, g.ow, shape_str(l1.dims()))
        }
        let gy = dense_f32(s1, l1, "conv2d grad")?;
        let w = dense_f32(s2, l2, "conv2d w")?;
        let (ohw, kdim, img) = (g.ohw(), g.kdim(), g.cin * g.h * g.w);
        let par = inner_par(&g);
        let mut out = uninit_f32(n * img);
        par_planes(&mut out, img, g.flops(), |b, dst, scratch| {
            let gyb = &gy[b * cout * ohw..(b + 1) * cout * ohw];
            if g.direct() {
                // SAFETY: dst is cin x ohw, W^T is w (cout x cin) read column-major, gy cout x ohw;
                // gemm writes all of dst without reading it.
                unsafe {
                    gemm_strided(
                        cin,
                        ohw,
                        cout,
                        dst.as_mut_ptr() as *mut f32,
                        ohw,
                        false,
                        w.as_ptr(),
                        1,
                        kdim,
                        gyb.as_ptr(),
                        ohw,
                        1,
                        par,
                    )
                };
            } else {
                scratch.resize(kdim * ohw, 0.0);
                // SAFETY: scratch is kdim x ohw; as above.
                unsafe {
                    gemm_strided(
                        kdim,
                        ohw,
                        cout,
                        scratch.as_mut_ptr(),
                        ohw,
                        false,
                        w.as_ptr(),
                        1,
                        kdim,
                        gyb.as_ptr(),
                        ohw,
                        1,
                        par,
                    )
                };
                // SAFETY: col2im zero-fills then accumulates into every element.
                let dst = unsafe { &mut *(dst as *mut [MaybeUninit<f32>] as *mut [f32]) };
                col2im(scratch, &g, dst);
            }
        });
        // SAFETY: every image was written completely.
        let out = unsafe { assume_init(out) };
        Ok((CpuStorage::F32(out), Shape::from((n, cin, self.h, self.w))))
    }
}

/// dL/dW from (x, gy): `sum_n gy[n] (cout x ohw) x cols[n]^T (ohw x kdim)`, one partial sum
/// per rayon task, added up at the end.
#[derive(Clone, Copy, Debug)]
struct Conv2dWeightGrad {
    conv: Conv2d,
}

impl CustomOp2 for Conv2dWeightGrad {
    fn name(&self) -> &'static str {
        "conv2d_gemm_weight_grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, cin, h, w) = l1.shape().dims4()?;
        let (_, cout, oh, ow) = l2.shape().dims4()?;
        let g = Geom::new(&self.conv, n, cin, cout, h, w)?;
        if (g.oh, g.ow) != (oh, ow) {
            bail!("conv2d backward: gradient must be (N,Cout,{},{}), got {}", g.oh, g.ow, shape_str(l2.dims()))
        }
        let x = dense_f32(s1, l1, "conv2d x")?;
        let gy = dense_f32(s2, l2, "conv2d grad")?;
        let (ohw, kdim, img) = (g.ohw(), g.kdim(), g.cin * g.h * g.w);
        let par = inner_par(&g);
        let one = |acc: &mut Vec<f32>, b: usize| {
            let xb = &x[b * img..(b + 1) * img];
            let gyb = &gy[b * cout * ohw..(b + 1) * cout * ohw];
            with_scratch(|scratch| {
                let cols: &[f32] = if g.direct() {
                    xb
                } else {
                    scratch.resize(kdim * ohw, 0.0);
                    im2col(xb, &g, scratch);
                    scratch
                };
                // SAFETY: acc is cout x kdim, gy cout x ohw, cols^T is cols (kdim x ohw) read
                // column-major; acc holds the running sum (zero-initialised).
                unsafe {
                    gemm_strided(
                        cout,
                        kdim,
                        ohw,
                        acc.as_mut_ptr(),
                        kdim,
                        true,
                        gyb.as_ptr(),
                        ohw,
                        1,
                        cols.as_ptr(),
                        1,
                        ohw,
                        par,
                    )
                };
            });
        };
        let out = if matches!(par, Parallelism::None) && n > 1 {
            (0..n)
                .into_par_iter()
                .fold(
                    || vec![0f32; cout * kdim],
                    |mut acc, b| {
                        one(&mut acc, b);
                        acc
                    },
                )
                .reduce_with(|mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += *y);
                    a
                })
                .unwrap_or_else(|| vec![0f32; cout * kdim])
        } else {
            let mut acc = vec![0f32; cout * kdim];
            (0..n).for_each(|b| one(&mut acc, b));
            acc
        };
        Ok((CpuStorage::F32(out), Shape::from((cout, cin, g.k, g.k))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{assert_close, fd_check, rand_t};
    use candle_core::Var;

    #[test]
    fn forward_matches_candle_conv2d() {
        let sizes = [(17, 23), (9, 7), (33, 20), (12, 15)];
        let mut case = 0u64;
        for k in [1, 3, 5] {
            for d in [1, 2, 4] {
                for s in [1, 2] {
                    for p in 0..=4 {
                        case += 1;
                        let (h, w) = sizes[case as usize % sizes.len()];
                        let n = 1 + case as usize % 3;
                        let (cin, cout) = (1 + case as usize % 4, 2 + case as usize % 5);
                        if out_size(h, k, s, p, d).is_none() || out_size(w, k, s, p, d).is_none() {
                            continue;
                        }
                        let x = rand_t(&[n, cin, h, w], case);
                        let wt = rand_t(&[cout, cin, k, k], 1000 + case);
                        let b = rand_t(&[cout], 2000 + case);
                        let theirs = x.conv2d(&wt, p, s, d, 1).unwrap();
                        let name = format!("n{n} {cin}->{cout} {h}x{w} k{k} s{s} p{p} d{d}");
                        assert_close(&conv2d(&x, &wt, None, s, p, d).unwrap(), &theirs, 1e-5, &name);
                        let with_bias = theirs.broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap()).unwrap();
                        assert_close(&conv2d(&x, &wt, Some(&b), s, p, d).unwrap(), &with_bias, 1e-5, &name);
                    }
                }
            }
        }
    }

    #[test]
    fn forward_in_bands_matches_candle() {
        // im2col matrices over the budget: built a band of output rows at a time (one thread),
        // or in cache-sized bands that the threads share (more threads than images)
        for (cin, h, w, k, s, p) in [(64, 131, 131, 5, 1, 2), (128, 301, 301, 3, 2, 1)] {
            let g = Geom::new(&Conv2d { k, stride: s, padding: p, dilation: 1 }, 1, cin, 3, h, w).unwrap();
            assert!(g.kdim() * g.ohw() > FWD_COLS_BUDGET, "the case must need more than one band");
            let x = rand_t(&[1, cin, h, w], 11);
            let wt = rand_t(&[3, cin, k, k], 12);
            let b = rand_t(&[3], 13);
            let theirs = x.conv2d(&wt, p, s, 1, 1).unwrap().broadcast_add(&b.reshape((1, 3, 1, 1)).unwrap()).unwrap();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let ours = pool.install(|| conv2d(&x, &wt, Some(&b), s, p, 1).unwrap());
                assert_close(&ours, &theirs, 1e-5, &format!("{cin} k{k} s{s}, {threads} threads"));
            }
        }
    }

    #[test]
    fn forward_in_cached_bands_matches_candle() {
        // fewer images than threads: bands of rows shared by the threads, with and without
        // bias, rows that do not divide evenly, dilation and stride
        for (n, cin, cout, h, w, k, s, p, d) in
            [(1, 3, 24, 257, 513, 3, 2, 1, 1), (1, 24, 24, 129, 257, 3, 1, 1, 1), (2, 40, 16, 33, 65, 3, 1, 2, 2)]
        {
            let x = rand_t(&[n, cin, h, w], 21);
            let wt = rand_t(&[cout, cin, k, k], 22);
            let b = rand_t(&[cout], 23);
            let theirs = x.conv2d(&wt, p, s, d, 1).unwrap();
            let with_bias = theirs.broadcast_add(&b.reshape((1, cout, 1, 1)).unwrap()).unwrap();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            let g = Geom::new(&Conv2d { k, stride: s, padding: p, dilation: d }, n, cin, cout, h, w).unwrap();
            pool.install(|| {
                assert!(matches!(inner_par(&g), Parallelism::Rayon(_)), "the case must take the banded path")
            });
            let name = format!("n{n} {cin}->{cout} {h}x{w} k{k} s{s} d{d}");
            assert_close(&pool.install(|| conv2d(&x, &wt, None, s, p, d).unwrap()), &theirs, 1e-5, &name);
            assert_close(&pool.install(|| conv2d(&x, &wt, Some(&b), s, p, d).unwrap()), &with_bias, 1e-5, &name);
        }
    }

    #[test]
    fn forward_network_shapes() {
        // stem 3x3 stride 2, dil_conv 5x5 d2, ASPP atrous d12 at a small map, strided 1x1.
        for (n, cin, cout, h, w, k, s, p, d) in [
            (2, 3, 16, 65, 129, 3, 2, 1, 1),
            (1, 16, 16, 33, 65, 5, 1, 4, 2),
            (4, 32, 16, 9, 17, 3, 1, 12, 12),
            (2, 8, 4, 33, 65, 1, 2, 0, 1),
        ] {
            let x = rand_t(&[n, cin, h, w], 7);
            let wt = rand_t(&[cout, cin, k, k], 8);
            let name = format!("n{n} {cin}->{cout} {h}x{w} k{k} s{s} p{p} d{d}");
            assert_close(&conv2d(&x, &wt, None, s, p, d).unwrap(), &x.conv2d(&wt, p, s, d, 1).unwrap(), 1e-5, &name);
        }
    }

    #[test]
    fn non_contiguous_input() {
        let x = rand_t(&[2, 3, 11, 9], 1).transpose(2, 3).unwrap();
        let wt = rand_t(&[4, 3, 3, 3], 2);
        let theirs = x.contiguous().unwrap().conv2d(&wt, 2, 2, 2, 1).unwrap();
        assert_close(&conv2d(&x, &wt, None, 2, 2, 2).unwrap(), &theirs, 1e-5, "transposed input");
    }

    #[test]
    fn gradients_by_finite_differences() {
        // (n, cin, cout, h, w, k, s, p, d): odd sizes, stride 2, dilation 2 and 4, padding 0..4.
        let cases = [
            (2, 2, 3, 7, 9, 3, 1, 1, 1),
            (1, 3, 2, 7, 8, 3, 2, 1, 1),
            (2, 2, 2, 9, 7, 5, 1, 4, 2),
            (1, 2, 3, 6, 7, 3, 1, 0, 2),
            (2, 1, 2, 9, 10, 3, 2, 3, 4),
            (1, 2, 2, 5, 6, 3, 1, 4, 1),
            (2, 3, 2, 7, 9, 1, 2, 0, 1),
            (3, 3, 2, 5, 6, 1, 1, 0, 1),
            (1, 2, 2, 5, 5, 1, 1, 2, 1),
        ];
        for (i, &(n, cin, cout, h, w, k, s, p, d)) in cases.iter().enumerate() {
            let x = rand_t(&[n, cin, h, w], 50 + i as u64);
            let wt = rand_t(&[cout, cin, k, k], 60 + i as u64);
            let b = rand_t(&[cout], 65 + i as u64);
            let f = |t: &[Tensor]| conv2d(&t[0], &t[1], Some(&t[2]), s, p, d);
            let e = fd_check(&f, &[x, wt, b], 70 + i as u64);
            assert!(e <= 1e-3, "case {i} k{k} s{s} p{p} d{d}: gradient error {e:.3e}");
        }
    }

    #[test]
    fn gradients_match_candle_autograd() {
        for (i, &(n, cin, cout, h, w, k, s, p, d)) in [
            (4, 8, 16, 33, 65, 3, 2, 1, 1),
            (2, 16, 16, 17, 33, 5, 1, 4, 2),
            (4, 16, 8, 9, 17, 3, 1, 4, 4),
            (1, 12, 10, 19, 23, 3, 1, 1, 1),
            (3, 8, 4, 17, 33, 1, 2, 0, 1),
        ]
        .iter()
        .enumerate()
        {
            let x = Var::from_tensor(&rand_t(&[n, cin, h, w], 80 + i as u64)).unwrap();
            let wt = Var::from_tensor(&rand_t(&[cout, cin, k, k], 81 + i as u64)).unwrap();
            let ours = conv2d(&x, &wt, None, s, p, d).unwrap();
            let r = rand_t(ours.dims(), 82 + i as u64);
            let ours = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let theirs = (x.conv2d(&wt, p, s, d, 1).unwrap() * &r).unwrap().sum_all().unwrap().backward().unwrap();
            for (v, name) in [(x.as_tensor(), "dx"), (wt.as_tensor(), "dw")] {
                let case = format!("{name} n{n} {cin}->{cout} {h}x{w} k{k} s{s} p{p} d{d}");
                assert_close(ours.get(v).unwrap(), theirs.get(v).unwrap(), 1e-5, &case);
            }
        }
    }

    #[test]
    fn errors_name_the_tensor_and_shape() {
        let x = rand_t(&[1, 4, 9, 9], 1);
        let e = conv2d(&x, &rand_t(&[3, 5, 3, 3], 2), None, 1, 1, 1).unwrap_err().to_string();
        assert!(e.contains("weight must be (Cout,Cin,k,k) with Cin=4, got (3,5,3,3)"), "{e}");
        let e = conv2d(&x, &rand_t(&[3, 4, 3, 3], 2), Some(&rand_t(&[4], 3)), 1, 1, 1).unwrap_err().to_string();
        assert!(e.contains("bias must be (Cout) with Cout=3, got (4)"), "{e}");
        let e = conv2d(&x, &rand_t(&[3, 4, 5, 5], 2), None, 1, 0, 4).unwrap_err().to_string();
        assert!(e.contains("smaller than the dilated kernel"), "{e}");
    }
}
