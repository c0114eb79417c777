//! The static street: sky, ground (road, markings, sidewalks, grass), building facades, the far
//! end, and walls, fences and hedges. Each pixel's class and colour come from the same test on
//! street coordinates, so labels follow the drawn edges exactly.

use super::camera::Camera;
use super::canvas::{Canvas, Rgb};
use super::classes::*;
use super::layout::{Barrier, Facade, Kind, Layout, Side, Thing};
use super::look::{Facing, Look, lit, mix, scale};
use super::noise::{fbm2, floor_i, hash2, unit, value, white};

#[inline]
fn fract(v: f32) -> f32 {
    v - floor_i(v) as f32
}

/// Sky gradient with clouds over the whole canvas; everything else paints over it.
pub fn sky(c: &mut Canvas, lay: &Layout) {
    let l = &lay.look;
    let (w, h) = (c.w as f32, c.h as f32);
    let yh = lay.cam.yh.max(1.0);
    let cloud = match l.tod {
        super::look::TimeOfDay::Day => [0.93, 0.94, 0.96],
        super::look::TimeOfDay::Overcast => scale(l.sky_horizon, 0.85),
        super::look::TimeOfDay::Dusk => [0.85, 0.55, 0.5],
        super::look::TimeOfDay::Night => [0.12, 0.12, 0.15],
    };
    let seed = lay.seed ^ 0x51;
    // Only down to the horizon: the ground covers every row below it.
    let bottom = (lay.cam.yh + 2.0).clamp(0.0, h);
    c.fill_box(0.0, 0.0, w, bottom, SKY, |x, y| {
        let t = ((y as f32 + 0.5) / yh).clamp(0.0, 1.0);
        let mut col = mix(l.sky_top, l.sky_horizon, t.sqrt());
        if l.clouds > 0.0 {
            // Flatter, smaller clouds toward the horizon.
            let squash = 1.0 / (1.05 - t * 0.9);
            let n = fbm2(x as f32 / (w * 0.16), (y as f32) * squash / (h * 0.05), seed);
            let m = ((n - (1.0 - l.clouds)) / 0.25).clamp(0.0, 1.0);
            let shade = 0.8 + 0.25 * value(x as f32 / 9.0, y as f32 / 5.0, seed ^ 7);
            col = mix(col, scale(cloud, shade), m * 0.9);
        }
        Some((col, 1e4))
    });
}

/// Whether the building shadow of the sunny side reaches ground point (u, z).
fn in_building_shadow(lay: &Layout, u: f32, z: f32) -> bool {
    let l = &lay.look;
    if l.sun[0] <= 0.0 {
        return false;
    }
    let s = &lay.sides[if l.sun_side > 0.0 { 0 } else { 1 }];
    let Some(b) = s.block_at(z) else { return false };
    let (reach, face) = match (&b.building, &b.barrier) {
        (Some(f), _) => (f.height * l.shadow_len, s.frontage() + b.setback),
        (None, Some(Barrier::Wall { height, .. } | Barrier::Hedge { height, .. })) => {
            (height * l.shadow_len, s.frontage())
        }
        _ => return false,
    };
    u * s.sign > face - reach
}

