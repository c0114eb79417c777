//! Raw loops for depthwise convolution on one dense f32 plane (one image, one channel).
//!
//! Everything is expressed as a *correlation*
//! `out[oy,ox] = sum_{ky,kx} w[ky,kx] * inp[oy*s + ky*d - pad, ox*s + kx*d - pad]` (zero outside),
//! which serves the forward pass and, with a flipped kernel, the input gradient at stride 1.
//! Output columns whose taps are all in bounds (the interior) become "sum of K*K shifted
//! contiguous rows", an AVX2+FMA loop with no bounds checks; the few border columns are scalar.
//! Strides > 1 are first split into column phases so the inner loop stays contiguous.

use super::util::has_avx2_fma;

/// Geometry of one correlation: input and output plane sizes, square kernel size `k`, stride
/// `s`, dilation `d` and a signed padding (negative when used for the input gradient).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geom {
    pub ih: usize,
    pub iw: usize,
    pub oh: usize,
    pub ow: usize,
    pub k: usize,
    pub s: usize,
    pub d: usize,
    pub pad: isize,
}

impl Geom {
    /// Input row read by output row `oy` through kernel row `ky`, if inside the plane.
    #[inline]
    fn in_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let iy = (oy * self.s + ky * self.d) as isize - self.pad;
        (iy >= 0 && (iy as usize) < self.ih).then_some(iy as usize)
    }

    /// Column offset of kernel column `kx`: input column = `ox * s + col_offset(kx)`.
    #[inline]
    fn col_offset(&self, kx: usize) -> isize {
        (kx * self.d) as isize - self.pad
    }

    /// Output columns `[lo, hi)` for which input column `ox * s + c` is inside the plane.
    fn valid_cols(&self, c: isize) -> (usize, usize) {
        let s = self.s as isize;
        let lo = if c < 0 { (-c + s - 1) / s } else { 0 };
        let last = self.iw as isize - 1 - c;
        let hi = if last >= 0 { (last / s + 1).min(self.ow as isize) } else { 0 };
        let lo = lo.min(hi);
        (lo as usize, hi as usize)
    }

    /// Output columns `[lo, hi)` for which every kernel column is inside the plane.
    fn interior_cols(&self) -> (usize, usize) {
        let (lo, _) = self.valid_cols(self.col_offset(0));
        let (_, hi) = self.valid_cols(self.col_offset(self.k - 1));
        (lo.min(hi), hi)
    }

    /// Width of one column phase when the stride is split out (`ceil(iw / s)`).
    fn phase_width(&self) -> usize {
        self.iw.div_ceil(self.s)
    }
}

/// Splits the columns of `inp` into `s` phases (`phase r, row y, j` = `inp[y, j*s + r]`, zero
/// past the edge) so that a stride-`s` access pattern becomes contiguous. Returns the buffer.
fn split_phases<'a>(inp: &[f32], g: &Geom, scratch: &'a mut Vec<f32>) -> &'a [f32] {
    let pw = g.phase_width();
    let plen = g.ih * pw;
    scratch.clear();
    scratch.resize(g.s * plen, 0.0);
    for y in 0..g.ih {
        let row = &inp[y * g.iw..(y + 1) * g.iw];
        for (x, &v) in row.iter().enumerate() {
            scratch[(x % g.s) * plen + y * pw + x / g.s] = v;
        }
    }
    scratch
}

/// Where tap column offset `c` reads in the (possibly phase-split) source for output column
/// `ox` of input row `iy`: the flat index into the source buffer.
#[inline]
fn src_index(g: &Geom, iy: usize, ox: usize, c: isize) -> usize {
    if g.s == 1 {
        ((iy * g.iw + ox) as isize + c) as usize
    } else {
        let s = g.s as isize;
        let (r, q) = (c.rem_euclid(s) as usize, c.div_euclid(s));
        r * g.ih * g.phase_width() + iy * g.phase_width() + (ox as isize + q) as usize
    }
}

