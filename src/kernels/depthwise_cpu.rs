//! Raw loops for depthwise convolution on one dense f32 plane (one image, one channel).
//!
//! Everything is expressed as a *correlation*
//! `out[oy,ox] = sum_{ky,kx} w[ky,kx] * inp[oy*s + ky*d - pad, ox*s + kx*d - pad]` (zero outside),
//! which serves the forward pass and, with a flipped kernel, the input gradient at stride 1.
//! Each input row is first copied with its columns zero-padded (and, for stride > 1, split into
//! `s` column phases), so an output row becomes "sum of K*K shifted contiguous rows": one
//! AVX2+FMA loop with no bounds checks and no scalar border code. Rows in the padding are
//! simply skipped.

use std::mem::MaybeUninit;

/// Geometry of one correlation: input and output plane sizes, square kernel size `k`, stride
/// `s`, dilation `d` and a signed padding (negative when used for the input gradient); and
/// whether to run the AVX2+FMA loops, decided once per call on the calling thread.
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
    pub simd: bool,
}

impl Geom {
    /// Input row read by output row `oy` through kernel row `ky`, if inside the plane.
    #[inline]
    fn in_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let iy = (oy * self.s + ky * self.d) as isize - self.pad;
        (iy >= 0 && (iy as usize) < self.ih).then_some(iy as usize)
    }

    /// Padded columns the output reads: `(ow-1)*s + (k-1)*d + 1` (padded col c = real col + pad).
    fn padded_width(&self) -> usize {
        (self.ow - 1) * self.s + (self.k - 1) * self.d + 1
    }
}

/// An input plane with zero-padded columns split into `s` phases: padded column `c` of row
/// `y` is at `(c % s) * phase_len + y * pitch + c / s`, so `ox -> ox*s + c` is contiguous.
struct Padded<'a> {
    data: &'a [f32],
    s: usize,
    pitch: usize,
    phase_len: usize,
}

impl Padded<'_> {
    /// Flat index of padded column `c` in row `y`.
    #[inline]
    fn index(&self, y: usize, c: usize) -> usize {
        (c % self.s) * self.phase_len + y * self.pitch + c / self.s
    }
}

/// Builds the padded, phase-split copy of `inp` in `scratch` (or borrows `inp` when no
/// padding or phase split is needed).
fn pad_columns<'a>(inp: &'a [f32], g: &Geom, scratch: &'a mut Vec<f32>) -> Padded<'a> {
    let pw = g.padded_width();
    if g.s == 1 && g.pad == 0 && pw == g.iw {
        return Padded { data: inp, s: 1, pitch: g.iw, phase_len: 0 };
    }
    let pitch = pw.div_ceil(g.s);
    let phase_len = g.ih * pitch;
    // Padded columns holding real data: [c_lo, c_hi).
    let c_lo = g.pad.clamp(0, pw as isize) as usize;
    let c_hi = (g.pad + g.iw as isize).clamp(c_lo as isize, pw as isize) as usize;
    let x_lo = (c_lo as isize - g.pad) as usize;
    if g.s == 1 {
        // Every element is written below, so stale contents of `scratch` do not matter.
        scratch.resize(phase_len, 0.0);
        for y in 0..g.ih {
            let dst = &mut scratch[y * pw..(y + 1) * pw];
            dst[..c_lo].fill(0.0);
            if c_hi > c_lo {
                dst[c_lo..c_hi].copy_from_slice(&inp[y * g.iw + x_lo..y * g.iw + x_lo + (c_hi - c_lo)]);
            }
            dst[c_hi..].fill(0.0);
        }
    } else {
        scratch.clear();
        scratch.resize(g.s * phase_len, 0.0);
        for y in 0..g.ih {
            for c in c_lo..c_hi {
                let x = x_lo + (c - c_lo);
                scratch[(c % g.s) * phase_len + y * pitch + c / g.s] = inp[y * g.iw + x];
            }
        }
    }
    Padded { data: scratch, s: g.s, pitch, phase_len }
}