/// Road, sidewalks and grass, per pixel from the ground point under it.
pub fn ground(c: &mut Canvas, lay: &Layout) {
    let cam = lay.cam;
    let l = &lay.look;
    let y0 = (cam.yh.floor().max(0.0)) as usize;
    let lamps: Vec<(f32, f32)> = if l.lights_on {
        lay.things
            .iter()
            .filter_map(|p| match p.thing {
                Thing::Lamp { arm, .. } => Some((p.u + arm, p.z)),
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    // Tree crowns cast blotchy shadows toward the side away from the sun.
    let tree_shadows: Vec<(f32, f32, f32)> = if l.sun[0] > 0.05 {
        lay.things
            .iter()
            .filter_map(|p| match p.thing {
                Thing::Tree { trunk, crown, .. } => {
                    Some((p.u + l.sun_side * (trunk + crown) * l.shadow_len, p.z, crown))
                }
                _ => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    let [left, right] = &lay.sides;
    let seed = lay.seed;
    let dashed_period = 6.0 + fract(unit(seed) * 7.0) * 6.0;
    let yellow = unit(seed ^ 3) < 0.3;
    let edge_lines = unit(seed ^ 5) < 0.5;
    for y in y0..c.h {
        for x in 0..c.w {
            let Some((u, z)) = cam.ground(x as i32, y as i32) else { continue };
            let (s, a) = if u < 0.0 { (left, -u) } else { (right, u) };
            let in_cross = lay.cross.is_some_and(|(c0, c1)| z >= c0 && z < c1);
            let (xi, yi) = (x as i32, y as i32);
            let grain = 1.0 + 0.1 * white(xi, yi, seed);
            let (class, albedo) = if a < s.curb || (in_cross && a < 150.0) {
                let n = fbm2(u * 0.4, z * 0.15, seed ^ 11);
                let mut col = scale(lay.asphalt, (0.8 + 0.4 * n) * grain);
                if !in_cross {
                    if let Some(m) = marking(lay, left, right, u, a, s, z, dashed_period, yellow, edge_lines) {
                        let wear = 0.6 + 0.4 * value(u * 3.0, z * 0.8, seed ^ 13);
                        col = mix(col, m, wear);
                    }
                }
                (ROAD, col)
            } else if a < s.curb + s.verge {
                (TERRAIN, grass(s, u, z, xi, yi, seed))
            } else if a < s.curb + s.verge + s.walk {
                (SIDEWALK, paving(s, a - s.curb - s.verge, z, grain, seed))
            } else if a < s.frontage() || lay.kind != Kind::Urban {
                (TERRAIN, grass(s, u, z, xi, yi, seed))
            } else {
                (SIDEWALK, paving(s, a - s.curb - s.verge, z, grain, seed))
            };
            let under_tree = tree_shadows.iter().any(|&(tu, tz, r)| {
                let d2 = ((u - tu) * (u - tu) + (z - tz) * (z - tz)) / (r * r);
                d2 < 0.6 + 0.5 * value(u * 1.5, z * 1.5, seed ^ 31)
            });
            let mut light = l.light(Facing::Up, under_tree || in_building_shadow(lay, u, z));
            for &(lu, lz) in &lamps {
                let d2 = (u - lu) * (u - lu) + (z - lz) * (z - lz);
                let k = 0.9 / (1.0 + d2 * 0.06);
                light = [light[0] + k, light[1] + k * 0.85, light[2] + k * 0.6];
            }
            c.set(x, y, lit(albedo, light), class, z);
        }
    }
}

fn grass(s: &Side, u: f32, z: f32, x: i32, y: i32, seed: u32) -> Rgb {
    let n = fbm2(u * 1.5, z * 0.6, seed ^ 17);
    let k = 0.65 + 0.6 * n + 0.2 * white(x, y, seed ^ 19);
    let dirt = value(u * 0.3, z * 0.1, seed ^ 23);
    scale(mix(s.grass, [0.45, 0.38, 0.3], (dirt - 0.55).max(0.0) * 1.5), k)
}

fn paving(s: &Side, a: f32, z: f32, grain: f32, seed: u32) -> Rgb {
    if a < 0.22 {
        return scale(mix(s.paving, [0.75, 0.75, 0.73], 0.5), grain); // curb stones
    }
    let tile = 0.6;
    let (ta, tz) = (fract(a / tile), fract(z / tile));
    let joint = ta < 0.06 || tz < 0.06;
    let per = unit(hash2((a / tile) as i32, (z / tile) as i32, seed ^ 29));
    let k = if joint { 0.7 } else { 0.9 + 0.2 * per };
    scale(s.paving, k * grain)
}

/// Lane lines, the middle line, edge lines and a zebra crossing; None where bare asphalt.
#[allow(clippy::too_many_arguments)]
fn marking(
    lay: &Layout,
    left: &Side,
    right: &Side,
    u: f32,
    a: f32,
    s: &Side,
    z: f32,
    period: f32,
    yellow: bool,
    edge: bool,
) -> Option<Rgb> {
    const WHITE: Rgb = [0.85, 0.85, 0.82];
    const YELLOW: Rgb = [0.85, 0.7, 0.2];
    let half = 0.07;
    if let Some(cw) = lay.crosswalk {
        if z >= cw && z < cw + 3.5 {
            return (fract(u / 1.1) < 0.5).then_some(WHITE);
        }
        if z >= cw - 1.0 && z < cw - 0.6 && u > 0.0 {
            return Some(WHITE); // stop line
        }
    }
    if edge && (a - (s.curb - 0.3)).abs() < half {
        return Some(WHITE);
    }
    let mut k = 1.0;
    loop {
        let lu = -left.curb + k * lay.lane_w;
        if lu > right.curb - 1.0 {
            return None;
        }
        if (u - lu).abs() < half {
            let middle = lu > -lay.lane_w * 0.5 - 0.01 && lu - lay.lane_w < -lay.lane_w * 0.5 - 0.01;
            if middle {
                return Some(if yellow { YELLOW } else { WHITE });
            }
            return (fract(z / period) < 0.4).then_some(WHITE);
        }
        if lu > u + 1.0 {
            return None;
        }
        k += 1.0;
    }
}

/// Colour of a facade point `along` metres from the block start and `h` metres up.
fn facade_color(f: &Facade, along: f32, h: f32, light: Rgb, look: &Look) -> Rgb {
    let fl = h / f.floor_h;
    let floor = floor_i(fl) as f32;
    let fy = fl - floor;
    let bay = along / f.bay_w;
    let col = floor_i(bay) as f32;
    let fx = bay - col;
    let n = fbm2(along * 0.5, h * 0.5, f.seed);
    let mut base = scale(f.color, 0.78 + 0.4 * n);
    if h > f.height - 0.45 || (fy < 0.06 && floor >= 1.0) {
        base = scale(base, 0.8);
    }
    if h < 0.6 {
        base = scale(base, 0.75);
    }
    let glass = |look: &Look| {
        let hv = hash2(col as i32, floor as i32, f.seed);
        if look.lights_on && unit(hv) < f.lit {
            return [0.95, 0.8, 0.45];
        }
        let g = mix(f.glass, scale(look.sky_horizon, 0.7), 0.1 + 0.4 * unit(hv >> 3) * (1.0 - fy));
        lit(g, mix(light, [1.0; 3], 0.3))
    };
    let dx = (fx - 0.5).abs();
    if floor < 1.0 {
        if f.shop && dx < 0.42 && fy > 0.12 && fy < 0.85 {
            return glass(look);
        }
        if !f.shop && (col as i32).rem_euclid(5) == 2 && dx < 0.18 && fy < 0.72 {
            return lit(scale(f.glass, 0.6), light); // door
        }
    } else if h < f.height - 0.9 {
        let (wy0, wy1) = (0.3, 0.3 + 0.6 * f.win_h);
        let hw = f.win_w * 0.5;
        if dx < hw && fy > wy0 && fy < wy1 {
            return glass(look);
        }
        if dx < hw + 0.04 && fy > wy0 - 0.05 && fy < wy1 + 0.03 {
            base = mix(base, [0.85, 0.85, 0.82], 0.5); // frames and sills
        }
    }
    lit(base, light)
}

/// One building: its facade along the street and its end wall facing the camera.
fn building(c: &mut Canvas, cam: &Camera, look: &Look, s: &Side, f: &Facade, z0: f32, z1: f32, a: f32) {
    let u0 = s.sign * a;
    let zn = z0.max(0.6);
    let pts = [
        cam.project(u0, zn, 0.0),
        cam.project(u0, z1, 0.0),
        cam.project(u0, z1, f.height),
        cam.project(u0, zn, f.height),
    ];
    let light = look.light(if s.sign < 0.0 { Facing::PlusU } else { Facing::MinusU }, false);
    c.fill_poly(&pts, BUILDING, |x, y| {
        let (z, h) = cam.on_side(u0, x, y);
        Some((facade_color(f, z - z0, h, light, look), z))
    });
    if z0 > 2.0 {
        let u1 = s.sign * (a + 15.0);
        let pts = [
            cam.project(u0, z0, 0.0),
            cam.project(u1, z0, 0.0),
            cam.project(u1, z0, f.height),
            cam.project(u0, z0, f.height),
        ];
        let light = look.light(Facing::Front, false);
        c.fill_poly(&pts, BUILDING, |x, y| {
            let (u, h) = cam.on_front(z0, x, y);
            Some((facade_color(f, (u - u0).abs(), h, light, look), z0))
        });
    }
}

/// The far end: a building across the street, or a distant skyline and tree line.
pub fn far_end(c: &mut Canvas, lay: &Layout) {
    let cam = &lay.cam;
    let look = &lay.look;
    let w = c.w as f32;
    if let Some(f) = &lay.far_building {
        let z = lay.zend;
        let light = look.light(Facing::Front, false);
        let top = cam.project(0.0, z, f.height)[1];
        let bottom = cam.project(0.0, z, 0.0)[1];
        c.fill_box(0.0, top, w, bottom, BUILDING, |x, y| {
            let (u, h) = cam.on_front(z, x, y);
            Some((facade_color(f, u + 500.0, h, light, look), z))
        });
        return;
    }
    let haze = |col: Rgb, k: f32| mix(col, look.sky_horizon, k);
    // Tree line on a far ridge, then distant towers in front of it in urban-ish scenes.
    let zt = 250.0;
    let seed = lay.seed ^ 0x77;
    let tree_h = 6.0 + 10.0 * unit(seed);
    let ground_y = cam.project(0.0, zt, 0.0)[1];
    let top_y = cam.project(0.0, zt, tree_h * 1.6)[1];
    let veg = lit([0.2, 0.3, 0.15], look.light(Facing::Front, false));
    c.fill_box(0.0, top_y, w, ground_y + 1.0, VEGETATION, |x, y| {
        let (u, h) = cam.on_front(zt, x, y);
        let top = tree_h * (0.55 + 0.6 * fbm2(u * 0.08, 0.0, seed));
        (h < top && unit(seed >> 4) < 0.75)
            .then(|| (haze(scale(veg, 0.8 + 0.3 * value(u * 0.5, h * 0.5, seed)), 0.45), zt))
    });
    if lay.kind != Kind::Open {
        let zb = 400.0;
        let mut u = -300.0;
        let mut k = 0;
        while u < 300.0 {
            let hv = hash2(k, 1, seed);
            let width = 15.0 + 40.0 * unit(hv);
            let height = 12.0 + 60.0 * unit(hv >> 5);
            if unit(hv >> 11) < 0.6 {
                let p0 = cam.project(u, zb, height);
                let p1 = cam.project(u + width, zb, 0.0);
                let tone = scale(mix([0.5, 0.5, 0.52], [0.62, 0.58, 0.5], unit(hv >> 2)), 0.8);
                let light = look.light(Facing::Front, false);
                c.fill_box(p0[0], p0[1], p1[0], p1[1] + 1.0, BUILDING, |x, y| {
                    let (uu, h) = cam.on_front(zb, x, y);
                    let win = fract(h / 3.5) > 0.5 && fract(uu / 3.0) > 0.5;
                    let col = if win { scale(tone, 0.75) } else { tone };
                    let col = if look.lights_on && win && unit(hash2((uu / 3.0) as i32, (h / 3.5) as i32, seed)) < 0.3 {
                        [0.9, 0.75, 0.45]
                    } else {
                        lit(col, light)
                    };
                    Some((haze(col, 0.55), zb))
                });
            }
            u += width + 5.0 * unit(hv >> 17);
            k += 1;
        }
    }
}

/// Both rows of buildings, far to near, then walls, fences and hedges.
pub fn frontages(c: &mut Canvas, lay: &Layout) {
    let cam = &lay.cam;
    for s in &lay.sides {
        for b in s.blocks.iter().rev() {
            if let Some(f) = &b.building {
                building(c, cam, &lay.look, s, f, b.z0, b.z1, s.frontage() + b.setback);
            }
        }
    }
    for s in &lay.sides {
        for b in s.blocks.iter().rev() {
            if let Some(bar) = &b.barrier {
                barrier(c, cam, &lay.look, s, bar, b.z0.max(0.8), b.z1);
            }
        }
    }
}

fn barrier(c: &mut Canvas, cam: &Camera, look: &Look, s: &Side, bar: &Barrier, z0: f32, z1: f32) {
    let u0 = s.sign * (s.frontage() - 0.05);
    let light = look.light(if s.sign < 0.0 { Facing::PlusU } else { Facing::MinusU }, false);
    let (height, class) = match bar {
        Barrier::Wall { height, .. } => (*height, WALL),
        Barrier::Fence { height, .. } => (*height, FENCE),
        Barrier::Hedge { height, .. } => (*height + 0.3, VEGETATION),
    };
    let pts =
        [cam.project(u0, z0, 0.0), cam.project(u0, z1, 0.0), cam.project(u0, z1, height), cam.project(u0, z0, height)];
    c.fill_poly(&pts, class, |x, y| {
        let (z, h) = cam.on_side(u0, x, y);
        let col = match bar {
            Barrier::Wall { color, seed, height } => {
                let row = floor_i(h / 0.3) as f32;
                let shift = if (row as i32) % 2 == 0 { 0.0 } else { 0.3 };
                let joint = fract(h / 0.3) < 0.08 || fract((z + shift) / 0.6) < 0.05;
                let n = fbm2(z * 0.8, h * 0.8, *seed);
                let k = if h > height - 0.12 {
                    0.7
                } else if joint {
                    0.8
                } else {
                    0.85 + 0.3 * n
                };
                scale(*color, k)
            }
            Barrier::Fence { color, spacing, mesh, height } => {
                let foot = z / cam.f; // metres per pixel
                let post = fract(z / 2.5) < 0.04 + foot / 2.5;
                let rail = h > height - 0.06 - foot || (h > 0.1 && h < 0.16 + foot);
                let solid = if *mesh {
                    fract((z + h) / 0.12) < 0.2 + foot / 0.12 || fract((z - h) / 0.12) < 0.2 + foot / 0.12
                } else {
                    fract(z / spacing) < 0.3 + foot / spacing
                };
                if !(post || rail || solid) {
                    return None;
                }
                *color
            }
            Barrier::Hedge { color, seed, height } => {
                let top = height + 0.3 * value(z * 1.3, 0.0, *seed);
                if h > top {
                    return None;
                }
                let n = value(z * 4.0, h * 4.0, *seed) * 0.6 + value(z * 11.0, h * 11.0, seed ^ 9) * 0.4;
                scale(*color, 0.5 + 0.8 * n)
            }
        };
        Some((lit(col, light), z))
    });
}
