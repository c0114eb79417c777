//! The raster both the image and its label are drawn on. Every primitive writes colour, class
//! and depth of a pixel together (only where nothing nearer is already drawn), with no
//! anti-aliasing, so the label is exactly what was drawn.

/// Linear RGB in [0, 1] (values above 1 are clipped at the end).
pub type Rgb = [f32; 3];

/// Colour and depth of a pixel a shader decided to paint.
pub type Px = Option<(Rgb, f32)>;

/// Image, label and depth buffers of one scene, row-major.
pub struct Canvas {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<Rgb>,
    pub label: Vec<u8>,
    pub depth: Vec<f32>,
}

impl Canvas {
    pub fn new(w: usize, h: usize) -> Canvas {
        Canvas { w, h, rgb: vec![[0.0; 3]; w * h], label: vec![255; w * h], depth: vec![1e9; w * h] }
    }

    /// Paints one pixel (in bounds by construction).
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, c: Rgb, class: u8, depth: f32) {
        let i = y * self.w + x;
        if depth <= self.depth[i] {
            self.rgb[i] = c;
            self.label[i] = class;
            self.depth[i] = depth;
        }
    }

    /// Calls `shade` for every pixel (x, y) in the clipped box and paints where it answers Some.
    pub fn fill_box(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, class: u8, mut shade: impl FnMut(i32, i32) -> Px) {
        let (xa, xb) = span(x0, x1, self.w);
        let (ya, yb) = span(y0, y1, self.h);
        for y in ya..yb {
            for x in xa..xb {
                if let Some((c, d)) = shade(x as i32, y as i32) {
                    self.set(x, y, c, class, d);
                }
            }
        }
    }

    /// Fills a polygon (even-odd rule, pixel centres), calling `shade` for each covered pixel.
    pub fn fill_poly(&mut self, pts: &[[f32; 2]], class: u8, mut shade: impl FnMut(i32, i32) -> Px) {
        let w = self.w;
        let (rgb, label, depth) = (&mut self.rgb, &mut self.label, &mut self.depth);
        for_poly(pts, w, self.h, |x, y| {
            if let Some((c, d)) = shade(x as i32, y as i32) {
                let i = y * w + x;
                if d <= depth[i] {
                    rgb[i] = c;
                    label[i] = class;
                    depth[i] = d;
                }
            }
        });
    }

    /// Fills an axis-aligned ellipse.
    pub fn fill_ellipse(
        &mut self,
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        class: u8,
        mut shade: impl FnMut(i32, i32) -> Px,
    ) {
        if rx <= 0.0 || ry <= 0.0 {
            return;
        }
        self.fill_box(cx - rx, cy - ry, cx + rx, cy + ry, class, |x, y| {
            let dx = (x as f32 + 0.5 - cx) / rx;
            let dy = (y as f32 + 0.5 - cy) / ry;
            if dx * dx + dy * dy <= 1.0 { shade(x, y) } else { None }
        });
    }

    /// Fills a thick segment with round ends (limbs, frames, poles seen up close).
    pub fn fill_capsule(&mut self, a: [f32; 2], b: [f32; 2], r: f32, class: u8, mut shade: impl FnMut(i32, i32) -> Px) {
        let r = r.max(0.5);
        let (x0, x1) = (a[0].min(b[0]) - r, a[0].max(b[0]) + r);
        let (y0, y1) = (a[1].min(b[1]) - r, a[1].max(b[1]) + r);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = (dx * dx + dy * dy).max(1e-6);
        self.fill_box(x0, y0, x1, y1, class, |x, y| {
            let (px, py) = (x as f32 + 0.5 - a[0], y as f32 + 0.5 - a[1]);
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            if ex * ex + ey * ey <= r * r { shade(x, y) } else { None }
        });
    }

    /// Changes the image (not the label) inside a polygon: shadows, stains, puddles.
    pub fn tint_poly(&mut self, pts: &[[f32; 2]], mut tint: impl FnMut(i32, i32, Rgb, u8) -> Rgb) {
        let w = self.w;
        let (rgb, label) = (&mut self.rgb, &self.label);
        for_poly(pts, w, self.h, |x, y| {
            let i = y * w + x;
            rgb[i] = tint(x as i32, y as i32, rgb[i], label[i]);
        });
    }
}

/// Pixel indices whose centres lie in [a, b), clipped to [0, n).
fn span(a: f32, b: f32, n: usize) -> (usize, usize) {
    let lo = (a - 0.5).ceil().max(0.0);
    let hi = (b - 0.5).ceil().max(0.0);
    ((lo as usize).min(n), (hi as usize).min(n))
}

/// Visits the pixels whose centres a polygon covers (even-odd rule), row by row.
fn for_poly(pts: &[[f32; 2]], w: usize, h: usize, mut f: impl FnMut(usize, usize)) {
    if pts.len() < 3 {
        return;
    }
    let ymin = pts.iter().map(|p| p[1]).fold(f32::INFINITY, f32::min);
    let ymax = pts.iter().map(|p| p[1]).fold(f32::NEG_INFINITY, f32::max);
    let (ya, yb) = span(ymin, ymax, h);
    let mut xs: Vec<f32> = Vec::with_capacity(8);
    for y in ya..yb {
        let cy = y as f32 + 0.5;
        xs.clear();
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            if (a[1] <= cy) != (b[1] <= cy) {
                xs.push(a[0] + (cy - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
            }
        }
        xs.sort_by(f32::total_cmp);
        for pair in xs.chunks_exact(2) {
            let (xa, xb) = span(pair[0], pair[1], w);
            for x in xa..xb {
                f(x, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_covers_pixel_centres_exactly() {
        let mut c = Canvas::new(10, 10);
        c.fill_poly(&[[2.0, 2.0], [6.0, 2.0], [6.0, 5.0], [2.0, 5.0]], 7, |_, _| Some(([1.0; 3], 3.0)));
        let n = c.label.iter().filter(|&&l| l == 7).count();
        assert_eq!(n, 4 * 3);
        assert_eq!(c.label[2 * 10 + 2], 7);
        assert_eq!(c.label[5 * 10 + 2], 255);
        c.tint_poly(&[[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]], |_, _, p, _| [p[0] * 0.5, p[1], p[2]]);
        assert_eq!(c.label.iter().filter(|&&l| l == 7).count(), 12, "tint keeps labels");
    }
}
