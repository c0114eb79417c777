//! Light and colour: time of day, sun side and the material palettes. Palettes overlap on
//! purpose (grey cars, grey walls, grey asphalt; green jackets and green hedges) so that no class
//! can be told by its colour alone.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::canvas::Rgb;

/// When the scene is lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeOfDay {
    Day,
    Overcast,
    Dusk,
    Night,
}

/// Which way a surface faces, for its share of sunlight.
#[derive(Debug, Clone, Copy)]
pub enum Facing {
    /// The ground and roofs.
    Up,
    /// A plane along the road whose normal points to +u (the left side of the street).
    PlusU,
    /// A plane along the road whose normal points to -u (the right side of the street).
    MinusU,
    /// A plane facing the camera.
    Front,
}

/// Lighting of one scene.
#[derive(Debug, Clone)]
pub struct Look {
    pub tod: TimeOfDay,
    pub ambient: Rgb,
    pub sun: Rgb,
    /// +1 when the sun shines from the left (shadows fall to +u), -1 from the right.
    pub sun_side: f32,
    /// Shadow length per metre of height.
    pub shadow_len: f32,
    pub sky_top: Rgb,
    pub sky_horizon: Rgb,
    /// Fraction of the sky covered by clouds.
    pub clouds: f32,
    /// Lamps, windows and vehicle lights shine.
    pub lights_on: bool,
}

impl Look {
    pub fn random(rng: &mut ChaCha8Rng, difficulty: f32) -> Look {
        let r: f32 = rng.random();
        let night_p = 0.04 + 0.22 * difficulty;
        let dusk_p = night_p + 0.06 + 0.14 * difficulty;
        let over_p = dusk_p + 0.2;
        let tod = if r < night_p {
            TimeOfDay::Night
        } else if r < dusk_p {
            TimeOfDay::Dusk
        } else if r < over_p {
            TimeOfDay::Overcast
        } else {
            TimeOfDay::Day
        };
        let v = |rng: &mut ChaCha8Rng, a: f32, b: f32| rng.random_range(a..b);
        let (ambient, sun, top, hor, clouds) = match tod {
            TimeOfDay::Day => {
                let a = v(rng, 0.55, 0.7);
                (
                    [a * 0.95, a * 0.98, a * 1.05],
                    [0.45, 0.43, 0.38],
                    [v(rng, 0.2, 0.35), v(rng, 0.4, 0.55), v(rng, 0.75, 0.9)],
                    [v(rng, 0.7, 0.85), v(rng, 0.8, 0.9), v(rng, 0.88, 0.97)],
                    v(rng, 0.0, 0.6),
                )
            }
            TimeOfDay::Overcast => {
                let a = v(rng, 0.6, 0.8);
                let g = v(rng, 0.6, 0.8);
                ([a, a, a * 1.02], [0.08, 0.08, 0.08], [g, g, g * 1.04], [g + 0.12, g + 0.12, g + 0.13], 1.0)
            }
            TimeOfDay::Dusk => {
                let a = v(rng, 0.3, 0.45);
                (
                    [a * 1.05, a * 0.9, a * 0.95],
                    [0.35, 0.2, 0.1],
                    [v(rng, 0.15, 0.3), v(rng, 0.15, 0.25), v(rng, 0.35, 0.5)],
                    [v(rng, 0.9, 1.0), v(rng, 0.5, 0.7), v(rng, 0.3, 0.45)],
                    v(rng, 0.1, 0.7),
                )
            }
            TimeOfDay::Night => {
                let a = v(rng, 0.1, 0.2);
                (
                    [a * 0.9, a * 0.95, a * 1.15],
                    [0.0; 3],
                    [0.01, 0.02, 0.05],
                    [v(rng, 0.08, 0.16), v(rng, 0.08, 0.14), v(rng, 0.12, 0.2)],
                    v(rng, 0.0, 0.5),
                )
            }
        };
        Look {
            tod,
            ambient,
            sun,
            sun_side: if rng.random::<bool>() { 1.0 } else { -1.0 },
            shadow_len: v(rng, 0.4, 1.6),
            sky_top: top,
            sky_horizon: hor,
            clouds,
            lights_on: matches!(tod, TimeOfDay::Night | TimeOfDay::Dusk),
        }
    }

