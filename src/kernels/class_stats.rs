//! Per-pixel softmax statistics over the class axis (arg-max, max probability, normalised
//! entropy) for one segment of pixels, with an exp and a log written to vectorise. Every answer
//! pays for these maps at full image size (19 classes x 131k pixels at 257x513): glibc's scalar
//! `expf` there cost more than the whole exit head. The polynomials are Cephes' `expf` and
//! `logf` (about 1 ulp on their reduced ranges), in branch-free form so that the compiler turns
//! each pixel loop into SIMD, with AVX2+FMA where the CPU has it.

// the polynomial coefficients are written as Cephes publishes them; min/max instead of clamp
// because clamp's NaN rule kept the loops scalar
#![allow(clippy::excessive_precision, clippy::manual_clamp)]

use super::util::has_avx2_fma;

/// Pixels in one segment: the loops keep three f32 and one u32 per pixel on the stack.
pub const SEGMENT: usize = 512;

/// `e^x`, branch-free: x is clamped to [-87.3, 88.7] (the normal range of the result).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_375;
    const C2: f32 = -2.121_944_4e-4;
    // adding and removing 1.5 * 2^23 rounds to the nearest integer (for |t| < 2^22)
    const ROUND: f32 = 12_582_912.0;
    // min/max, not clamp, and the integer read from t's bits, not `n as i32`: Rust's
    // saturating float-to-int cast and clamp's NaN rule kept these loops scalar
    let x = x.max(-87.3).min(88.7);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - n * C1 - n * C2;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * z + r + 1.0;
    y * f32::from_bits((ni.wrapping_add(127) as u32) << 23)
}

/// `ln x` for positive normal x, branch-free (0, subnormals, infinities and NaN are not
/// handled: the caller's sums lie in [1, K]).
#[inline(always)]
pub fn fast_ln(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    // mantissa in [0.5, 1)
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    // move it to [sqrt(1/2), sqrt(2)) so the polynomial's argument stays small
    let small = m < SQRT_HALF;
    e -= small as i32;
    m = if small { m + m } else { m };
    let f = m - 1.0;
    let z = f * f;
    let mut y = ((((((((7.037_683_6e-2 * f - 1.151_461e-1) * f + 1.167_699_9e-1) * f - 1.242_014_1e-1) * f
        + 1.424_932_3e-1)
        * f
        - 1.666_805_8e-1)
        * f
        + 2.000_071_4e-1)
        * f
        - 2.499_999_4e-1)
        * f
        + 3.333_333_1e-1)
        * f
        * z;
    let ef = e as f32;
    y += -2.121_944_4e-4 * ef;
    y += -0.5 * z;
    f + y + 0.693_359_375 * ef
}

/// One segment of at most [`SEGMENT`] pixels: `plane(c)` is class c's logits of those pixels.
/// Writes the arg-max (first maximum wins, as candle's argmax), the max probability and the
/// entropy divided by ln K (clamped to [0, 1]).
pub fn segment<'a>(
    k: usize,
    plane: impl Fn(usize) -> &'a [f32],
    classes: &mut [u8],
    max_prob: &mut [f32],
    entropy: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { segment_avx2(k, plane, classes, max_prob, entropy) };
    }
    segment_body(k, plane, classes, max_prob, entropy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn segment_avx2<'a>(
    k: usize,
    plane: impl Fn(usize) -> &'a [f32],
    classes: &mut [u8],
    max_prob: &mut [f32],
    entropy: &mut [f32],
) {
    segment_body(k, plane, classes, max_prob, entropy)
}

#[inline(always)]
fn segment_body<'a>(
    k: usize,
    plane: impl Fn(usize) -> &'a [f32],
    classes: &mut [u8],
    max_prob: &mut [f32],
    entropy: &mut [f32],
) {
    let len = classes.len();
    assert!(len <= SEGMENT && max_prob.len() == len && entropy.len() == len, "segment of {len} pixels");
    let inv_log_k = if k > 1 { 1.0 / (k as f32).ln() } else { 0.0 };
    let (mut m, mut idx) = ([f32::NEG_INFINITY; SEGMENT], [0u32; SEGMENT]);
    let (m, idx) = (&mut m[..len], &mut idx[..len]);
    for c in 0..k {
        let p = &plane(c)[..len];
        for ((mj, ij), &v) in m.iter_mut().zip(idx.iter_mut()).zip(p) {
            let gt = v > *mj;
            *ij = if gt { c as u32 } else { *ij };
            *mj = if gt { v } else { *mj };
        }
    }
    // with z = x - max: p = e^z / s, and entropy = -sum p ln p = ln s - (sum z e^z) / s
    let (mut s, mut t) = ([0f32; SEGMENT], [0f32; SEGMENT]);
    let (s, t) = (&mut s[..len], &mut t[..len]);
    for c in 0..k {
        let p = &plane(c)[..len];
        for (((sj, tj), &mj), &v) in s.iter_mut().zip(t.iter_mut()).zip(m.iter()).zip(p) {
            let z = v - mj;
            let e = fast_exp(z);
            *sj += e;
            *tj += z * e;
        }
    }
    for j in 0..len {
        classes[j] = idx[j] as u8;
        let inv = 1.0 / s[j];
        max_prob[j] = inv;
        entropy[j] = ((fast_ln(s[j]) - t[j] * inv) * inv_log_k).max(0.0).min(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f32, b: f32) -> f32 {
        (a - b).abs() / b.abs().max(f32::MIN_POSITIVE)
    }

    #[test]
    fn exp_within_a_few_ulp_of_std() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            worst = worst.max(rel(fast_exp(x), x.exp()));
            x += 0.001_37;
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        assert_eq!(fast_exp(0.0), 1.0);
        // far below the range: the clamp, not garbage
        assert!(fast_exp(-1e4) < 1e-37 && fast_exp(-1e4) >= 0.0);
        assert!(fast_exp(f32::NEG_INFINITY) < 1e-37);
    }

    #[test]
    fn ln_within_a_few_ulp_of_std() {
        let mut worst = 0f32;
        let mut x = 1e-30f32;
        while x < 1e30 {
            let (a, b) = (fast_ln(x), x.ln());
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
            x *= 1.000_7;
        }
        assert!(worst < 3e-7, "worst error {worst}");
        assert_eq!(fast_ln(1.0), 0.0);
        for x in [0.5f32, 2.0, 19.0, std::f32::consts::SQRT_2, 1.0 - f32::EPSILON] {
            assert!((fast_ln(x) - x.ln()).abs() < 2e-7, "{x}");
        }
    }

    #[test]
    fn both_paths_agree() {
        let k = 19;
        let logits: Vec<f32> = (0..k * 300).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 60.0).collect();
        let plane = |c: usize| &logits[c * 300..(c + 1) * 300];
        let run = |portable: bool| {
            let _portable = portable.then(crate::kernels::util::PortableLoops::on_this_thread);
            let (mut c, mut p, mut e) = (vec![0u8; 300], vec![0f32; 300], vec![0f32; 300]);
            segment(k, plane, &mut c, &mut p, &mut e);
            (c, p, e)
        };
        let (a, b) = (run(false), run(true));
        assert_eq!(a.0, b.0);
        for (x, y) in a.1.iter().zip(&b.1).chain(a.2.iter().zip(&b.2)) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }
}
