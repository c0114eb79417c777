//! People and two-wheelers, drawn as upright figures in metres at their depth. A person riding a
//! cycle is painted with the rider class; the cycle, its wheels seen through, keeps its own.

use super::canvas::{Canvas, Rgb};
use super::classes::*;
use super::layout::{PersonLook, Pose};
use super::look::{Facing, Look, lit, scale};
use super::noise::white;
use super::things::Board;

/// Local-metre drawing helpers on a board, with one light and texture seed.
struct Pen<'a, 'c> {
    c: &'c mut Canvas,
    b: Board<'a>,
    light: Rgb,
    seed: u32,
    /// Mirror x (figures facing left).
    dir: f32,
}

impl Pen<'_, '_> {
    fn px(&self, x: f32, y: f32) -> [f32; 2] {
        self.b.p(x * self.dir, y)
    }
    /// The colour of a pixel of a part: lit, with a little cloth grain.
    fn tex(&self, col: Rgb) -> impl Fn(i32, i32) -> Option<(Rgb, f32)> + use<> {
        let (light, seed, z) = (self.light, self.seed, self.b.z);
        move |x, y| Some((lit(scale(col, 1.0 + 0.08 * white(x, y, seed)), light), z))
    }
    fn cap(&mut self, a: (f32, f32), e: (f32, f32), r: f32, class: u8, col: Rgb) {
        let (pa, pe) = (self.px(a.0, a.1), self.px(e.0, e.1));
        let rr = r * self.b.s();
        let t = self.tex(col);
        self.c.fill_capsule(pa, pe, rr, class, t);
    }
    fn ell(&mut self, at: (f32, f32), rx: f32, ry: f32, class: u8, col: Rgb) {
        let q = self.px(at.0, at.1);
        let s = self.b.s();
        let t = self.tex(col);
        self.c.fill_ellipse(q[0], q[1], (rx * s).max(0.5), (ry * s).max(0.5), class, t);
    }
    fn poly(&mut self, pts: &[(f32, f32)], class: u8, col: Rgb) {
        let p: Vec<[f32; 2]> = pts.iter().map(|&(x, y)| self.px(x, y)).collect();
        let t = self.tex(col);
        self.c.fill_poly(&p, class, t);
    }
    /// A wheel seen from the side: a tyre ring with the background showing through.
    fn wheel(&mut self, at: (f32, f32), r: f32, tyre: f32, class: u8, col: Rgb) {
        let q = self.px(at.0, at.1);
        let s = self.b.s();
        let (ro, ri) = ((r * s).max(1.0), ((r - tyre) * s).min(r * s - 1.0));
        let (light, seed, z) = (self.light, self.seed, self.b.z);
        self.c.fill_ellipse(q[0], q[1], ro, ro, class, |x, y| {
            let (dx, dy) = (x as f32 + 0.5 - q[0], y as f32 + 0.5 - q[1]);
            let d2 = dx * dx + dy * dy;
            let hub = d2 < (0.05 * s) * (0.05 * s) + 0.25;
            let spoke = dx.abs() < 0.5 || dy.abs() < 0.5;
            if d2 < ri * ri && !hub && !(spoke && ri > 6.0) {
                return None;
            }
            Some((lit(scale(col, 1.0 + 0.1 * white(x, y, seed)), light), z))
        });
    }
}

