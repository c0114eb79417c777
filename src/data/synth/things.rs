//! Things standing in the street: trees, lamps, signs, traffic lights and vehicles. Vehicles are
//! boxes in street coordinates, so they foreshorten like the road; small things are upright
//! billboards at their depth. The caller draws them far to near, which gives occlusion.

use super::camera::Camera;
use super::canvas::{Canvas, Rgb};
use super::classes::*;
use super::layout::{Layout, Placed, Thing, VehicleKind};
use super::look::{Facing, Look, lit, mix, scale};
use super::noise::{unit, value};
use super::people;

/// An upright plane at depth z facing the camera, with local metres (x right, y up) from (u, 0).
#[derive(Clone, Copy)]
pub struct Board<'a> {
    pub cam: &'a Camera,
    pub u: f32,
    pub z: f32,
}

impl Board<'_> {
    #[inline]
    pub fn p(&self, x: f32, y: f32) -> [f32; 2] {
        self.cam.project(self.u + x, self.z, y)
    }
    /// Pixels per metre.
    pub fn s(&self) -> f32 {
        self.cam.scale(self.z)
    }
    /// Local (x, y) metres of a pixel.
    pub fn local(&self, x: i32, y: i32) -> (f32, f32) {
        let (u, h) = self.cam.on_front(self.z, x, y);
        (u - self.u, h)
    }
}

/// Draws one placed thing.
pub fn draw(c: &mut Canvas, lay: &Layout, p: &Placed) {
    let b = Board { cam: &lay.cam, u: p.u, z: p.z };
    let look = &lay.look;
    let front = look.light(Facing::Front, false);
    match &p.thing {
        Thing::Tree { trunk, crown, color } => tree(c, b, look, *trunk, *crown, *color, p.seed),
        Thing::Lamp { height, arm } => {
            let metal = lit([0.35, 0.36, 0.38], front);
            pole(c, b, *height, 0.07, metal);
            if *arm != 0.0 {
                c.fill_capsule(b.p(0.0, *height), b.p(*arm, *height + 0.25), (0.04 * b.s()).max(0.5), POLE, |_, _| {
                    Some((metal, b.z))
                });
            }
            let head = if look.lights_on { [1.0, 0.95, 0.8] } else { lit([0.7, 0.7, 0.68], front) };
            let (hx, hy) = (*arm, *height + if *arm != 0.0 { 0.2 } else { 0.0 });
            let q = b.p(hx, hy);
            c.fill_ellipse(q[0], q[1], (0.3 * b.s()).max(0.7), (0.12 * b.s()).max(0.5), POLE, |_, _| Some((head, b.z)));
        }
        Thing::Sign { height, shape, size } => sign(c, b, look, *height, *shape, *size),
        Thing::Light { height, arm, state } => traffic_light(c, b, look, *height, *arm, *state),
        Thing::Vehicle { kind, width, length, height, color, oncoming } => {
            vehicle(c, lay, p, *kind, *width, *length, *height, *color, *oncoming)
        }
        Thing::Person { look: pl, pose } => people::person(c, b, look, pl, *pose, PERSON, p.seed),
        Thing::Cycle { motor, rider, side, color } => {
            people::cycle(c, b, look, *motor, rider.as_ref(), *side, *color, p.seed)
        }
    }
}

fn pole(c: &mut Canvas, b: Board<'_>, height: f32, r: f32, col: Rgb) {
    let (a, t) = (b.p(0.0, 0.0), b.p(0.0, height));
    let hw = (r * b.s()).max(0.5);
    c.fill_box(a[0] - hw, t[1], a[0] + hw, a[1], POLE, |x, _| {
        let k = 0.75 + 0.5 * ((x as f32 + 0.5 - a[0]) / hw * 0.5 + 0.5).clamp(0.0, 1.0);
        Some((scale(col, k), b.z))
    });
}

