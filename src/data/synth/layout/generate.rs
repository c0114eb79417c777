//! Drawing a street plan at random: the sides and their blocks, the furniture along the curbs,
//! and the people and vehicles, denser as the difficulty rises.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::data::synth::camera::Camera;
use crate::data::synth::look;

fn r(rng: &mut ChaCha8Rng, a: f32, b: f32) -> f32 {
    rng.random_range(a..b)
}

fn chance(rng: &mut ChaCha8Rng, p: f32) -> bool {
    rng.random::<f32>() < p
}

fn facade(rng: &mut ChaCha8Rng, kind: Kind) -> Facade {
    let height = match kind {
        Kind::Urban => r(rng, 8.0, 32.0),
        _ => r(rng, 5.0, 12.0),
    };
    Facade {
        height,
        color: look::pick(rng, look::FACADE, 0.15),
        floor_h: r(rng, 2.8, 3.8),
        bay_w: r(rng, 2.0, 4.5),
        win_w: r(rng, 0.3, 0.75),
        win_h: r(rng, 0.35, 0.65),
        glass: look::pick(rng, &[[0.12, 0.15, 0.18], [0.25, 0.28, 0.3], [0.08, 0.1, 0.1]], 0.3),
        shop: kind == Kind::Urban && chance(rng, 0.6),
        lit: r(rng, 0.1, 0.6),
        seed: rng.random(),
    }
}

fn barrier(rng: &mut ChaCha8Rng) -> Barrier {
    match rng.random_range(0..3u32) {
        0 => {
            Barrier::Wall { height: r(rng, 0.8, 2.8), color: look::pick(rng, look::CONCRETE, 0.15), seed: rng.random() }
        }
        1 => Barrier::Fence {
            height: r(rng, 0.9, 2.2),
            color: look::pick(rng, look::METAL, 0.2),
            spacing: r(rng, 0.12, 0.35),
            mesh: chance(rng, 0.4),
        },
        _ => {
            Barrier::Hedge { height: r(rng, 0.8, 2.2), color: look::pick(rng, look::FOLIAGE, 0.2), seed: rng.random() }
        }
    }
}

fn side(rng: &mut ChaCha8Rng, sign: f32, curb: f32, kind: Kind, zend: f32, cross: Option<(f32, f32)>) -> Side {
    let yard = match kind {
        Kind::Urban => {
            if chance(rng, 0.15) {
                r(rng, 1.0, 4.0)
            } else {
                0.0
            }
        }
        Kind::Suburban => r(rng, 2.0, 8.0),
        Kind::Open => r(rng, 0.0, 6.0),
    };
    let mut s = Side {
        sign,
        curb,
        verge: if chance(rng, 0.3) { r(rng, 0.8, 3.0) } else { 0.0 },
        walk: r(rng, 1.5, 5.0),
        yard,
        paving: look::pick(rng, look::PAVING, 0.1),
        grass: look::pick(rng, look::GRASS, 0.12),
        blocks: Vec::new(),
    };
    let open_side = kind == Kind::Open && chance(rng, 0.7);
    let mut z = 0.5;
    while z < zend {
        let len = r(rng, 8.0, 40.0);
        let mut z1 = (z + len).min(zend);
        if let Some((c0, c1)) = cross {
            if z < c0 && z1 > c0 {
                z1 = c0;
            }
            if z >= c0 && z < c1 {
                z = c1;
                continue;
            }
        }
        let building = match kind {
            Kind::Urban => chance(rng, 0.9),
            Kind::Suburban => chance(rng, 0.75),
            Kind::Open => !open_side && chance(rng, 0.5),
        }
        .then(|| facade(rng, kind));
        let barrier_p = match kind {
            Kind::Urban => 0.15,
            Kind::Suburban => 0.7,
            Kind::Open => 0.35,
        };
        let setback = if building.is_some() && kind != Kind::Urban { r(rng, 0.0, 6.0) } else { r(rng, 0.0, 0.6) };
        let barrier = chance(rng, barrier_p).then(|| barrier(rng));
        s.blocks.push(Block { z0: z, z1, setback, building, barrier });
        z = z1;
    }
    s
}