/// A pedestrian (or, with `class` = RIDER, the same figure used elsewhere).
pub fn person(c: &mut Canvas, b: Board<'_>, look: &Look, p: &PersonLook, pose: Pose, class: u8, seed: u32) {
    let light = look.light(Facing::Front, false);
    let dir = if let Pose::Side(d) = pose { d } else { 1.0 };
    let mut pen = Pen { c, b, light, seed, dir };
    let h = p.height;
    let k = h / 1.75;
    let shoe = [0.06, 0.05, 0.05];
    match pose {
        Pose::Side(_) => {
            let st = 0.22 * k * p.phase;
            pen.cap((0.0, 0.5 * h), (st, 0.04 * h), 0.065 * k, class, p.legs);
            pen.cap((0.0, 0.5 * h), (-st, 0.04 * h), 0.065 * k, class, scale(p.legs, 0.8));
            pen.ell((st + 0.04, 0.02 * h), 0.08 * k, 0.03 * h, class, shoe);
            pen.ell((-st + 0.04, 0.02 * h), 0.08 * k, 0.03 * h, class, shoe);
            pen.poly(
                &[(-0.11 * k, 0.81 * h), (0.12 * k, 0.81 * h), (0.1 * k, 0.47 * h), (-0.1 * k, 0.47 * h)],
                class,
                p.top,
            );
            pen.cap((0.0, 0.79 * h), (-st * 0.6, 0.47 * h), 0.05 * k, class, scale(p.top, 0.85));
            if p.bag {
                pen.poly(
                    &[(-0.2 * k, 0.78 * h), (-0.09 * k, 0.78 * h), (-0.09 * k, 0.55 * h), (-0.2 * k, 0.55 * h)],
                    class,
                    scale(p.legs, 0.6),
                );
            }
            pen.cap((0.0, 0.8 * h), (0.0, 0.87 * h), 0.04 * k, class, p.skin);
            pen.ell((0.015 * k, 0.925 * h), 0.085 * k, 0.1 * k, class, p.skin);
            pen.ell((-0.02 * k, 0.95 * h), 0.075 * k, 0.075 * k, class, p.hair);
        }
        Pose::Front => {
            let sw = 0.03 * k * p.phase;
            pen.cap((-0.075 * k, 0.5 * h), (-0.085 * k + sw, 0.04 * h), 0.065 * k, class, p.legs);
            pen.cap((0.075 * k, 0.5 * h), (0.085 * k - sw, 0.04 * h), 0.065 * k, class, scale(p.legs, 0.85));
            pen.ell((-0.085 * k + sw, 0.02 * h), 0.06 * k, 0.025 * h, class, shoe);
            pen.ell((0.085 * k - sw, 0.02 * h), 0.06 * k, 0.025 * h, class, shoe);
            pen.poly(
                &[(-0.2 * k, 0.81 * h), (0.2 * k, 0.81 * h), (0.17 * k, 0.47 * h), (-0.17 * k, 0.47 * h)],
                class,
                p.top,
            );
            pen.cap((-0.2 * k, 0.79 * h), (-0.24 * k, 0.48 * h), 0.05 * k, class, scale(p.top, 0.85));
            pen.cap((0.2 * k, 0.79 * h), (0.24 * k, 0.48 * h), 0.05 * k, class, scale(p.top, 0.85));
            pen.ell((-0.245 * k, 0.46 * h), 0.04 * k, 0.04 * k, class, p.skin);
            pen.ell((0.245 * k, 0.46 * h), 0.04 * k, 0.04 * k, class, p.skin);
            if p.bag {
                pen.poly(
                    &[(0.25 * k, 0.62 * h), (0.38 * k, 0.62 * h), (0.38 * k, 0.44 * h), (0.25 * k, 0.44 * h)],
                    class,
                    scale(p.legs, 0.6),
                );
            }
            pen.cap((0.0, 0.8 * h), (0.0, 0.87 * h), 0.045 * k, class, p.skin);
            pen.ell((0.0, 0.925 * h), 0.085 * k, 0.105 * k, class, p.skin);
            // Hair on top; from behind (phase < 0) it covers the whole head.
            let back = p.phase < 0.0;
            pen.ell(
                (0.0, if back { 0.93 * h } else { 0.955 * h }),
                0.09 * k,
                if back { 0.1 * k } else { 0.07 * k },
                class,
                p.hair,
            );
        }
    }
}

