//! What the camera and the weather do to a finished scene: fog by depth, rain streaks, exposure
//! and contrast, motion blur or defocus, vignetting, sensor noise and JPEG artefacts. These touch
//! the image only; the label stays exact.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::canvas::{Canvas, Rgb};
use super::look::{Look, TimeOfDay, mix};
use super::noise::white;

/// Image degradations of one scene (recorded in the manifest).
#[derive(Debug, Clone, Serialize)]
pub struct Effects {
    /// Fog density in [0, 1]: the share of fog colour at great distance.
    pub fog: f32,
    /// Distance (m) at which fog reaches half its density.
    pub fog_distance: f32,
    /// Rain streak density in [0, 1].
    pub rain: f32,
    /// Contrast factor (1 = unchanged).
    pub contrast: f32,
    pub exposure: f32,
    /// Horizontal motion blur radius in pixels.
    pub motion_blur: u32,
    /// Box-blur passes for defocus.
    pub defocus: u32,
    /// Standard deviation of sensor noise, in [0, 1] units.
    pub noise: f32,
    pub vignette: f32,
    /// JPEG quality of a re-encoding, if any.
    pub jpeg_quality: Option<u8>,
}

impl Effects {
    pub fn random(rng: &mut ChaCha8Rng, d: f32, look: &Look) -> Effects {
        let mut p = |x: f32| rng.random::<f32>() < x;
        let fog_on = p(0.08 + 0.35 * d) || look.tod == TimeOfDay::Overcast && p(0.3);
        let rain_on = p(0.04 + 0.3 * d);
        let blur_on = p(0.05 + 0.3 * d);
        let defocus_on = p(0.03 + 0.15 * d);
        let jpeg_on = p(0.25 + 0.5 * d);
        let night = look.tod == TimeOfDay::Night;
        Effects {
            fog: if fog_on { rng.random_range(0.3..0.5 + 0.45 * d) } else { 0.0 },
            fog_distance: rng.random_range(25.0..140.0 - 80.0 * d),
            rain: if rain_on { rng.random_range(0.2..0.4 + 0.6 * d) } else { 0.0 },
            contrast: 1.0 - rng.random_range(0.0..0.05 + 0.45 * d),
            exposure: rng.random_range(0.9 - 0.2 * d..1.1),
            motion_blur: if blur_on { rng.random_range(1..=1 + (3.0 * d) as u32) } else { 0 },
            defocus: u32::from(defocus_on),
            noise: rng.random_range(0.004..0.012 + 0.04 * d) * if night { 1.8 } else { 1.0 },
            vignette: rng.random_range(0.0..0.35),
            jpeg_quality: jpeg_on.then(|| rng.random_range((85.0 - 55.0 * d) as u8..=92)),
        }
    }

    /// A rough, realised difficulty in [0, 1] from what was applied (the knob sets the odds).
    pub fn hardness(&self, look: &Look) -> f32 {
        let dark = match look.tod {
            TimeOfDay::Night => 1.0,
            TimeOfDay::Dusk => 0.5,
            _ => 0.0,
        };
        let q = self.jpeg_quality.map_or(0.0, |q| (90.0 - f32::from(q)).max(0.0) / 60.0);
        let parts = [
            self.fog * 1.2,
            self.rain,
            dark,
            (self.noise / 0.05).min(1.0),
            (self.motion_blur as f32 / 4.0).min(1.0) + 0.5 * self.defocus as f32,
            (1.0 - self.contrast) * 2.0,
            q,
        ];
        (parts.iter().sum::<f32>() / 4.0).min(1.0)
    }
}

