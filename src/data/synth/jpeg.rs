//! JPEG-style artefacts (8x8 DCT quantisation, 2x2 chroma averaging) computed here rather than
//! by a real codec round trip, because decoders pick SIMD paths per CPU and would break
//! byte-identical output across machines. Only + - * / and rounding are used.

use super::canvas::Rgb;

/// The orthonormal 8-point DCT-II matrix (constants, not computed with libm).
const DCT: [[f32; 8]; 8] = [
    [0.353553391, 0.353553391, 0.353553391, 0.353553391, 0.353553391, 0.353553391, 0.353553391, 0.353553391],
    [0.490392640, 0.415734806, 0.277785117, 0.097545161, -0.097545161, -0.277785117, -0.415734806, -0.490392640],
    [0.461939766, 0.191341716, -0.191341716, -0.461939766, -0.461939766, -0.191341716, 0.191341716, 0.461939766],
    [0.415734806, -0.097545161, -0.490392640, -0.277785117, 0.277785117, 0.490392640, 0.097545161, -0.415734806],
    [0.353553391, -0.353553391, -0.353553391, 0.353553391, 0.353553391, -0.353553391, -0.353553391, 0.353553391],
    [0.277785117, -0.490392640, 0.097545161, 0.415734806, -0.415734806, -0.097545161, 0.490392640, -0.277785117],
    [0.191341716, -0.461939766, 0.461939766, -0.191341716, -0.191341716, 0.461939766, -0.461939766, 0.191341716],
    [0.097545161, -0.277785117, 0.415734806, -0.490392640, 0.490392640, -0.415734806, 0.277785117, -0.097545161],
];

/// The JPEG standard luminance quantisation table (Annex K).
const QUANT: [[f32; 8]; 8] = [
    [16., 11., 10., 16., 24., 40., 51., 61.],
    [12., 12., 14., 19., 26., 58., 60., 55.],
    [14., 13., 16., 24., 40., 57., 69., 56.],
    [14., 17., 22., 29., 51., 87., 80., 62.],
    [18., 22., 37., 56., 68., 109., 103., 77.],
    [24., 35., 55., 64., 81., 104., 113., 92.],
    [49., 64., 78., 87., 103., 121., 120., 101.],
    [72., 92., 95., 98., 112., 100., 103., 99.],
];

/// Quantises one 8x8 block of one plane (values in 0..255 units) in place.
fn block(plane: &mut [f32], w: usize, bx: usize, by: usize, scale: f32) {
    let mut b = [[0.0f32; 8]; 8];
    for (y, row) in b.iter_mut().enumerate() {
        for (x, v) in row.iter_mut().enumerate() {
            *v = plane[(by + y) * w + bx + x] - 128.0;
        }
    }
    // Forward: C * B * C^T, quantise, inverse: C^T * Q * C (plain loops: a fixed summation
    // order, and fast).
    let t = mul(&DCT, &b, false);
    let mut f = mul(&t, &DCT, true);
    for k in 0..8 {
        for l in 0..8 {
            let q = (QUANT[k][l] * scale).max(1.0);
            f[k][l] = (f[k][l] / q).round() * q;
        }
    }
    let t = mul_tn(&DCT, &f);
    let out = mul(&t, &DCT, false);
    for y in 0..8 {
        for x in 0..8 {
            plane[(by + y) * w + bx + x] = out[y][x] + 128.0;
        }
    }
}

/// a * b, or a * b^T when `bt`.
fn mul(a: &[[f32; 8]; 8], b: &[[f32; 8]; 8], bt: bool) -> [[f32; 8]; 8] {
    let mut o = [[0.0f32; 8]; 8];
    for i in 0..8 {
        for j in 0..8 {
            let mut s = 0.0;
            for k in 0..8 {
                s += a[i][k] * if bt { b[j][k] } else { b[k][j] };
            }
            o[i][j] = s;
        }
    }
    o
}

/// a^T * b.
fn mul_tn(a: &[[f32; 8]; 8], b: &[[f32; 8]; 8]) -> [[f32; 8]; 8] {
    let mut o = [[0.0f32; 8]; 8];
    for i in 0..8 {
        for j in 0..8 {
            let mut s = 0.0;
            for k in 0..8 {
                s += a[k][i] * b[k][j];
            }
            o[i][j] = s;
        }
    }
    o
}

/// Applies artefacts of a JPEG of `quality` (1..=100) to an image of w x h (values in [0, 1]).
pub fn artefacts(rgb: &mut [Rgb], w: usize, h: usize, quality: u8) {
    let q = f32::from(quality.clamp(1, 100));
    let scale = if q < 50.0 { 50.0 / q } else { (200.0 - 2.0 * q) / 100.0 };
    let n = w * h;
    let mut planes = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
    for (i, p) in rgb.iter().enumerate() {
        let [r, g, b] = [p[0] * 255.0, p[1] * 255.0, p[2] * 255.0];
        planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b;
        planes[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0;
        planes[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0;
    }
    // Chroma at half resolution, as most encoders store it.
    for plane in &mut planes[1..] {
        for y in (0..h - h % 2).step_by(2) {
            for x in (0..w - w % 2).step_by(2) {
                let i = y * w + x;
                let m = (plane[i] + plane[i + 1] + plane[i + w] + plane[i + w + 1]) * 0.25;
                for j in [i, i + 1, i + w, i + w + 1] {
                    plane[j] = m;
                }
            }
        }
    }
    for (pi, plane) in planes.iter_mut().enumerate() {
        let s = if pi == 0 { scale } else { scale * 1.6 };
        for by in (0..h / 8 * 8).step_by(8) {
            for bx in (0..w / 8 * 8).step_by(8) {
                block(plane, w, bx, by, s);
            }
        }
    }
    for (i, p) in rgb.iter_mut().enumerate() {
        let (y, cb, cr) = (planes[0][i], planes[1][i] - 128.0, planes[2][i] - 128.0);
        *p = [(y + 1.402 * cr) / 255.0, (y - 0.344136 * cb - 0.714136 * cr) / 255.0, (y + 1.772 * cb) / 255.0];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_survives_and_detail_is_lost() {
        let (w, h) = (16, 16);
        let mut flat = vec![[0.5f32, 0.4, 0.3]; w * h];
        artefacts(&mut flat, w, h, 50);
        assert!(flat.iter().all(|p| (p[0] - 0.5).abs() < 0.02), "{:?}", flat[0]);
        let noisy: Vec<Rgb> = (0..w * h)
            .map(|i| {
                let v = super::super::noise::unit(super::super::noise::hash2(i as i32, 0, 1));
                [v, v, v]
            })
            .collect();
        let err = |q: u8| {
            let mut img = noisy.clone();
            artefacts(&mut img, w, h, q);
            img.iter().zip(&noisy).map(|(a, b)| (a[0] - b[0]) * (a[0] - b[0])).sum::<f32>()
        };
        assert!(err(10) > 2.0 * err(90) && err(90) > 0.0, "{} {}", err(10), err(90));
    }
}