/// One output plane of the correlation described by `g` (see the module doc).
/// `scratch` is reused between planes for the phase split.
pub(crate) fn corr_plane(inp: &[f32], wt: &[f32], out: &mut [f32], g: &Geom, scratch: &mut Vec<f32>) {
    debug_assert_eq!(inp.len(), g.ih * g.iw);
    debug_assert_eq!(wt.len(), g.k * g.k);
    debug_assert_eq!(out.len(), g.oh * g.ow);
    let simd = has_avx2_fma();
    let (lo, hi) = g.interior_cols();
    let src: &[f32] = if g.s == 1 { inp } else { split_phases(inp, g, scratch) };
    let mut taps: Vec<(*const f32, f32)> = Vec::with_capacity(g.k * g.k);
    for oy in 0..g.oh {
        let row = &mut out[oy * g.ow..(oy + 1) * g.ow];
        if hi > lo {
            taps.clear();
            for ky in 0..g.k {
                let Some(iy) = g.in_row(oy, ky) else { continue };
                for kx in 0..g.k {
                    let idx = src_index(g, iy, lo, g.col_offset(kx));
                    // In bounds for all hi - lo outputs: interior columns read inside the row.
                    debug_assert!(idx + (hi - lo) <= src.len());
                    taps.push((src[idx..].as_ptr(), wt[ky * g.k + kx]));
                }
            }
            // SAFETY: every tap pointer is valid for hi - lo reads (interior columns).
            unsafe { taps_row(&mut row[lo..hi], &taps, simd) };
        }
        for ox in (0..lo).chain(hi.max(lo)..g.ow) {
            let mut acc = 0.0f32;
            for ky in 0..g.k {
                let Some(iy) = g.in_row(oy, ky) else { continue };
                for kx in 0..g.k {
                    let ix = (ox * g.s) as isize + g.col_offset(kx);
                    if ix >= 0 && (ix as usize) < g.iw {
                        acc += wt[ky * g.k + kx] * inp[iy * g.iw + ix as usize];
                    }
                }
            }
            row[ox] = acc;
        }
    }
}

/// `out[i] = sum_t w_t * p_t[i]` for every tap `(p_t, w_t)`.
///
/// # Safety
/// Each tap pointer must be valid for `out.len()` reads.
unsafe fn taps_row(out: &mut [f32], taps: &[(*const f32, f32)], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: the caller checked AVX2+FMA; pointer validity is our own contract.
        return unsafe { avx2::taps_row(out, taps) };
    }
    let _ = simd;
    out.fill(0.0);
    let n = out.len();
    for &(p, w) in taps {
        // SAFETY: valid for n reads by contract.
        let src = unsafe { std::slice::from_raw_parts(p, n) };
        for (o, &v) in out.iter_mut().zip(src) {
            *o += w * v;
        }
    }
}

/// `sum_i a[i] * b[i]` over `n` elements.
///
/// # Safety
/// Both pointers must be valid for `n` reads.
unsafe fn dot(a: *const f32, b: *const f32, n: usize, simd: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: the caller checked AVX2+FMA.
        return unsafe { avx2::dot(a, b, n) };
    }
    let _ = simd;
    // SAFETY: valid for n reads by contract.
    let (a, b) = unsafe { (std::slice::from_raw_parts(a, n), std::slice::from_raw_parts(b, n)) };
    // Eight independent partial sums so that LLVM can vectorise without reassociation.
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Input gradient of a forward correlation with geometry `g` (any stride), by scattering each
/// output gradient back onto the taps it read. Used for stride > 1, where the flipped-kernel
/// correlation would need fractional strides; stride-2 depthwise convs are rare in this network.
pub(crate) fn scatter_plane(gy: &[f32], wt: &[f32], gx: &mut [f32], g: &Geom) {
    debug_assert_eq!(gy.len(), g.oh * g.ow);
    debug_assert_eq!(gx.len(), g.ih * g.iw);
    gx.fill(0.0);
    for oy in 0..g.oh {
        let grow = &gy[oy * g.ow..(oy + 1) * g.ow];
        for ky in 0..g.k {
            let Some(iy) = g.in_row(oy, ky) else { continue };
            let xrow = &mut gx[iy * g.iw..(iy + 1) * g.iw];
            for kx in 0..g.k {
                let w = wt[ky * g.k + kx];
                let c = g.col_offset(kx);
                let (lo, hi) = g.valid_cols(c);
                for ox in lo..hi {
                    xrow[((ox * g.s) as isize + c) as usize] += w * grow[ox];
                }
            }
        }
    }
}