/// A bicycle or motorcycle, parked or ridden, seen from the side (`side` = facing) or from behind.
#[allow(clippy::too_many_arguments)]
pub fn cycle(
    c: &mut Canvas,
    b: Board<'_>,
    look: &Look,
    motor: bool,
    rider: Option<&PersonLook>,
    side: Option<f32>,
    color: Rgb,
    seed: u32,
) {
    let light = look.light(Facing::Front, false);
    let class = if motor { MOTORCYCLE } else { BICYCLE };
    let tyre = [0.07, 0.07, 0.07];
    let grey = [0.45, 0.45, 0.47];
    let Some(dir) = side else {
        return cycle_from_behind(c, b, look, motor, rider, color, seed);
    };
    let mut pen = Pen { c, b, light, seed, dir };
    let k = rider.map_or(1.0, |r| r.height / 1.75);
    if motor {
        pen.wheel((-0.7, 0.32), 0.32, 0.1, class, tyre);
        pen.wheel((0.7, 0.32), 0.32, 0.1, class, tyre);
        pen.poly(&[(-0.15, 0.25), (0.3, 0.25), (0.3, 0.55), (-0.15, 0.55)], class, grey);
        pen.cap((-0.1, 0.3), (-0.75, 0.4), 0.05, class, [0.6, 0.6, 0.62]);
        pen.poly(&[(-0.75, 0.7), (0.2, 0.95), (0.55, 0.95), (0.6, 0.7), (0.2, 0.5), (-0.4, 0.5)], class, color);
        pen.poly(&[(-0.6, 0.8), (0.1, 0.98), (0.1, 0.88), (-0.6, 0.72)], class, [0.08, 0.08, 0.08]);
        pen.cap((0.7, 0.32), (0.5, 1.05), 0.04, class, grey);
        pen.ell((0.62, 0.9), 0.08, 0.08, class, if look.lights_on { [1.0, 1.0, 0.9] } else { [0.8, 0.8, 0.75] });
    } else {
        for hub in [-0.52, 0.52] {
            pen.wheel((hub, 0.34), 0.34, 0.045, class, tyre);
        }
        let (bb, seat, head, bar) = ((-0.02, 0.3), (-0.22, 0.88), (0.38, 0.85), (0.42, 1.0));
        let r = 0.022;
        for (a, e) in [
            (bb, seat),
            (seat, (-0.52, 0.34)),
            (bb, (-0.52, 0.34)),
            (bb, head),
            (seat, head),
            (head, (0.52, 0.34)),
            (head, bar),
        ] {
            pen.cap(a, e, r, class, color);
        }
        pen.ell((-0.22, 0.92), 0.1, 0.03, class, [0.1, 0.1, 0.1]);
    }
    if let Some(p) = rider {
        let (hip, knee, foot, shoulder, head) = if motor {
            ((-0.2, 0.98), (0.2, 0.8), (0.1, 0.4), (0.05 * k, 0.98 + 0.5 * k), (0.12 * k, 0.98 + 0.68 * k))
        } else {
            (
                (-0.2, 0.95),
                (0.08, 0.72 + 0.08 * p.phase),
                (0.0 + 0.12 * p.phase, 0.32),
                (0.12 * k, 0.95 + 0.5 * k),
                (0.2 * k, 0.95 + 0.67 * k),
            )
        };
        let bar = if motor { (0.45, 1.02) } else { (0.42, 1.0) };
        pen.cap(hip, knee, 0.07 * k, RIDER, p.legs);
        pen.cap(knee, foot, 0.06 * k, RIDER, p.legs);
        pen.cap(hip, shoulder, 0.13 * k, RIDER, p.top);
        pen.cap(shoulder, bar, 0.045 * k, RIDER, scale(p.top, 0.85));
        let helmet = if motor { scale(color, 0.7) } else { p.hair };
        pen.ell(head, 0.1 * k, 0.11 * k, RIDER, p.skin);
        pen.ell((head.0 - 0.02, head.1 + 0.03), 0.105 * k, if motor { 0.11 * k } else { 0.07 * k }, RIDER, helmet);
    }
}

fn cycle_from_behind(
    c: &mut Canvas,
    b: Board<'_>,
    look: &Look,
    motor: bool,
    rider: Option<&PersonLook>,
    color: Rgb,
    seed: u32,
) {
    let light = look.light(Facing::Front, false);
    let class = if motor { MOTORCYCLE } else { BICYCLE };
    let mut pen = Pen { c, b, light, seed, dir: 1.0 };
    let tyre = [0.07, 0.07, 0.07];
    let bar_h = if motor { 1.05 } else { 1.0 };
    if motor {
        pen.ell((0.0, 0.32), 0.08, 0.32, class, tyre);
        pen.poly(&[(-0.25, 0.45), (0.25, 0.45), (0.22, 0.88), (-0.22, 0.88)], class, color);
        pen.ell((0.0, 0.8), 0.07, 0.04, class, if look.lights_on { [1.0, 0.15, 0.1] } else { [0.6, 0.05, 0.05] });
        pen.cap((-0.4, bar_h), (0.4, bar_h), 0.03, class, [0.2, 0.2, 0.2]);
    } else {
        pen.ell((0.0, 0.34), 0.03, 0.34, class, tyre);
        pen.cap((0.0, 0.34), (0.0, 0.9), 0.025, class, color);
        pen.cap((-0.28, bar_h), (0.28, bar_h), 0.02, class, color);
    }
    if let Some(p) = rider {
        let k = p.height / 1.75;
        let hip = 0.95;
        pen.cap((-0.1, hip), (-0.13, 0.35), 0.065 * k, RIDER, p.legs);
        pen.cap((0.1, hip), (0.13, 0.45), 0.065 * k, RIDER, p.legs);
        let top = hip + 0.52 * k;
        pen.poly(&[(-0.2 * k, top), (0.2 * k, top), (0.16 * k, hip - 0.05), (-0.16 * k, hip - 0.05)], RIDER, p.top);
        pen.cap((-0.2 * k, top - 0.03), (-0.28, bar_h), 0.05 * k, RIDER, scale(p.top, 0.85));
        pen.cap((0.2 * k, top - 0.03), (0.28, bar_h), 0.05 * k, RIDER, scale(p.top, 0.85));
        let helmet = if motor { scale(color, 0.7) } else { p.hair };
        pen.ell((0.0, top + 0.14 * k), 0.1 * k, 0.12 * k, RIDER, helmet);
    }
}