/// One output plane of the correlation described by `g` (see the module doc); every element
/// of `out` is written. `scratch` is reused between planes for the padded copy.
pub(crate) fn corr_plane(inp: &[f32], wt: &[f32], out: &mut [MaybeUninit<f32>], g: &Geom, scratch: &mut Vec<f32>) {
    assert_eq!(inp.len(), g.ih * g.iw);
    assert_eq!(wt.len(), g.k * g.k);
    assert_eq!(out.len(), g.oh * g.ow);
    let simd = g.simd;
    let src = pad_columns(inp, g, scratch);
    // Offsets of each kernel column within a row, hoisted: divisions by a runtime stride per
    // tap per row cost as much as the row's FMAs on the small planes.
    let col_off: Vec<usize> = (0..g.k).map(|kx| src.index(0, kx * g.d)).collect();
    // Output ox reads row base + off + ox, and (ow-1)*s + c < pw keeps that inside the phase
    // row; checked once here for the last row and the largest offset.
    let max_off = col_off.iter().copied().max().unwrap_or(0);
    assert!((g.ih - 1) * src.pitch + max_off + g.ow <= src.data.len());
    // Taps as (offset from the row of ky = 0, weight); rows whose kernel rows all fall inside
    // the plane (nearly all) reuse them, rows at the top and bottom edge get a filtered list.
    let full: Vec<(usize, f32)> =
        (0..g.k * g.k).map(|t| ((t / g.k) * g.d * src.pitch + col_off[t % g.k], wt[t])).collect();
    let mut edge: Vec<(usize, f32)> = Vec::with_capacity(g.k * g.k);
    for oy in 0..g.oh {
        let top = (oy * g.s) as isize - g.pad;
        let out_row = &mut out[oy * g.ow..(oy + 1) * g.ow];
        if top >= 0 && (top as usize + (g.k - 1) * g.d) < g.ih {
            let base = src.data[top as usize * src.pitch..].as_ptr();
            // SAFETY: base + offset + ow stays inside `src` (asserted above).
            unsafe { taps_row(out_row, base, &full, simd) };
        } else {
            edge.clear();
            for ky in 0..g.k {
                let Some(iy) = g.in_row(oy, ky) else { continue };
                for (kx, &off) in col_off.iter().enumerate() {
                    edge.push((iy * src.pitch + off, wt[ky * g.k + kx]));
                }
            }
            // SAFETY: as above, offsets are absolute row + column offsets.
            unsafe { taps_row(out_row, src.data.as_ptr(), &edge, simd) };
        }
    }
}

/// Input gradient of a forward correlation with geometry `g`, for stride > 1 (where the
/// flipped-kernel correlation would need fractional strides): each gradient row is added,
/// scaled by its tap, into a padded phase-split buffer (contiguous axpy), which is then
/// gathered back to the input layout. Every element of `gx` is written.
pub(crate) fn scatter_plane(gy: &[f32], wt: &[f32], gx: &mut [MaybeUninit<f32>], g: &Geom, scratch: &mut Vec<f32>) {
    assert_eq!(gy.len(), g.oh * g.ow);
    assert_eq!(gx.len(), g.ih * g.iw);
    let simd = g.simd;
    let pw = g.padded_width();
    let pitch = pw.div_ceil(g.s);
    let phase_len = g.ih * pitch;
    scratch.clear();
    scratch.resize(g.s * phase_len, 0.0);
    for oy in 0..g.oh {
        let grow = &gy[oy * g.ow..(oy + 1) * g.ow];
        for ky in 0..g.k {
            let Some(iy) = g.in_row(oy, ky) else { continue };
            for kx in 0..g.k {
                let c = kx * g.d;
                let idx = (c % g.s) * phase_len + iy * pitch + c / g.s;
                axpy(&mut scratch[idx..idx + g.ow], wt[ky * g.k + kx], grow, simd);
            }
        }
    }
    for y in 0..g.ih {
        for x in 0..g.iw {
            let c = x as isize + g.pad;
            let v = if c >= 0 && (c as usize) < pw {
                let c = c as usize;
                scratch[(c % g.s) * phase_len + y * pitch + c / g.s]
            } else {
                0.0 // never read by the forward pass
            };
            gx[y * g.iw + x] = MaybeUninit::new(v);
        }
    }
}

/// Adds to `acc[ky*k+kx]` the weight gradient of one plane:
/// `sum_{oy,ox} gy[oy,ox] * x[oy*s + ky*d - pad, ox*s + kx*d - pad]`, row dots accumulated in f64.
pub(crate) fn weight_grad_plane(x: &[f32], gy: &[f32], g: &Geom, acc: &mut [f64], scratch: &mut Vec<f32>) {
    assert_eq!(x.len(), g.ih * g.iw);
    assert_eq!(gy.len(), g.oh * g.ow);
    let simd = g.simd;
    let src = pad_columns(x, g, scratch);
    for oy in 0..g.oh {
        let grow = &gy[oy * g.ow..(oy + 1) * g.ow];
        for ky in 0..g.k {
            let Some(iy) = g.in_row(oy, ky) else { continue };
            for kx in 0..g.k {
                let idx = src.index(iy, kx * g.d);
                let row = &src.data[idx..idx + g.ow];
                acc[ky * g.k + kx] += dot(grow, row, simd) as f64;
            }
        }
    }
}

