//! Raw loops for bilinear resizing of one dense f32 plane, forward and backward, with PyTorch's
//! index/weight arithmetic (done in f32 like PyTorch's CPU kernel) so results match
//! `F.interpolate(mode='bilinear')` in size mode.
//!
//! Separable: the forward pass resizes each needed input row horizontally once (cached per
//! plane, so a 2x upsample gathers each input row once, not twice) and then blends two rows
//! vertically with a vectorisable loop. The backward pass is the exact transpose: vertical
//! scatter-add of gradient rows into a per-input-row buffer, then a horizontal scatter-add.

use std::mem::MaybeUninit;

/// Interpolation taps along one axis: output `i` reads `lambda0 * in[i0] + lambda1 * in[i1]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Tap {
    pub i0: usize,
    pub i1: usize,
    pub l0: f32,
    pub l1: f32,
}

/// PyTorch's `area_pixel_compute_scale` in size mode, in f32: source pixels per output pixel.
/// The CUDA kernels get this same number (`launch::resize_scales`).
pub(crate) fn axis_scale(in_len: usize, out_len: usize, align_corners: bool) -> f32 {
    if align_corners {
        if out_len > 1 { (in_len - 1) as f32 / (out_len - 1) as f32 } else { 0.0 }
    } else {
        in_len as f32 / out_len as f32
    }
}

/// PyTorch's `compute_indices_weights_linear` (size mode, no antialias) for one axis.
pub(crate) fn axis_taps(in_len: usize, out_len: usize, align_corners: bool) -> Vec<Tap> {
    let scale = axis_scale(in_len, out_len, align_corners);
    (0..out_len)
        .map(|i| {
            let src = if align_corners { scale * i as f32 } else { (scale * (i as f32 + 0.5) - 0.5).max(0.0) };
            let i0 = (src.floor() as usize).min(in_len - 1);
            let lambda = (src - i0 as f32).clamp(0.0, 1.0);
            let i1 = if i0 < in_len - 1 { i0 + 1 } else { i0 };
            Tap { i0, i1, l0: 1.0 - lambda, l1: lambda }
        })
        .collect()
}

/// Forward for one plane: `inp` (ih, iw) -> `out` (oh = ty.len(), ow = tx.len()).
/// `scratch` holds the horizontally resized rows (ih x ow) computed lazily. Writes all of `out`.
pub(crate) fn resize_plane(
    inp: &[f32],
    iw: usize,
    ty: &[Tap],
    tx: &[Tap],
    out: &mut [MaybeUninit<f32>],
    scratch: &mut Vec<f32>,
) {
    let ow = tx.len();
    let ih = inp.len() / iw;
    // Stale contents are fine: a row is computed before it is read.
    scratch.resize(ih * ow, 0.0);
    let mut done = vec![false; ih];
    for (oy, t) in ty.iter().enumerate() {
        for r in [t.i0, t.i1] {
            if !done[r] {
                let src = &inp[r * iw..(r + 1) * iw];
                for (o, x) in scratch[r * ow..(r + 1) * ow].iter_mut().zip(tx) {
                    *o = x.l0 * src[x.i0] + x.l1 * src[x.i1];
                }
                done[r] = true;
            }
        }
        let a = &scratch[t.i0 * ow..(t.i0 + 1) * ow];
        let b = &scratch[t.i1 * ow..(t.i1 + 1) * ow];
        for ((o, &a), &b) in out[oy * ow..(oy + 1) * ow].iter_mut().zip(a).zip(b) {
            *o = MaybeUninit::new(t.l0 * a + t.l1 * b);
        }
    }
}

/// Backward for one plane: scatter-adds `gy` (oh x ow) into `gx` (ih x iw), the transpose of
/// [`resize_plane`]; `gx` must be zero on entry. `scratch` holds the vertically accumulated
/// rows (ih x ow).
pub(crate) fn resize_plane_bwd(gy: &[f32], ty: &[Tap], tx: &[Tap], gx: &mut [f32], iw: usize, scratch: &mut Vec<f32>) {
    let ow = tx.len();
    let ih = gx.len() / iw;
    scratch.clear();
    scratch.resize(ih * ow, 0.0);
    let mut touched = vec![false; ih];
    for (oy, t) in ty.iter().enumerate() {
        let g = &gy[oy * ow..(oy + 1) * ow];
        for (r, l) in [(t.i0, t.l0), (t.i1, t.l1)] {
            touched[r] = true;
            for (a, &v) in scratch[r * ow..(r + 1) * ow].iter_mut().zip(g) {
                *a += l * v;
            }
        }
    }
    for r in 0..ih {
        if !touched[r] {
            continue;
        }
        let acc = &scratch[r * ow..(r + 1) * ow];
        let dst = &mut gx[r * iw..(r + 1) * iw];
        for (&v, x) in acc.iter().zip(tx) {
            dst[x.i0] += x.l0 * v;
            dst[x.i1] += x.l1 * v;
        }
    }
}