fn tree(c: &mut Canvas, b: Board<'_>, look: &Look, trunk: f32, crown: f32, color: Rgb, seed: u32) {
    let front = look.light(Facing::Front, false);
    let bark = lit([0.3, 0.25, 0.2], front);
    let s = b.s();
    c.fill_capsule(b.p(0.0, 0.0), b.p(0.0, trunk + crown * 0.5), (0.14 * s).max(0.5), VEGETATION, |x, y| {
        Some((scale(bark, 0.8 + 0.4 * value(x as f32 * 0.7, y as f32 * 0.15, seed)), b.z))
    });
    // A crown of a few overlapping lumps with ragged edges and gaps.
    let lumps = 3 + seed % 3;
    for i in 0..lumps {
        let hv = seed.wrapping_mul(2654435761).wrapping_add(i * 7919);
        let ox = (unit(hv) - 0.5) * crown * 1.1;
        let oy = trunk + crown * (0.6 + 0.6 * unit(hv >> 7));
        let r = crown * (0.55 + 0.35 * unit(hv >> 13));
        let q = b.p(ox, oy);
        let rp = r * s;
        let cell = (0.35 * s).max(1.5);
        c.fill_box(q[0] - rp * 1.2, q[1] - rp * 1.2, q[0] + rp * 1.2, q[1] + rp * 1.2, VEGETATION, |x, y| {
            let (dx, dy) = ((x as f32 + 0.5 - q[0]) / rp, (y as f32 + 0.5 - q[1]) / rp);
            let d = (dx * dx + dy * dy).sqrt();
            let n = value(x as f32 / cell, y as f32 / cell, seed ^ i);
            if d > 0.85 + 0.35 * n || (d > 0.55 && n < 0.12) {
                return None;
            }
            let sun = 0.75 - 0.35 * dy + 0.15 * look.sun_side * -dx;
            let leaf = 0.55 + 0.7 * value(x as f32 / (cell * 0.4), y as f32 / (cell * 0.4), seed ^ 99);
            Some((lit(scale(color, leaf * sun), front), b.z))
        });
    }
}

fn sign(c: &mut Canvas, b: Board<'_>, look: &Look, height: f32, shape: u8, size: f32) {
    let front = look.light(Facing::Front, false);
    pole(c, b, height + size * 0.5, 0.04, lit([0.5, 0.5, 0.52], front));
    let cy = height + size * 0.5;
    let q = b.p(0.0, cy);
    let r = size * 0.5 * b.s();
    let (outer, inner): (Rgb, Rgb) = match shape {
        0 => ([0.75, 0.08, 0.08], [0.92, 0.92, 0.9]),
        1 => ([0.1, 0.25, 0.65], [0.1, 0.25, 0.65]),
        2 => ([0.75, 0.1, 0.1], [0.95, 0.95, 0.9]),
        3 => ([0.1, 0.45, 0.25], [0.9, 0.9, 0.88]),
        _ => ([0.9, 0.75, 0.1], [0.9, 0.75, 0.1]),
    };
    let paint = |rel: f32| -> Option<(Rgb, f32)> {
        let col = if rel < 0.7 { inner } else { outer };
        Some((lit(col, front), b.z))
    };
    match shape {
        0 | 1 => c.fill_ellipse(q[0], q[1], r, r, TRAFFIC_SIGN, |x, y| {
            let (dx, dy) = (x as f32 + 0.5 - q[0], y as f32 + 0.5 - q[1]);
            paint((dx * dx + dy * dy).sqrt() / r)
        }),
        2 => {
            let pts = [[q[0], q[1] + r], [q[0] - r * 1.1, q[1] - r * 0.8], [q[0] + r * 1.1, q[1] - r * 0.8]];
            c.fill_poly(&pts, TRAFFIC_SIGN, |x, y| {
                let dy = (y as f32 + 0.5 - q[1] + r * 0.25) / r;
                let dx = (x as f32 + 0.5 - q[0]).abs() / r;
                paint(if dy < -0.45 || dx > 0.75 - dy * 0.6 { 1.0 } else { 0.0 })
            })
        }
        _ => c.fill_box(q[0] - r * 1.2, q[1] - r * 0.7, q[0] + r * 1.2, q[1] + r * 0.7, TRAFFIC_SIGN, |x, y| {
            let dx = (x as f32 + 0.5 - q[0]).abs() / (r * 1.2);
            let dy = (y as f32 + 0.5 - q[1]).abs() / (r * 0.7);
            paint(if dx > 0.88 || dy > 0.82 { 1.0 } else { 0.0 })
        }),
    }
}

