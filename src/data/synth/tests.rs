//! Properties of generated scenes: determinism, exact labels, class coverage.

use super::classes::*;
use super::writer::{DatasetPlan, write_dataset};
use super::*;

fn spec(seed: u64, d: f32) -> SceneSpec {
    SceneSpec { seed, width: 192, height: 96, difficulty: d }
}

#[test]
fn same_seed_same_bytes() {
    let a = generate(&spec(42, 0.7));
    let b = generate(&spec(42, 0.7));
    assert_eq!(a.image.as_raw(), b.image.as_raw());
    assert_eq!(a.label.as_raw(), b.label.as_raw());
    let c = generate(&spec(43, 0.7));
    assert_ne!(a.image.as_raw(), c.image.as_raw());
}

#[test]
fn dataset_files_are_identical_across_runs_and_thread_counts() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (k, dir) in dirs.iter().enumerate() {
        let plan = DatasetPlan {
            out: dir.path().to_path_buf(),
            count: 6,
            width: 96,
            height: 48,
            seed: 5,
            val_fraction: 0.5,
            difficulty: (0.0, 1.0),
        };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(k + 1).build().unwrap();
        pool.install(|| write_dataset(&plan, &indicatif::ProgressBar::hidden())).unwrap();
    }
    let manifest: Vec<String> =
        std::fs::read_to_string(dirs[0].path().join("manifest.jsonl")).unwrap().lines().map(String::from).collect();
    assert_eq!(manifest.len(), 6);
    assert_eq!(
        std::fs::read(dirs[0].path().join("manifest.jsonl")).unwrap(),
        std::fs::read(dirs[1].path().join("manifest.jsonl")).unwrap()
    );
    for line in &manifest {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["image", "label"] {
            let rel = v[key].as_str().unwrap();
            let a = std::fs::read(dirs[0].path().join(rel)).unwrap();
            let b = std::fs::read(dirs[1].path().join(rel)).unwrap();
            assert!(a == b, "{rel} differs between runs");
        }
        assert!(v["label"].as_str().unwrap().ends_with("_gtFine_labelTrainIds.png"));
    }
}

#[test]
fn every_class_appears_and_labels_are_valid() {
    let mut seen = [0u32; COUNT];
    let mut road_bottom = 0;
    let n = 200;
    for i in 0..n {
        let s = generate(&SceneSpec {
            seed: scene_seed(9, i),
            width: 256,
            height: 128,
            difficulty: (i % 11) as f32 / 10.0,
        });
        let mut here = [false; COUNT];
        for (x, y, l) in s.label.enumerate_pixels() {
            let l = l[0];
            assert!(usize::from(l) < COUNT, "scene {i}: label {l} at ({x}, {y})");
            here[usize::from(l)] = true;
            if l == SKY {
                assert!((y as f32) < s.info.horizon_row + 1.0, "scene {i}: sky below the horizon at ({x}, {y})");
            }
        }
        for (k, h) in here.iter().enumerate() {
            seen[k] += u32::from(*h);
        }
        road_bottom += u32::from(s.label.get_pixel(128, 127)[0] == ROAD);
    }
    for (k, &c) in seen.iter().enumerate() {
        assert!(c > 0, "class {k} never appears in {n} scenes: {seen:?}");
    }
    // Realistic frequencies: road and building common, rider and train rare.
    assert!(seen[ROAD as usize] == n as u32 && seen[BUILDING as usize] > n as u32 * 3 / 4, "{seen:?}");
    assert!(seen[TRAIN as usize] < n as u32 / 5 && seen[RIDER as usize] < n as u32 / 2, "{seen:?}");
    assert!(road_bottom > n as u32 * 9 / 10, "the camera stands on the road: {road_bottom}/{n}");
}

#[test]
fn label_edges_are_image_edges() {
    // On easy scenes, colour changes across label boundaries are much larger than inside
    // regions; a label shifted by even one pixel would make the two means close.
    let (mut across, mut inside, mut na, mut ni) = (0f64, 0f64, 0u64, 0u64);
    let mut shifted = (0f64, 0u64);
    for seed in 0..8 {
        let s = generate(&SceneSpec { seed, width: 256, height: 128, difficulty: 0.0 });
        let (w, h) = s.label.dimensions();
        for y in 0..h {
            for x in 1..w - 1 {
                let d: f64 = (0..3)
                    .map(|c| (f64::from(s.image.get_pixel(x, y)[c]) - f64::from(s.image.get_pixel(x - 1, y)[c])).abs())
                    .sum();
                if s.label.get_pixel(x, y) != s.label.get_pixel(x - 1, y) {
                    (across, na) = (across + d, na + 1);
                } else {
                    (inside, ni) = (inside + d, ni + 1);
                }
                if s.label.get_pixel(x + 1, y) != s.label.get_pixel(x, y) {
                    shifted = (shifted.0 + d, shifted.1 + 1);
                }
            }
        }
    }
    let (a, i, sh) = (across / na as f64, inside / ni as f64, shifted.0 / shifted.1 as f64);
    assert!(a > 3.0 * i, "across {a:.1} vs inside {i:.1}");
    assert!(a > 1.5 * sh, "edges at the label boundary ({a:.1}) beat a one-pixel shift ({sh:.1})");
}

#[test]
fn colour_alone_does_not_separate_classes() {
    // For each class pair among road, building, car, sidewalk, vegetation, terrain, the colour
    // ranges overlap: some pixel of one class lies close to the mean of another.
    let mut sums = [[0f64; 4]; COUNT];
    let mut pixels: Vec<(u8, [u8; 3])> = Vec::new();
    for seed in 0..30 {
        let s = generate(&SceneSpec { seed: 1000 + seed, width: 128, height: 64, difficulty: 0.5 });
        for (p, l) in s.image.pixels().zip(s.label.pixels()) {
            let k = usize::from(l[0]);
            for c in 0..3 {
                sums[k][c] += f64::from(p[c]);
            }
            sums[k][3] += 1.0;
            pixels.push((l[0], p.0));
        }
    }
    for (a, b) in [(ROAD, CAR), (BUILDING, ROAD), (VEGETATION, TERRAIN), (SIDEWALK, BUILDING), (CAR, BUILDING)] {
        let m = &sums[usize::from(b)];
        let mean = [m[0] / m[3], m[1] / m[3], m[2] / m[3]];
        let close =
            pixels.iter().filter(|(l, p)| *l == a && (0..3).all(|c| (f64::from(p[c]) - mean[c]).abs() < 20.0)).count();
        assert!(close > 0, "no {a} pixel looks like the mean {b} colour {mean:?}");
    }
}