    /// Light reaching a surface: ambient, plus sun unless `shadowed`.
    pub fn light(&self, facing: Facing, shadowed: bool) -> Rgb {
        let k = if shadowed {
            0.0
        } else {
            match facing {
                Facing::Up => 1.0,
                Facing::Front => 0.55,
                Facing::PlusU => 0.45 + 0.45 * self.sun_side,
                Facing::MinusU => 0.45 - 0.45 * self.sun_side,
            }
        };
        [self.ambient[0] + k * self.sun[0], self.ambient[1] + k * self.sun[1], self.ambient[2] + k * self.sun[2]]
    }
}

/// `a * light`, channel by channel.
#[inline]
pub fn lit(a: Rgb, light: Rgb) -> Rgb {
    [a[0] * light[0], a[1] * light[1], a[2] * light[2]]
}

#[inline]
pub fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

#[inline]
pub fn scale(a: Rgb, k: f32) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// A palette entry with its brightness and hue jittered.
pub fn pick(rng: &mut ChaCha8Rng, palette: &[Rgb], jitter: f32) -> Rgb {
    let c = palette[rng.random_range(0..palette.len() as u32) as usize];
    let k = 1.0 + rng.random_range(-jitter..=jitter);
    let mut out = [0.0; 3];
    for (o, v) in out.iter_mut().zip(c) {
        *o = (v * k + rng.random_range(-jitter..=jitter) * 0.25).clamp(0.0, 1.0);
    }
    out
}

pub const ASPHALT: &[Rgb] = &[[0.33, 0.33, 0.35], [0.4, 0.39, 0.4], [0.27, 0.27, 0.29], [0.45, 0.43, 0.42]];
pub const PAVING: &[Rgb] =
    &[[0.6, 0.58, 0.55], [0.5, 0.5, 0.5], [0.66, 0.6, 0.55], [0.55, 0.45, 0.42], [0.7, 0.68, 0.64]];
pub const FACADE: &[Rgb] = &[
    [0.75, 0.7, 0.6],
    [0.55, 0.55, 0.55],
    [0.62, 0.35, 0.28],
    [0.85, 0.83, 0.78],
    [0.8, 0.68, 0.45],
    [0.45, 0.38, 0.32],
    [0.68, 0.66, 0.62],
    [0.6, 0.62, 0.58],
    [0.72, 0.55, 0.5],
];
pub const CONCRETE: &[Rgb] = &[[0.6, 0.6, 0.58], [0.5, 0.49, 0.47], [0.66, 0.62, 0.55], [0.55, 0.4, 0.33]];
pub const METAL: &[Rgb] = &[[0.35, 0.36, 0.37], [0.55, 0.56, 0.57], [0.2, 0.3, 0.22], [0.15, 0.15, 0.16]];
pub const FOLIAGE: &[Rgb] =
    &[[0.22, 0.35, 0.12], [0.3, 0.42, 0.16], [0.18, 0.28, 0.14], [0.4, 0.45, 0.2], [0.5, 0.42, 0.18]];
pub const GRASS: &[Rgb] =
    &[[0.35, 0.5, 0.2], [0.45, 0.5, 0.28], [0.55, 0.5, 0.33], [0.45, 0.38, 0.28], [0.3, 0.42, 0.2]];
pub const CAR: &[Rgb] = &[
    [0.85, 0.85, 0.85],
    [0.08, 0.08, 0.09],
    [0.45, 0.46, 0.48],
    [0.65, 0.66, 0.68],
    [0.6, 0.08, 0.08],
    [0.1, 0.2, 0.5],
    [0.2, 0.35, 0.25],
    [0.55, 0.5, 0.4],
    [0.3, 0.3, 0.32],
];
pub const CLOTHES: &[Rgb] = &[
    [0.1, 0.1, 0.12],
    [0.2, 0.22, 0.35],
    [0.5, 0.5, 0.5],
    [0.7, 0.1, 0.12],
    [0.25, 0.35, 0.2],
    [0.75, 0.7, 0.6],
    [0.85, 0.85, 0.85],
    [0.3, 0.2, 0.15],
    [0.6, 0.5, 0.2],
];
pub const SKIN: &[Rgb] = &[[0.9, 0.72, 0.6], [0.75, 0.55, 0.42], [0.5, 0.35, 0.25], [0.35, 0.24, 0.18]];