/// Applies the effects to the canvas image in place.
pub fn apply(c: &mut Canvas, e: &Effects, look: &Look, rng: &mut ChaCha8Rng) {
    let (w, h) = (c.w, c.h);
    if e.fog > 0.0 {
        let fog: Rgb = mix(look.sky_horizon, [0.75, 0.76, 0.78], 0.5);
        for (p, &d) in c.rgb.iter_mut().zip(&c.depth) {
            let t = e.fog * d / (d + e.fog_distance);
            *p = mix(*p, fog, t);
        }
    }
    if e.rain > 0.0 {
        let n = (e.rain * (w * h) as f32 / 120.0) as u32;
        let slope: f32 = rng.random_range(-0.25..0.25);
        for _ in 0..n {
            let x0: f32 = rng.random_range(0.0..w as f32);
            let y0: f32 = rng.random_range(0.0..h as f32);
            let len = rng.random_range(4.0..8.0 + h as f32 / 25.0);
            let k = rng.random_range(0.05..0.16);
            let mut t = 0.0;
            while t < len {
                let (x, y) = ((x0 + slope * t) as isize, (y0 + t) as isize);
                if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                    let p = &mut c.rgb[y as usize * w + x as usize];
                    *p = mix(*p, [0.8, 0.82, 0.85], k);
                }
                t += 1.0;
            }
        }
    }
    for p in c.rgb.iter_mut() {
        for v in p.iter_mut() {
            *v = ((*v - 0.45) * e.contrast + 0.45) * e.exposure;
        }
    }
    if e.motion_blur > 0 {
        box_blur_rows(&mut c.rgb, w, h, e.motion_blur as usize);
    }
    for _ in 0..e.defocus {
        box_blur_rows(&mut c.rgb, w, h, 1);
        transpose_blur(&mut c.rgb, w, h);
    }
    let seed = rng.random::<u32>();
    let (cx, cy) = (w as f32 * 0.5, h as f32 * 0.5);
    let norm = 1.0 / (cx * cx + cy * cy);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let vig = 1.0 - e.vignette * (dx * dx + dy * dy) * norm;
            let (xi, yi) = (x as i32, y as i32);
            let luma = (white(xi, yi, seed) + white(xi, yi, seed ^ 0x9e37)) * 0.87 * e.noise;
            let p = &mut c.rgb[y * w + x];
            for (ch, v) in p.iter_mut().enumerate() {
                let chroma = white(xi, yi, seed.wrapping_add(ch as u32 * 0x85eb)) * 0.4 * e.noise;
                *v = *v * vig + luma + chroma;
            }
        }
    }
    if let Some(q) = e.jpeg_quality {
        for p in c.rgb.iter_mut() {
            *p = [p[0].clamp(0.0, 1.0), p[1].clamp(0.0, 1.0), p[2].clamp(0.0, 1.0)];
        }
        super::jpeg::artefacts(&mut c.rgb, w, h, q);
    }
}

/// Horizontal box blur of radius r (edge pixels repeat).
fn box_blur_rows(rgb: &mut [Rgb], w: usize, h: usize, r: usize) {
    let mut row = vec![[0.0f32; 3]; w];
    let n = (2 * r + 1) as f32;
    for y in 0..h {
        row.copy_from_slice(&rgb[y * w..(y + 1) * w]);
        for x in 0..w {
            let mut s = [0.0f32; 3];
            for k in 0..=2 * r {
                let xx = (x + k).saturating_sub(r).min(w - 1);
                for c in 0..3 {
                    s[c] += row[xx][c];
                }
            }
            rgb[y * w + x] = [s[0] / n, s[1] / n, s[2] / n];
        }
    }
}

/// Vertical 3-tap blur, completing a defocus pass.
fn transpose_blur(rgb: &mut [Rgb], w: usize, h: usize) {
    let src = rgb.to_vec();
    for y in 0..h {
        let (a, b) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            for c in 0..3 {
                rgb[y * w + x][c] = (src[a * w + x][c] + src[y * w + x][c] + src[b * w + x][c]) / 3.0;
            }
        }
    }
}

/// Quantises to 8-bit RGB.
pub fn to_image(c: &Canvas) -> image::RgbImage {
    let mut raw = Vec::with_capacity(c.w * c.h * 3);
    for p in &c.rgb {
        for v in p {
            raw.push((v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8);
        }
    }
    image::RgbImage::from_raw(c.w as u32, c.h as u32, raw).expect("buffer size matches")
}
