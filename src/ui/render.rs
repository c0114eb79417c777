//! Pure pixel work: class maps, heatmaps and difference maps to RGBA images. Opacity is not
//! baked in (the view applies it as a tint), so these run only when the content changes.
//! Also the CPU composite used for export, so the exported figure matches the screen.

use crate::eval::label::resample;
use eframe::egui::{Color32, ColorImage};

/// Colour of a wrong pixel in difference maps.
pub const WRONG: Color32 = Color32::from_rgb(240, 40, 60);
/// Colour of a correct pixel in the correct/wrong map.
pub const RIGHT: Color32 = Color32::from_rgb(40, 200, 90);

/// Class ids to colours; hidden classes and ids outside the palette (255 = ignore) are clear.
pub fn class_image(classes: &[u8], size: (usize, usize), palette: &[Color32], hidden: &[usize]) -> ColorImage {
    let mut lut = [Color32::TRANSPARENT; 256];
    for (c, col) in palette.iter().enumerate().take(256) {
        if !hidden.contains(&c) {
            lut[c] = *col;
        }
    }
    let pixels = classes.iter().map(|&c| lut[c as usize]).collect();
    ColorImage::new([size.0, size.1], pixels)
}

/// A smaller copy of a class map for thumbnails (nearest, so no colour is invented).
pub fn class_thumbnail(classes: &[u8], size: (usize, usize), max_w: usize, palette: &[Color32]) -> ColorImage {
    let w = size.0.clamp(1, max_w);
    let h = (size.1 * w / size.0.max(1)).max(1);
    let mut small = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            small.push(classes[resample(x, y, (w, h), size)]);
        }
    }
    let mut img = class_image(&small, (w, h), palette, &[]);
    for p in &mut img.pixels {
        if *p == Color32::TRANSPARENT {
            *p = Color32::from_gray(30);
        }
    }
    img
}

/// The heatmap colour of `t` in [0, 1] (a viridis-like ramp: dark blue, teal, yellow).
pub fn heat_color(t: f32) -> Color32 {
    const STOPS: [[f32; 3]; 5] =
        [[68.0, 1.0, 84.0], [59.0, 82.0, 139.0], [33.0, 145.0, 140.0], [94.0, 201.0, 98.0], [253.0, 231.0, 37.0]];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let c = |j: usize| STOPS[i][j] + (STOPS[i + 1][j] - STOPS[i][j]) * f;
    Color32::from_rgb(c(0) as u8, c(1) as u8, c(2) as u8)
}

/// Values in [0, 1] to heatmap colours (fixed scale: no per-image normalisation).
pub fn heatmap(values: &[f32], size: (usize, usize)) -> ColorImage {
    let mut lut = [Color32::BLACK; 256];
    for (i, c) in lut.iter_mut().enumerate() {
        *c = heat_color(i as f32 / 255.0);
    }
    let pixels = values.iter().map(|&v| lut[(v.clamp(0.0, 1.0) * 255.0).round() as usize]).collect();
    ColorImage::new([size.0, size.1], pixels)
}

/// Where `a` and `b` differ: `WRONG` there, clear elsewhere. Sized as `a`.
pub fn diff_image(a: &[u8], sa: (usize, usize), b: &[u8], sb: (usize, usize)) -> ColorImage {
    let mut pixels = Vec::with_capacity(a.len());
    for y in 0..sa.1 {
        for x in 0..sa.0 {
            let same = a[y * sa.0 + x] == b[resample(x, y, sa, sb)];
            pixels.push(if same { Color32::TRANSPARENT } else { WRONG });
        }
    }
    ColorImage::new([sa.0, sa.1], pixels)
}

/// Prediction against label: `RIGHT`, `WRONG`, clear where the label says ignore (255).
pub fn correct_image(pred: &[u8], sp: (usize, usize), label: &[u8], sl: (usize, usize)) -> ColorImage {
    let mut pixels = Vec::with_capacity(pred.len());
    for y in 0..sp.1 {
        for x in 0..sp.0 {
            let l = label[resample(x, y, sp, sl)];
            pixels.push(match l {
                255 => Color32::TRANSPARENT,
                l if l == pred[y * sp.0 + x] => RIGHT,
                _ => WRONG,
            });
        }
    }
    ColorImage::new([sp.0, sp.1], pixels)
}

/// The photo with `overlay` blended at `opacity`, at the photo's resolution (for export).
pub fn composite(photo: &image::RgbImage, overlay: Option<&ColorImage>, opacity: f32) -> image::RgbImage {
    let mut out = photo.clone();
    let Some(ov) = overlay else { return out };
    let (w, h) = (photo.width() as usize, photo.height() as usize);
    let so = (ov.size[0], ov.size[1]);
    for (i, px) in out.pixels_mut().enumerate() {
        let (x, y) = (i % w, i / w);
        let c = ov.pixels[resample(x, y, (w, h), so)];
        let a = opacity * c.a() as f32 / 255.0;
        if a > 0.0 {
            let [r, g, b, _] = c.to_srgba_unmultiplied();
            let mix = |p: u8, q: u8| (p as f32 * (1.0 - a) + q as f32 * a).round() as u8;
            px.0 = [mix(px.0[0], r), mix(px.0[1], g), mix(px.0[2], b)];
        }
    }
    out
}