/// Adds to `acc[ky*k+kx]` the weight gradient of one plane:
/// `sum_{oy,ox} gy[oy,ox] * x[oy*s + ky*d - pad, ox*s + kx*d - pad]`, row dots accumulated in f64.
pub(crate) fn weight_grad_plane(
    x: &[f32],
    gy: &[f32],
    g: &Geom,
    acc: &mut [f64],
    scratch: &mut Vec<f32>,
) {
    debug_assert_eq!(x.len(), g.ih * g.iw);
    debug_assert_eq!(gy.len(), g.oh * g.ow);
    let simd = has_avx2_fma();
    let src: &[f32] = if g.s == 1 { x } else { split_phases(x, g, scratch) };
    let cols: Vec<(isize, usize, usize)> = (0..g.k)
        .map(|kx| {
            let c = g.col_offset(kx);
            let (lo, hi) = g.valid_cols(c);
            (c, lo, hi)
        })
        .collect();
    for oy in 0..g.oh {
        let grow = &gy[oy * g.ow..(oy + 1) * g.ow];
        for ky in 0..g.k {
            let Some(iy) = g.in_row(oy, ky) else { continue };
            for (kx, &(c, lo, hi)) in cols.iter().enumerate() {
                if hi <= lo {
                    continue;
                }
                let idx = src_index(g, iy, lo, c);
                debug_assert!(idx + (hi - lo) <= src.len());
                // SAFETY: valid columns read inside the row of `src` and of `grow`.
                let v = unsafe { dot(grow[lo..hi].as_ptr(), src[idx..].as_ptr(), hi - lo, simd) };
                acc[ky * g.k + kx] += v as f64;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2+FMA bodies, only called after `has_avx2_fma()`.
    use std::arch::x86_64::*;

    /// Lane masks for the `< 8` tail: `MASKS[8 - r..16 - r]` enables the first `r` lanes.
    static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

    #[inline(always)]
    unsafe fn tail_mask(r: usize) -> __m256i {
        unsafe { _mm256_loadu_si256(MASKS[8 - r..].as_ptr() as *const __m256i) }
    }

    /// See `super::taps_row`; four 8-wide accumulators hide the FMA latency.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn taps_row(out: &mut [f32], taps: &[(*const f32, f32)]) {
        let n = out.len();
        let o = out.as_mut_ptr();
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                let (mut a0, mut a1, mut a2, mut a3) = (
                    _mm256_setzero_ps(),
                    _mm256_setzero_ps(),
                    _mm256_setzero_ps(),
                    _mm256_setzero_ps(),
                );
                for &(p, w) in taps {
                    let wv = _mm256_set1_ps(w);
                    let p = p.add(i);
                    a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p), a0);
                    a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p.add(8)), a1);
                    a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p.add(16)), a2);
                    a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p.add(24)), a3);
                }
                _mm256_storeu_ps(o.add(i), a0);
                _mm256_storeu_ps(o.add(i + 8), a1);
                _mm256_storeu_ps(o.add(i + 16), a2);
                _mm256_storeu_ps(o.add(i + 24), a3);
                i += 32;
            }
            while i + 8 <= n {
                let mut a0 = _mm256_setzero_ps();
                for &(p, w) in taps {
                    a0 = _mm256_fmadd_ps(_mm256_set1_ps(w), _mm256_loadu_ps(p.add(i)), a0);
                }
                _mm256_storeu_ps(o.add(i), a0);
                i += 8;
            }
            if i < n {
                let m = tail_mask(n - i);
                let mut a0 = _mm256_setzero_ps();
                for &(p, w) in taps {
                    a0 = _mm256_fmadd_ps(_mm256_set1_ps(w), _mm256_maskload_ps(p.add(i), m), a0);
                }
                _mm256_maskstore_ps(o.add(i), m, a0);
            }
        }
    }

    /// See `super::dot`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut i = 0;
        unsafe {
            let (mut s0, mut s1, mut s2, mut s3) = (
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
                _mm256_setzero_ps(),
            );
            while i + 32 <= n {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 8)), _mm256_loadu_ps(b.add(i + 8)), s1);
                s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 16)), _mm256_loadu_ps(b.add(i + 16)), s2);
                s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 24)), _mm256_loadu_ps(b.add(i + 24)), s3);
                i += 32;
            }
            while i + 8 <= n {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
                i += 8;
            }
            if i < n {
                let m = tail_mask(n - i);
                s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a.add(i), m), _mm256_maskload_ps(b.add(i), m), s1);
            }
            let s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
            let lo = _mm256_castps256_ps128(s);
            let hi = _mm256_extractf128_ps(s, 1);
            let q = _mm_add_ps(lo, hi);
            let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
            let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
            _mm_cvtss_f32(q)
        }
    }
}