fn traffic_light(c: &mut Canvas, b: Board<'_>, look: &Look, height: f32, arm: f32, state: u8) {
    let front = look.light(Facing::Front, false);
    let metal = lit([0.28, 0.29, 0.3], front);
    let top = if arm != 0.0 { 5.5 } else { height + 0.95 };
    pole(c, b, top, 0.07, metal);
    let mut heads = vec![(0.0, height)];
    if arm != 0.0 {
        c.fill_capsule(b.p(0.0, top), b.p(arm, top), (0.06 * b.s()).max(0.5), POLE, |_, _| Some((metal, b.z)));
        heads.push((arm, top - 1.0));
    }
    for (hx, hy) in heads {
        let (w, hgt) = (0.34, 0.95);
        let p0 = b.p(hx - w * 0.5, hy + hgt);
        let p1 = b.p(hx + w * 0.5, hy);
        c.fill_box(p0[0], p0[1], p1[0], p1[1], TRAFFIC_LIGHT, |x, y| {
            let (lx, ly) = b.local(x, y);
            let (dx, rel) = (lx - hx, (ly - hy) / hgt);
            let lamp = ((rel * 3.0).floor() as i32).clamp(0, 2);
            let cy = (lamp as f32 + 0.5) / 3.0;
            let on = lamp as u8 == 2 - state.min(2);
            let in_lamp = dx * dx + ((rel - cy) * hgt) * ((rel - cy) * hgt) < 0.011;
            let col = if in_lamp {
                let base: Rgb = [[0.1, 0.9, 0.4], [1.0, 0.7, 0.1], [1.0, 0.15, 0.1]][lamp as usize];
                if on { base } else { scale(base, 0.15) }
            } else {
                lit([0.1, 0.1, 0.1], front)
            };
            Some((col, b.z))
        });
    }
}

/// Which face of a box, for choosing details.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Face {
    Near,
    Side,
    Top,
}

/// Box in street coordinates; `shade(face, s, t, light)` gets coordinates normalised to [0, 1]
/// across the face (s along u for Near and Top, along z for Side; t up, or along z for Top).
#[allow(clippy::too_many_arguments)]
fn draw_box(
    c: &mut Canvas,
    cam: &Camera,
    look: &Look,
    u: (f32, f32),
    z: (f32, f32),
    h: (f32, f32),
    class: u8,
    mut shade: impl FnMut(Face, f32, f32, Rgb) -> Option<Rgb>,
) {
    let (u0, u1) = u;
    let (z0, z1) = z;
    let (h0, h1) = h;
    if z0 < 0.5 {
        return;
    }
    if h1 < cam.hc {
        let pts = [cam.project(u0, z0, h1), cam.project(u1, z0, h1), cam.project(u1, z1, h1), cam.project(u0, z1, h1)];
        let light = look.light(Facing::Up, false);
        c.fill_poly(&pts, class, |x, y| {
            let (uu, zz) = cam.on_level(h1, x, y);
            shade(Face::Top, (uu - u0) / (u1 - u0), (zz - z0) / (z1 - z0), light).map(|col| (col, zz))
        });
    }
    let side = if u0 > 0.0 {
        Some((u0, Facing::MinusU))
    } else if u1 < 0.0 {
        Some((u1, Facing::PlusU))
    } else {
        None
    };
    if let Some((us, facing)) = side {
        let pts = [cam.project(us, z0, h0), cam.project(us, z1, h0), cam.project(us, z1, h1), cam.project(us, z0, h1)];
        let light = look.light(facing, false);
        c.fill_poly(&pts, class, |x, y| {
            let (zz, hh) = cam.on_side(us, x, y);
            shade(Face::Side, (zz - z0) / (z1 - z0), (hh - h0) / (h1 - h0), light).map(|col| (col, zz))
        });
    }
    let pts = [cam.project(u0, z0, h0), cam.project(u1, z0, h0), cam.project(u1, z0, h1), cam.project(u0, z0, h1)];
    let light = look.light(Facing::Front, false);
    c.fill_poly(&pts, class, |x, y| {
        let (uu, hh) = cam.on_front(z0, x, y);
        shade(Face::Near, (uu - u0) / (u1 - u0), (hh - h0) / (h1 - h0), light).map(|col| (col, z0))
    });
}

fn glass(look: &Look, t: f32, light: Rgb) -> Rgb {
    let g = mix([0.06, 0.07, 0.09], scale(look.sky_horizon, 0.55), 0.15 + 0.45 * t);
    lit(g, mix(light, [1.0; 3], 0.4))
}