fn person(rng: &mut ChaCha8Rng) -> PersonLook {
    let child = chance(rng, 0.08);
    PersonLook {
        height: if child { r(rng, 1.05, 1.4) } else { r(rng, 1.55, 1.95) },
        skin: look::pick(rng, look::SKIN, 0.08),
        hair: look::pick(rng, &[[0.08, 0.06, 0.05], [0.3, 0.2, 0.1], [0.6, 0.5, 0.3], [0.5, 0.5, 0.5]], 0.1),
        top: look::pick(rng, look::CLOTHES, 0.15),
        legs: look::pick(rng, &look::CLOTHES[..5], 0.15),
        phase: r(rng, -1.0, 1.0),
        bag: chance(rng, 0.25),
    }
}

impl Layout {
    /// Draws a street plan for an image of `w` x `h` pixels at the given difficulty in [0, 1].
    pub fn random(rng: &mut ChaCha8Rng, w: u32, h: u32, d: f32) -> Layout {
        let (wf, hf) = (w as f32, h as f32);
        let cam = Camera {
            f: wf * r(rng, 0.85, 1.15),
            vx: wf * (0.5 + r(rng, -0.12, 0.12)),
            yh: hf * r(rng, 0.36, 0.5),
            hc: r(rng, 1.25, 1.8),
        };
        let look = Look::random(rng, d);
        let kind = match rng.random::<f32>() {
            x if x < 0.55 => Kind::Urban,
            x if x < 0.85 => Kind::Suburban,
            _ => Kind::Open,
        };
        let lane_w = r(rng, 2.8, 3.6);
        let lanes = rng.random_range(2..=4u32) as f32;
        let width = lanes * lane_w + if chance(rng, 0.4) { r(rng, 2.0, 4.5) } else { 0.0 }; // parking lane
        let p = r(rng, 0.45, 0.8);
        let zend = r(rng, 60.0, 160.0);
        let cross = chance(rng, 0.35).then(|| {
            let c0 = r(rng, 15.0, 50.0);
            (c0, c0 + r(rng, 10.0, 18.0))
        });
        let sides =
            [side(rng, -1.0, width * p, kind, zend, cross), side(rng, 1.0, width * (1.0 - p), kind, zend, cross)];
        let far_building = (kind == Kind::Urban && chance(rng, 0.6)).then(|| facade(rng, kind));
        let mut lay = Layout {
            kind,
            cam,
            look,
            sides,
            zend,
            far_building,
            cross,
            crosswalk: cross.map(|c| c.0 - r(rng, 3.5, 5.0)).or_else(|| chance(rng, 0.15).then(|| r(rng, 10.0, 30.0))),
            asphalt: look::pick(rng, look::ASPHALT, 0.12),
            lane_w,
            things: Vec::new(),
            seed: rng.random(),
        };
        lay.furnish(rng, d);
        lay.populate(rng, d);
        lay.things.sort_by(|a, b| b.z.total_cmp(&a.z));
        lay
    }

    fn put(&mut self, seed: u32, u: f32, z: f32, thing: Thing) {
        self.things.push(Placed { u, z, seed, thing });
    }

