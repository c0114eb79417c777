//! Snapshot images of each view of the inspector, rendered by kittest's wgpu renderer (llvmpipe
//! here). Create or refresh with `UPDATE_SNAPSHOTS=1`; they live in tests/snapshots/. Each one
//! was looked at: a user should recognise what the view is for.

use add_studio::engine::{Policy, RunEvent};
use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::{Role, SegmentOptions, Segmenter, WorkerMsg};
use add_studio::ui::StudioApp;
use add_studio::ui::files::Sample;
use add_studio::ui::settings::{ConfKind, Overlay, Settings};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::Duration;

const W: u32 = 512;
const H: u32 = 256;

/// The app with the demo models, the street scene open and `upto` events of the ADD run fed
/// (all when None), the full model's run fed when `with_full`.
fn scene(policy: Policy, analysis: bool, upto: Option<usize>, with_full: bool) -> StudioApp {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    app.gallery_mut().clear();
    let add = DemoSegmenter::add(Duration::ZERO);
    let full = DemoSegmenter::full(Duration::ZERO);
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card: add.card().clone(), device: "demo".into(), banner: None });
    if with_full {
        app.apply(WorkerMsg::ModelReady {
            role: Role::Full,
            card: full.card().clone(),
            device: "demo".into(),
            banner: None,
        });
    }
    app.settings_mut().policy = policy;
    let (img, label) = street_scene(W, H);
    let run_id = app.show_image("street.png".into(), None, img.clone(), Some(label));
    let events = add.events(&img, &SegmentOptions { policy, analysis, max_side: 1024 }, run_id);
    let n = upto.unwrap_or(events.len());
    for event in events.into_iter().take(n) {
        app.apply(WorkerMsg::Event { role: Role::Add, event });
    }
    if with_full {
        let opts = SegmentOptions { policy: Policy::FixedExit(usize::MAX), analysis: false, max_side: 1024 };
        for event in full.events(&img, &opts, run_id) {
            app.apply(WorkerMsg::Event { role: Role::Full, event });
        }
    }
    app
}

fn snap(app: StudioApp, name: &str, prepare: impl FnOnce(&mut Harness<'_, StudioApp>)) {
    let mut h = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, app: &mut StudioApp| app.ui(ui), app);
    h.run();
    prepare(&mut h);
    h.run();
    // llvmpipe can round a nearest-neighbour texel edge either way between runs (one pixel
    // column of the photo); a few hundred pixels of 1.26 M is that, a layout change is far more.
    // no pixel allowance: reruns on the CI machine render identically (4 runs measured)
    h.snapshot_options(name, &egui_kittest::SnapshotOptions::new().max_failed_pixels(0));
}

#[test]
fn welcome_with_gallery() {
    // A fixed two-image gallery, so the snapshot does not follow the shipped assets.
    let dir = tempfile::tempdir().unwrap();
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    *app.gallery_mut() = ["easy", "hard"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = dir.path().join(format!("{name}.png"));
            street_scene(256 + 128 * i as u32, 128).0.save(&path).unwrap();
            Sample { name: name.to_string(), path, note: Some(format!("difficulty: {i}")) }
        })
        .collect();
    app.load_gallery_thumbs();
    snap(app, "ui_welcome", |h| {
        for _ in 0..200 {
            h.step();
            if h.state().gallery_thumbs().len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(h.state().gallery_thumbs().len(), 2, "previews decoded off the UI thread");
    });
}

#[test]
fn streaming_first_exit_only() {
    // Up to the first Exit event: exit 1 is on screen, the rest still computing.
    let (img, _) = street_scene(W, H);
    let events = DemoSegmenter::add(Duration::ZERO).events(
        &img,
        &SegmentOptions { policy: Policy::Edm { threshold: 0.0 }, analysis: true, max_side: 1024 },
        1,
    );
    let first = events.iter().position(|e| matches!(e, RunEvent::Exit(_))).unwrap();
    snap(scene(Policy::Edm { threshold: 0.0 }, true, Some(first + 1), false), "ui_streaming", |_| {});
}

#[test]
fn mask_with_policy_stop() {
    // Under the policy the run stops early: later exits are "not computed".
    snap(scene(Policy::Edm { threshold: 0.5 }, false, None, true), "ui_mask_early_exit", |_| {});
}

#[test]
fn compare_side_by_side() {
    let mut app = scene(Policy::Edm { threshold: 0.3 }, true, None, true);
    app.settings_mut().compare = true;
    snap(app, "ui_compare", |_| {});
}

#[test]
fn confidence_heatmap() {
    let mut app = scene(Policy::Edm { threshold: 0.3 }, true, None, true);
    app.settings_mut().overlay = Overlay::Confidence;
    app.settings_mut().conf_kind = ConfKind::MaxProb;
    app.settings_mut().opacity = 0.85;
    snap(app, "ui_confidence", |_| {});
}

#[test]
fn edm_map_heatmap() {
    let mut app = scene(Policy::Edm { threshold: 0.3 }, true, None, true);
    app.settings_mut().overlay = Overlay::EdmMap;
    app.view_mut().selection = add_studio::ui::view_state::Selection::Exit(0);
    app.settings_mut().opacity = 0.85;
    snap(app, "ui_edm_map", |_| {});
}

#[test]
fn correct_wrong_vs_label() {
    let mut app = scene(Policy::Edm { threshold: 0.3 }, true, None, true);
    app.settings_mut().overlay = Overlay::DiffLabel;
    app.settings_mut().compare = true;
    app.view_mut().selection = add_studio::ui::view_state::Selection::Exit(0);
    snap(app, "ui_correct_wrong", |_| {});
}

#[test]
fn hover_readout_and_hidden_classes() {
    let mut app = scene(Policy::Edm { threshold: 0.3 }, true, None, true);
    app.settings_mut().set_hidden(10, true); // sky
    snap(app, "ui_hover", |h| {
        let rect = h.get_by_label("A: exit 2 (cell 7): mask").rect();
        h.hover_at(rect.center() + eframe::egui::vec2(-rect.width() * 0.2, rect.height() * 0.1));
    });
}