/// `out[i] = sum_t w_t * base[off_t + i]` for every tap `(off_t, w_t)`; zero without taps.
///
/// # Safety
/// `base + off_t` must be valid for `out.len()` reads for every tap.
unsafe fn taps_row(out: &mut [MaybeUninit<f32>], base: *const f32, taps: &[(usize, f32)], simd: bool) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: the caller checked AVX2+FMA; pointer validity is our own contract.
        return unsafe { avx2::taps_row(out.as_mut_ptr() as *mut f32, out.len(), base, taps) };
    }
    let _ = simd;
    let n = out.len();
    let Some((&(o0, w0), rest)) = taps.split_first() else {
        out.fill(MaybeUninit::new(0.0));
        return;
    };
    // SAFETY: valid for n reads by contract.
    let first = unsafe { std::slice::from_raw_parts(base.add(o0), n) };
    for (o, &v) in out.iter_mut().zip(first) {
        *o = MaybeUninit::new(w0 * v);
    }
    // SAFETY: every element was just written; same layout.
    let out = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
    for &(off, w) in rest {
        // SAFETY: valid for n reads by contract.
        let src = unsafe { std::slice::from_raw_parts(base.add(off), n) };
        for (o, &v) in out.iter_mut().zip(src) {
            *o += w * v;
        }
    }
}

/// `out[i] += w * src[i]`.
fn axpy(out: &mut [f32], w: f32, src: &[f32], simd: bool) {
    assert_eq!(out.len(), src.len());
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2+FMA checked by the caller; equal lengths asserted.
        return unsafe { avx2::axpy(out.as_mut_ptr(), w, src.as_ptr(), out.len()) };
    }
    let _ = simd;
    for (o, &v) in out.iter_mut().zip(src) {
        *o += w * v;
    }
}

/// `sum_i a[i] * b[i]`.
fn dot(a: &[f32], b: &[f32], simd: bool) -> f32 {
    assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: AVX2+FMA checked by the caller; equal lengths asserted.
        return unsafe { avx2::dot(a.as_ptr(), b.as_ptr(), a.len()) };
    }
    let _ = simd;
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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2+FMA bodies, only called when `Geom::simd` (set from `has_avx2_fma()`) says so.
    use std::arch::x86_64::*;

    /// Lane masks for the `< 8` tail: `MASKS[8 - r..16 - r]` enables the first `r` lanes.
    static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

    #[inline(always)]
    unsafe fn tail_mask(r: usize) -> __m256i {
        unsafe { _mm256_loadu_si256(MASKS[8 - r..].as_ptr() as *const __m256i) }
    }

    /// See `super::taps_row`; four 8-wide accumulators hide the FMA latency.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn taps_row(o: *mut f32, n: usize, base: *const f32, taps: &[(usize, f32)]) {
        let mut i = 0;
        unsafe {
            while i + 32 <= n {
                let (mut a0, mut a1, mut a2, mut a3) =
                    (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
                for &(off, w) in taps {
                    let wv = _mm256_set1_ps(w);
                    let p = base.add(off + i);
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
                for &(off, w) in taps {
                    a0 = _mm256_fmadd_ps(_mm256_set1_ps(w), _mm256_loadu_ps(base.add(off + i)), a0);
                }
                _mm256_storeu_ps(o.add(i), a0);
                i += 8;
            }
            if i < n {
                let m = tail_mask(n - i);
                let mut a0 = _mm256_setzero_ps();
                for &(off, w) in taps {
                    a0 = _mm256_fmadd_ps(_mm256_set1_ps(w), _mm256_maskload_ps(base.add(off + i), m), a0);
                }
                _mm256_maskstore_ps(o.add(i), m, a0);
            }
        }
    }

    /// See `super::axpy`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn axpy(o: *mut f32, w: f32, src: *const f32, n: usize) {
        let mut i = 0;
        unsafe {
            let wv = _mm256_set1_ps(w);
            while i + 16 <= n {
                let a = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src.add(i)), _mm256_loadu_ps(o.add(i)));
                let b = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src.add(i + 8)), _mm256_loadu_ps(o.add(i + 8)));
                _mm256_storeu_ps(o.add(i), a);
                _mm256_storeu_ps(o.add(i + 8), b);
                i += 16;
            }
            while i < n {
                *o.add(i) = w.mul_add(*src.add(i), *o.add(i));
                i += 1;
            }
        }
    }

    /// See `super::dot`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut i = 0;
        unsafe {
            let (mut s0, mut s1, mut s2, mut s3) =
                (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
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