    /// Street furniture and trees: lamps, signs, traffic lights.
    fn furnish(&mut self, rng: &mut ChaCha8Rng, d: f32) {
        let zmax = self.zend * 0.95;
        for si in 0..2 {
            let s = self.sides[si].clone();
            let edge = s.sign * (s.curb + s.verge + 0.45);
            if chance(rng, 0.85) {
                let step = r(rng, 14.0, 35.0);
                let mut z = r(rng, 3.0, step);
                while z < zmax {
                    let arm = if chance(rng, 0.6) { -s.sign * r(rng, 0.8, 2.5) } else { 0.0 };
                    self.put(rng.random(), edge, z, Thing::Lamp { height: r(rng, 4.5, 9.0), arm });
                    z += step;
                }
            }
            let trees = match self.kind {
                Kind::Urban => 0.45,
                _ => 0.8,
            };
            if chance(rng, trees) {
                let step = r(rng, 7.0, 20.0);
                let mut z = r(rng, 2.0, step);
                let a = if s.verge > 0.0 { s.curb + s.verge * 0.5 } else { s.curb + s.walk * r(rng, 0.5, 0.8) };
                let color = look::pick(rng, look::FOLIAGE, 0.15);
                while z < zmax {
                    if chance(rng, 0.85) {
                        let c = look::mix(color, look::pick(rng, look::FOLIAGE, 0.1), 0.3);
                        self.put(
                            rng.random(),
                            s.sign * a,
                            z,
                            Thing::Tree { trunk: r(rng, 1.8, 3.5), crown: r(rng, 1.2, 3.5), color: c },
                        );
                    }
                    z += step * r(rng, 0.8, 1.2);
                }
            }
            // Trees behind the frontage where a side has no building.
            for b in s.blocks.iter().filter(|b| b.building.is_none()) {
                let n = ((b.z1 - b.z0) / r(rng, 5.0, 12.0)) as u32;
                for _ in 0..n {
                    let z = r(rng, b.z0, b.z1);
                    let a = s.frontage() + r(rng, 1.0, 14.0);
                    let c = look::pick(rng, look::FOLIAGE, 0.15);
                    self.put(
                        rng.random(),
                        s.sign * a,
                        z,
                        Thing::Tree { trunk: r(rng, 1.5, 4.0), crown: r(rng, 1.5, 5.0), color: c },
                    );
                }
            }
            let signs = rng.random_range(0..=(1 + (3.0 * d) as u32 + u32::from(self.kind == Kind::Urban)));
            for _ in 0..signs {
                let z = r(rng, 5.0, zmax.min(70.0));
                self.put(
                    rng.random(),
                    edge,
                    z,
                    Thing::Sign { height: r(rng, 1.8, 2.8), shape: rng.random_range(0..5), size: r(rng, 0.5, 0.9) },
                );
            }
            if let Some((c0, c1)) = self.cross {
                let state = rng.random_range(0..3);
                let arm = if chance(rng, 0.5) { -s.sign * r(rng, 2.0, s.curb.max(2.5)) } else { 0.0 };
                self.put(rng.random(), edge, c0 - 0.5, Thing::Light { height: r(rng, 2.8, 3.8), arm, state });
                if chance(rng, 0.5) {
                    self.put(rng.random(), edge, c1 + 0.5, Thing::Light { height: r(rng, 2.8, 3.8), arm: 0.0, state });
                }
            } else if chance(rng, 0.12 + 0.2 * d) {
                let state = rng.random_range(0..3);
                self.put(
                    rng.random(),
                    edge,
                    r(rng, 8.0, 40.0),
                    Thing::Light { height: r(rng, 2.8, 3.8), arm: 0.0, state },
                );
            }
        }
    }

