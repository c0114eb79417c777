//! The procedural street-scene generator: Cityscapes-like images with exact trainId labels.
//!
//! A scene is planned ([`layout`]), painted into one canvas that holds image, label and depth
//! together ([`street`], [`things`], [`people`]), then degraded by weather and the camera
//! ([`post`]). Everything is drawn from one ChaCha8 stream seeded per scene and uses only
//! arithmetic that is exact across machines, so a seed gives byte-identical files anywhere.

pub mod camera;
pub mod canvas;
pub mod classes;
pub mod jpeg;
pub mod layout;
pub mod look;
pub mod noise;
pub mod people;
pub mod post;
pub mod street;
pub mod things;
pub mod writer;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use layout::{Kind, Layout, Thing, VehicleKind};
use look::TimeOfDay;
use post::Effects;

/// What to generate: one scene is a pure function of this.
#[derive(Debug, Clone, Copy)]
pub struct SceneSpec {
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// In [0, 1]: clutter, object count and size, occlusion, contrast and weather.
    pub difficulty: f32,
}

/// Counts of the things placed in a scene.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub cars: u32,
    pub trucks: u32,
    pub buses: u32,
    pub trams: u32,
    pub people: u32,
    pub riders: u32,
    pub cycles: u32,
    pub trees: u32,
    pub poles: u32,
}

/// The parameters of a generated scene, one line of the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct SceneInfo {
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// The knob the scene was generated with.
    pub difficulty: f32,
    /// A realised difficulty in [0, 1]: the knob, weather, darkness and object sizes combined.
    pub score: f32,
    pub kind: Kind,
    pub time_of_day: TimeOfDay,
    pub focal_px: f32,
    pub horizon_row: f32,
    pub camera_height_m: f32,
    pub effects: Effects,
    pub counts: Counts,
    /// Share of pixels per train id (0..19) and for 255 last.
    pub class_share: Vec<f32>,
}

/// A generated image with its trainId label.
pub struct Scene {
    pub image: image::RgbImage,
    pub label: image::GrayImage,
    pub info: SceneInfo,
}

/// Generates one scene.
pub fn generate(spec: &SceneSpec) -> Scene {
    let d = spec.difficulty.clamp(0.0, 1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let lay = Layout::random(&mut rng, spec.width, spec.height, d);
    let mut c = canvas::Canvas::new(spec.width as usize, spec.height as usize);
    street::sky(&mut c, &lay);
    street::ground(&mut c, &lay);
    street::far_end(&mut c, &lay);
    street::frontages(&mut c, &lay);
    for p in &lay.things {
        things::draw(&mut c, &lay, p);
    }
    let effects = Effects::random(&mut rng, d, &lay.look);
    post::apply(&mut c, &effects, &lay.look, &mut rng);
    let image = post::to_image(&c);
    let mut hist = vec![0u32; classes::COUNT + 1];
    for &l in &c.label {
        hist[usize::from(l).min(classes::COUNT)] += 1;
    }
    let n = c.label.len().max(1) as f32;
    let class_share: Vec<f32> = hist.iter().map(|&k| (k as f32 / n * 1e4).round() / 1e4).collect();
    let counts = count(&lay);
    // Small objects are harder: the share of movable-object pixels per object shrinks with size.
    let movable: f32 = class_share[classes::PERSON as usize..classes::COUNT].iter().sum();
    let objects =
        (counts.cars + counts.trucks + counts.buses + counts.trams + counts.people + counts.cycles).max(1) as f32;
    let small = (1.0 - (movable / objects * 200.0).min(1.0)) * (objects / 20.0).min(1.0);
    let score = (0.45 * d + 0.35 * effects.hardness(&lay.look) + 0.2 * small).clamp(0.0, 1.0);
    let label = image::GrayImage::from_raw(spec.width, spec.height, c.label).expect("buffer size matches");
    let info = SceneInfo {
        seed: spec.seed,
        width: spec.width,
        height: spec.height,
        difficulty: (d * 1e4).round() / 1e4,
        score: (score * 1e4).round() / 1e4,
        kind: lay.kind,
        time_of_day: lay.look.tod,
        focal_px: lay.cam.f,
        horizon_row: lay.cam.yh,
        camera_height_m: lay.cam.hc,
        effects,
        counts,
        class_share,
    };
    Scene { image, label, info }
}

fn count(lay: &Layout) -> Counts {
    let mut k = Counts::default();
    for p in &lay.things {
        match &p.thing {
            Thing::Vehicle { kind, .. } => match kind {
                VehicleKind::Car => k.cars += 1,
                VehicleKind::Truck => k.trucks += 1,
                VehicleKind::Bus => k.buses += 1,
                VehicleKind::Tram => k.trams += 1,
            },
            Thing::Person { .. } => k.people += 1,
            Thing::Cycle { rider, .. } => {
                k.cycles += 1;
                k.riders += u32::from(rider.is_some());
            }
            Thing::Tree { .. } => k.trees += 1,
            Thing::Lamp { .. } | Thing::Sign { .. } | Thing::Light { .. } => k.poles += 1,
        }
    }
    k
}

/// The seed of scene `index` of a dataset seeded with `seed` (SplitMix64), so scenes are
/// independent of how many are generated and of the thread that makes them.
pub fn scene_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