#[allow(clippy::too_many_arguments)]
fn vehicle(
    c: &mut Canvas,
    lay: &Layout,
    p: &Placed,
    kind: VehicleKind,
    w: f32,
    len: f32,
    ht: f32,
    color: Rgb,
    oncoming: bool,
) {
    let cam = &lay.cam;
    let look = &lay.look;
    let (u0, u1) = (p.u - w * 0.5, p.u + w * 0.5);
    let (z0, z1) = (p.z, p.z + len);
    let class = match kind {
        VehicleKind::Car => CAR,
        VehicleKind::Truck => TRUCK,
        VehicleKind::Bus => BUS,
        VehicleKind::Tram => TRAIN,
    };
    // Soft contact shadow on whatever ground is under the vehicle.
    let sh = [
        cam.project(u0 - 0.15, z0 - 0.3, 0.0),
        cam.project(u1 + 0.15, z0 - 0.3, 0.0),
        cam.project(u1 + 0.15, z1, 0.0),
        cam.project(u0 - 0.15, z1, 0.0),
    ];
    c.tint_poly(&sh, |_, _, col, l| if l <= SIDEWALK || l == TERRAIN { scale(col, 0.45) } else { col });
    let lights_on = look.lights_on;
    let tyre = lit([0.05, 0.05, 0.05], look.light(Facing::Front, false));
    let seed = p.seed;
    let grime = |s: f32, t: f32| 0.88 + 0.2 * value(s * 6.0, t * 4.0, seed);
    // Wheels visible under the body and on the visible side.
    let wheel_r = match kind {
        VehicleKind::Car => 0.32,
        _ => 0.5,
    };
    let body_h0 = wheel_r * 0.8;
    for uw in [u0 + 0.05, u1 - 0.25] {
        let zw = z0 + 0.6;
        let pts = [
            cam.project(uw, zw, 0.0),
            cam.project(uw + 0.2, zw, 0.0),
            cam.project(uw + 0.2, zw, body_h0 + 0.05),
            cam.project(uw, zw, body_h0 + 0.05),
        ];
        c.fill_poly(&pts, class, |_, _| Some((tyre, zw)));
    }
    let lamp = |s: f32, t: f32, front: bool| -> Option<Rgb> {
        let edge = !(0.16..=0.84).contains(&s);
        if !(edge && (0.55..0.75).contains(&t)) {
            return None;
        }
        Some(match (front, lights_on) {
            (true, true) => [1.0, 1.0, 0.9],
            (true, false) => [0.85, 0.85, 0.8],
            (false, true) => [1.0, 0.15, 0.1],
            (false, false) => [0.6, 0.05, 0.05],
        })
    };
    match kind {
        VehicleKind::Car => {
            let hb = ht * 0.58;
            let (cz0, cz1) =
                if oncoming { (z0 + len * 0.32, z1 - len * 0.15) } else { (z0 + len * 0.18, z1 - len * 0.33) };
            let inset = 0.1;
            draw_box(c, cam, look, (u0 + inset, u1 - inset), (cz0, cz1), (hb, ht), class, |f, s, t, light| {
                Some(match f {
                    Face::Top => lit(scale(color, 0.95), light),
                    Face::Side if s > 0.05 && s < 0.95 && t < 0.85 && (s - 0.5).abs() > 0.03 => glass(look, t, light),
                    Face::Near if s > 0.07 && s < 0.93 && t < 0.88 => glass(look, t, light),
                    _ => lit(color, light),
                })
            });
            draw_box(c, cam, look, (u0, u1), (z0, z1), (body_h0, hb), class, |f, s, t, light| {
                let paint = scale(color, grime(s, t));
                Some(match f {
                    Face::Near => {
                        if let Some(l) = lamp(s, t, oncoming) {
                            l
                        } else if (s - 0.5).abs() < 0.13 && (0.2..0.42).contains(&t) {
                            lit([0.85, 0.85, 0.8], light) // plate
                        } else if t < 0.2 {
                            lit(scale(paint, 0.5), light) // bumper
                        } else {
                            lit(paint, light)
                        }
                    }
                    Face::Side if (s - 0.45).abs() < 0.006 || t > 0.96 => lit(scale(paint, 0.6), light),
                    _ => lit(paint, light),
                })
            });
        }
        VehicleKind::Truck => {
            let cab_len = 2.3;
            let (bz, cz) = if oncoming {
                ((z0 + cab_len + 0.2, z1), (z0, z0 + cab_len))
            } else {
                ((z0, z1 - cab_len - 0.2), (z1 - cab_len, z1))
            };
            let cargo = if unit(seed) < 0.6 { [0.85, 0.85, 0.83] } else { color };
            let cab_h = ht.min(3.0);
            let cab = |c: &mut Canvas| {
                draw_box(c, cam, look, (u0 + 0.05, u1 - 0.05), cz, (body_h0, cab_h), class, |f, s, t, light| {
                    Some(match f {
                        Face::Near if t > 0.5 && t < 0.92 && s > 0.05 && s < 0.95 => glass(look, t, light),
                        Face::Near => lamp(s, (t - 0.1) * 2.5, true).unwrap_or_else(|| lit(color, light)),
                        Face::Side if t > 0.55 && t < 0.9 && s > 0.3 && s < 0.8 => glass(look, t, light),
                        _ => lit(color, light),
                    })
                });
            };
            let cargo_box = |c: &mut Canvas| {
                draw_box(c, cam, look, (u0, u1), bz, (body_h0 + 0.3, ht), class, |f, s, t, light| {
                    let col = scale(cargo, grime(s, t));
                    Some(match f {
                        Face::Near if (s - 0.5).abs() < 0.01 => lit(scale(col, 0.5), light),
                        Face::Near => lamp(s, t * 8.0, false).unwrap_or_else(|| lit(col, light)),
                        Face::Side if t > 0.45 && t < 0.65 && unit(seed >> 9) < 0.5 => lit(color, light),
                        _ => lit(col, light),
                    })
                });
            };
            if oncoming {
                cargo_box(c);
                cab(c);
            } else {
                cab(c);
                cargo_box(c);
            }
        }
        VehicleKind::Bus | VehicleKind::Tram => {
            let tram = kind == VehicleKind::Tram;
            draw_box(
                c,
                cam,
                look,
                (u0, u1),
                (z0, z1),
                (if tram { 0.35 } else { body_h0 }, ht),
                class,
                |f, s, t, light| {
                    let col = scale(color, grime(s, t));
                    Some(match f {
                        Face::Near if t > 0.42 && t < 0.92 && s > 0.06 && s < 0.94 => glass(look, t, light),
                        Face::Near if t > 0.93 && s > 0.2 && s < 0.8 => {
                            if lights_on {
                                [1.0, 0.6, 0.1]
                            } else {
                                [0.3, 0.2, 0.05]
                            }
                        }
                        Face::Near => lamp(s, t * 2.3, oncoming).unwrap_or_else(|| lit(col, light)),
                        Face::Side if t > 0.45 && t < 0.85 && (s * len / 1.6).fract() > 0.1 => glass(look, t, light),
                        Face::Side if t < 0.12 => lit(scale(col, 0.4), light),
                        _ => lit(col, light),
                    })
                },
            );
        }
    }
    // Wheels on the visible side.
    let side = if u0 > 0.0 {
        Some(u0 - 0.02)
    } else if u1 < 0.0 {
        Some(u1 + 0.02)
    } else {
        None
    };
    if let Some(us) = side {
        let axles: Vec<f32> = match kind {
            VehicleKind::Car => vec![0.18 * len, 0.8 * len],
            VehicleKind::Tram => vec![2.5, 4.0, len * 0.5, len - 4.0, len - 2.5],
            _ => vec![1.8, len - 2.5, len - 1.3],
        };
        for a in axles {
            let zc = z0 + a;
            let r = wheel_r;
            let pts = [
                cam.project(us, zc - r, 0.0),
                cam.project(us, zc + r, 0.0),
                cam.project(us, zc + r, 2.0 * r),
                cam.project(us, zc - r, 2.0 * r),
            ];
            c.fill_poly(&pts, class, |x, y| {
                let (zz, hh) = cam.on_side(us, x, y);
                let d2 = (zz - zc) * (zz - zc) + (hh - r) * (hh - r);
                if d2 > r * r {
                    return None;
                }
                Some((if d2 < r * r * 0.3 { scale(tyre, 4.0) } else { tyre }, zz))
            });
        }
    }
}