    /// Vehicles, people and cycles; how many and how far grows with difficulty.
    fn populate(&mut self, rng: &mut ChaCha8Rng, d: f32) {
        let [left, right] = [self.sides[0].clone(), self.sides[1].clone()];
        let zmax = (self.zend * 0.9).min(25.0 + 90.0 * d);
        let zmin = 4.5;
        // Lanes: centres across the road, oncoming on the left of the middle line.
        let mut lanes: Vec<(f32, bool)> = Vec::new();
        let mut u = -left.curb + self.lane_w * 0.5;
        while u < right.curb - self.lane_w * 0.4 {
            lanes.push((u, u < -self.lane_w * 0.5));
            u += self.lane_w;
        }
        let tram = chance(rng, 0.06);
        let n_vehicles = rng.random_range(0..=(2.0 + 10.0 * d) as u32) + u32::from(chance(rng, 0.7));
        let mut occupied: Vec<(f32, f32, f32)> = Vec::new(); // (u, z0, z1)
        let mut place = |lay: &mut Layout, rng: &mut ChaCha8Rng, u: f32, z: f32, len: f32, width: f32, thing: Thing| {
            if occupied
                .iter()
                .any(|&(ou, z0, z1)| (ou - u).abs() < width.max(1.6) && z < z1 + 1.5 && z + len > z0 - 1.5)
            {
                return;
            }
            occupied.push((u, z, z + len));
            lay.put(rng.random(), u, z, thing);
        };
        if tram && !lanes.is_empty() {
            let (lu, _) = lanes[rng.random_range(0..lanes.len() as u32) as usize];
            let z = r(rng, zmin + 2.0, zmax.max(zmin + 3.0));
            let color = look::pick(
                rng,
                &[[0.8, 0.1, 0.1], [0.9, 0.85, 0.2], [0.85, 0.85, 0.85], [0.2, 0.4, 0.7], [0.3, 0.55, 0.3]],
                0.1,
            );
            let t = Thing::Vehicle {
                kind: VehicleKind::Tram,
                width: 2.6,
                length: r(rng, 18.0, 30.0),
                height: 3.4,
                color,
                oncoming: lu < 0.0,
            };
            place(self, rng, lu, z, 30.0, 2.6, t);
        }
        for _ in 0..n_vehicles {
            let parked = chance(rng, 0.35);
            let (u, oncoming) = if parked || lanes.is_empty() {
                let sd = if chance(rng, 0.5) { &left } else { &right };
                (sd.sign * (sd.curb - 1.1), chance(rng, 0.3))
            } else {
                lanes[rng.random_range(0..lanes.len() as u32) as usize]
            };
            let z = r(rng, zmin, zmax.max(zmin + 1.0));
            let k: f32 = rng.random();
            let (kind, width, length, height, color) = if k < 0.78 || parked {
                (
                    VehicleKind::Car,
                    r(rng, 1.65, 1.95),
                    r(rng, 3.8, 4.9),
                    r(rng, 1.35, 1.75),
                    look::pick(rng, look::CAR, 0.1),
                )
            } else if k < 0.9 {
                (
                    VehicleKind::Truck,
                    r(rng, 2.2, 2.5),
                    r(rng, 5.5, 10.0),
                    r(rng, 2.6, 3.8),
                    look::pick(rng, look::CAR, 0.1),
                )
            } else {
                let c =
                    look::pick(rng, &[[0.9, 0.75, 0.1], [0.85, 0.85, 0.85], [0.7, 0.1, 0.1], [0.15, 0.3, 0.6]], 0.1);
                (VehicleKind::Bus, 2.55, r(rng, 10.5, 13.0), r(rng, 3.0, 3.3), c)
            };
            let u = u + r(rng, -0.3, 0.3);
            place(self, rng, u, z, length, width, Thing::Vehicle { kind, width, length, height, color, oncoming });
        }
        // Cycles with riders in the outer lanes or crossing; parked bicycles on sidewalks.
        let n_cycles = rng.random_range(0..=(0.6 + 2.5 * d) as u32);
        for _ in 0..n_cycles {
            let motor = chance(rng, 0.4);
            let ridden = chance(rng, 0.55);
            let color = look::pick(rng, look::CAR, 0.15);
            if ridden {
                let crossing = chance(rng, 0.4);
                let sd = if chance(rng, 0.5) { &left } else { &right };
                let u = if crossing { r(rng, -left.curb, right.curb) } else { sd.sign * (sd.curb - r(rng, 0.6, 1.5)) };
                let z = r(rng, zmin, (zmax * 0.7).max(zmin + 1.0));
                let side = crossing.then(|| if chance(rng, 0.5) { 1.0 } else { -1.0 });
                let rider = Some(person(rng));
                place(self, rng, u, z, 1.8, 0.8, Thing::Cycle { motor, rider, side, color });
            } else {
                let sd = if chance(rng, 0.5) { &left } else { &right };
                let u = sd.sign * (sd.curb + sd.verge + r(rng, 0.4, sd.walk.max(0.5)));
                let z = r(rng, zmin, (zmax * 0.7).max(zmin + 1.0));
                let dir = if chance(rng, 0.5) { 1.0 } else { -1.0 };
                self.put(rng.random(), u, z, Thing::Cycle { motor, rider: None, side: Some(dir), color });
            }
        }
        // Pedestrians on sidewalks, some crossing the road.
        let n_people = rng.random_range(0..=(1.0 + 14.0 * d) as u32) + u32::from(chance(rng, 0.5));
        for _ in 0..n_people {
            let crossing = chance(rng, 0.15);
            let sd = if chance(rng, 0.5) { &left } else { &right };
            let (u, z) = if crossing {
                let z = self.crosswalk.unwrap_or_else(|| r(rng, zmin, zmax.max(zmin + 1.0))) + r(rng, 0.3, 3.0);
                (r(rng, -left.curb, right.curb), z)
            } else {
                let a = sd.curb + sd.verge + r(rng, 0.3, (sd.walk - 0.3).max(0.4));
                // Nearer people are more likely, as on a real sidewalk seen from a car.
                let t: f32 = rng.random();
                (sd.sign * a, zmin - 1.0 + (zmax - zmin + 2.0).max(2.0) * t * t)
            };
            let pose = if crossing || chance(rng, 0.3) {
                Pose::Side(if chance(rng, 0.5) { 1.0 } else { -1.0 })
            } else {
                Pose::Front
            };
            let look = person(rng);
            self.put(rng.random(), u, z, Thing::Person { look, pose });
            // Groups: a companion next to some pedestrians.
            if chance(rng, 0.2 * d + 0.1) {
                let look = person(rng);
                self.put(rng.random(), u + r(rng, -0.8, 0.8), z + r(rng, -0.6, 0.6), Thing::Person { look, pose });
            }
        }
    }
}
