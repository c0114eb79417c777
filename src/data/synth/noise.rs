//! Integer-hash noise. Only integer ops and + - * / on f32, so every machine computes the same
//! bits (no libm transcendental functions, whose last bits vary between platforms).

/// A 32-bit avalanche hash of two coordinates and a seed.
#[inline]
pub fn hash2(x: i32, y: i32, seed: u32) -> u32 {
    let mut h = (x as u32).wrapping_mul(0x8da6_b343) ^ (y as u32).wrapping_mul(0xd816_3841) ^ seed;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^ (h >> 15)
}

/// Uniform in [0, 1) from a hash.
#[inline]
pub fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// White noise in [-1, 1) at an integer pixel.
#[inline]
pub fn white(x: i32, y: i32, seed: u32) -> f32 {
    unit(hash2(x, y, seed)) * 2.0 - 1.0
}

#[inline]
fn smooth(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// `x.floor()` as an integer, without the libm call (exact for |x| < 2^31).
#[inline]
pub fn floor_i(x: f32) -> i32 {
    let i = x as i32;
    if (i as f32) > x { i - 1 } else { i }
}

/// Smooth value noise in [0, 1) with unit cell size.
pub fn value(x: f32, y: f32, seed: u32) -> f32 {
    let (ix, iy) = (floor_i(x), floor_i(y));
    let (fx, fy) = (ix as f32, iy as f32);
    let (tx, ty) = (smooth(x - fx), smooth(y - fy));
    let a = unit(hash2(ix, iy, seed));
    let b = unit(hash2(ix + 1, iy, seed));
    let c = unit(hash2(ix, iy + 1, seed));
    let d = unit(hash2(ix + 1, iy + 1, seed));
    let top = a + (b - a) * tx;
    let bot = c + (d - c) * tx;
    top + (bot - top) * ty
}

/// Two octaves of value noise, in [0, 1).
pub fn fbm2(x: f32, y: f32, seed: u32) -> f32 {
    value(x, y, seed) * 0.65 + value(x * 2.7, y * 2.7, seed ^ 0x5bd1_e995) * 0.35
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_in_range_and_varies() {
        let mut lo = 1.0f32;
        let mut hi = 0.0f32;
        for i in 0..1000 {
            let v = fbm2(i as f32 * 0.37, i as f32 * 0.11, 9);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        assert!(lo >= 0.0 && hi < 1.0 && hi - lo > 0.5, "{lo} {hi}");
        assert_ne!(hash2(1, 2, 3), hash2(2, 1, 3));
    }
}
