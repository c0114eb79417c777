//! Behaviour of the inspector, driven through the real UI with kittest: open an image, watch
//! exits stream in, select exits, move the policy threshold (the decision changes without a
//! rerun), hover a pixel, drop a bad file. Events are fed directly from the demo segmenter.

use add_studio::engine::{Policy, RunEvent};
use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::{Role, SegmentOptions, Segmenter, WorkerMsg};
use add_studio::ui::StudioApp;
use add_studio::ui::settings::{Overlay, Settings};
use add_studio::ui::view_state::Selection;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::Duration;

fn app_with_models(with_full: bool) -> StudioApp {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    let add = DemoSegmenter::add(Duration::ZERO);
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card: add.card().clone(), device: "test".into(), banner: None });
    if with_full {
        let full = DemoSegmenter::full(Duration::ZERO);
        app.apply(WorkerMsg::ModelReady {
            role: Role::Full,
            card: full.card().clone(),
            device: "test".into(),
            banner: None,
        });
    }
    app
}

/// Opens the street scene and returns the run id and every event of its run.
fn open_scene(app: &mut StudioApp, policy: Policy, analysis: bool) -> (u64, Vec<RunEvent>, Vec<RunEvent>) {
    app.settings_mut().policy = policy;
    let (img, label) = street_scene(256, 128);
    let run_id = app.show_image("street.png".into(), None, img.clone(), Some(label));
    let opts = SegmentOptions { policy, analysis, max_side: 1024 };
    let add = DemoSegmenter::add(Duration::ZERO).events(&img, &opts, run_id);
    let full_opts = SegmentOptions { policy: Policy::FixedExit(usize::MAX), analysis: false, max_side: 1024 };
    let full = DemoSegmenter::full(Duration::ZERO).events(&img, &full_opts, run_id);
    (run_id, add, full)
}

fn harness(app: StudioApp) -> Harness<'static, StudioApp> {
    Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, app: &mut StudioApp| app.ui(ui), app)
}

fn feed(h: &mut Harness<'_, StudioApp>, role: Role, events: impl IntoIterator<Item = RunEvent>) {
    for event in events {
        h.state_mut().apply(WorkerMsg::Event { role, event });
    }
}

/// Points at the widget first, as a real pointer would, then clicks it.
fn click(h: &mut Harness<'_, StudioApp>, label: &str) {
    h.get_by_label(label).hover();
    h.run();
    h.get_by_label(label).click();
    h.run();
}

#[test]
fn exits_appear_as_they_stream_in() {
    let mut app = app_with_models(true);
    let (_, add, full) = open_scene(&mut app, Policy::Edm { threshold: 0.0 }, true);
    let mut h = harness(app);
    h.run();
    // Feed up to and including the first exit only.
    let first_exit = add.iter().position(|e| matches!(e, RunEvent::Exit(_))).unwrap();
    feed(&mut h, Role::Add, add[..=first_exit].iter().cloned());
    h.run();
    assert!(h.query_by_label("Exit 1 mask").is_some(), "exit 1 thumbnail shown once computed");
    assert!(h.query_by_label("Exit 2 mask").is_none(), "exit 2 not shown before it is computed");
    assert_eq!(h.state().shown_exit(), Some(0), "the view follows the newest exit while running");
    feed(&mut h, Role::Add, add[first_exit + 1..].iter().cloned());
    feed(&mut h, Role::Full, full);
    h.run();
    assert!(h.query_by_label("Exit 3 mask").is_some());
    assert!(h.query_by_label("Full Auto-DeepLab mask").is_some());
    assert!(h.state().results().unwrap().is_done());
}

#[test]
fn policy_threshold_changes_decision_without_rerun() {
    let mut app = app_with_models(false);
    let (run_id, add, _) = open_scene(&mut app, Policy::Edm { threshold: 0.3 }, true);
    let mut h = harness(app);
    feed(&mut h, Role::Add, add);
    h.run();
    let scores: Vec<f32> = {
        let r = h.state().results().unwrap();
        (0..2).map(|k| r.add.exit(k).unwrap().edm_score.unwrap()).collect()
    };
    // A threshold above exit 1's score stops there; one below every score goes to the end.
    h.state_mut().settings_mut().policy = Policy::Edm { threshold: scores[0] + 0.01 };
    h.run();
    assert!(h.query_by_label("Decision: exit 1 (cell 3)").is_some());
    let low = scores.iter().cloned().fold(f32::MAX, f32::min) - 0.01;
    // Move the slider itself, as a user would.
    h.get_by_role_and_label(eframe::egui::Role::Slider, "Threshold").set_value_accesskit(low as f64);
    h.run();
    let p = h.state().settings().policy;
    assert!(matches!(p, Policy::Edm { threshold } if (threshold - low).abs() < 0.01), "slider moved the policy: {p:?}");
    assert!(h.query_by_label("Decision: exit 3 (cell 11)").is_some(), "decision moved to the last exit");
    let r = h.state().results().unwrap();
    assert_eq!(r.add.run_id, run_id, "no rerun happened");
}

#[test]
fn opacity_is_a_tint_not_a_reupload() {
    let mut app = app_with_models(true);
    let (_, add, full) = open_scene(&mut app, Policy::Edm { threshold: 0.3 }, true);
    let mut h = harness(app);
    feed(&mut h, Role::Add, add);
    feed(&mut h, Role::Full, full);
    h.run();
    let before = h.state().texture_uploads();
    for opacity in [0.2, 0.9, 0.45] {
        h.state_mut().settings_mut().opacity = opacity;
        h.run();
    }
    assert_eq!(h.state().texture_uploads(), before, "opacity is a tint: no upload");
    // Changing what is shown updates the existing overlay texture in place.
    h.state_mut().settings_mut().overlay = Overlay::Confidence;
    h.run();
    let after = h.state().texture_uploads();
    assert_eq!(after, (before.0, before.1 + 1), "one texture updated in place, none created");
}

#[test]
fn skipped_exits_are_marked_not_computed_with_a_compute_button() {
    let mut app = app_with_models(false);
    // EDM threshold 1.0: the run stops at exit 1 and never computes the others.
    let (_, add, _) = open_scene(&mut app, Policy::Edm { threshold: 1.0 }, false);
    let mut h = harness(app);
    feed(&mut h, Role::Add, add);
    h.run();
    assert!(h.query_by_label("Exit 1 mask").is_some());
    assert!(h.query_by_label("Compute exit 2").is_some());
    let before = h.state().results().unwrap().add.run_id;
    click(&mut h, "Compute exit 2");
    let r = h.state().results().unwrap();
    assert_ne!(r.add.run_id, before, "compute starts an analysis rerun");
}

#[test]
fn select_exit_by_click_and_keys() {
    let mut app = app_with_models(true);
    let (_, add, full) = open_scene(&mut app, Policy::Edm { threshold: 0.3 }, true);
    let mut h = harness(app);
    feed(&mut h, Role::Add, add);
    feed(&mut h, Role::Full, full);
    h.run();
    click(&mut h, "Exit 2 mask");
    assert_eq!(h.state().view().selection, Selection::Exit(1));
    h.key_press(eframe::egui::Key::Num3);
    h.run();
    assert_eq!(h.state().view().selection, Selection::Exit(2));
    assert_eq!(h.state().shown_exit(), Some(2));
    h.key_press(eframe::egui::Key::F);
    h.run();
    assert_eq!(h.state().settings().overlay, Overlay::Full);
    h.key_press(eframe::egui::Key::C);
    h.run();
    assert_eq!(h.state().settings().overlay, Overlay::Confidence);
    h.key_press(eframe::egui::Key::S);
    h.run();
    assert!(h.state().settings().compare);
    assert!(h.query_by_label_contains("B: full Auto-DeepLab").is_some(), "compare shows the full model as B");
    h.key_press(eframe::egui::Key::B);
    h.run();
    assert!(h.state().view().flip);
}

#[test]
fn hover_reads_every_exit_at_the_pixel() {
    let mut app = app_with_models(true);
    let (_, add, full) = open_scene(&mut app, Policy::Edm { threshold: 0.3 }, true);
    let mut h = harness(app);
    feed(&mut h, Role::Add, add);
    feed(&mut h, Role::Full, full);
    h.run();
    let pane = h.get_by_label_contains("A: exit").rect();
    h.hover_at(pane.center());
    h.run();
    let (x, y) = h.state().view().hover.expect("a pixel under the pointer");
    assert!((100..156).contains(&x) && (40..88).contains(&y), "centre of the image: {x},{y}");
    assert!(h.query_by_label(&format!("x {x}, y {y}")).is_some());
    for row in ["label", "exit 1", "exit 2", "exit 3", "full"] {
        assert!(h.query_by_label(row).is_some(), "read-out row {row}");
    }
}

/// A file dropped on the window.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl eframe::egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_bad_dropped_file_gives_a_message_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nthis is not really a png").unwrap();
    let app = app_with_models(false);
    let mut h = harness(app);
    // Dropped on the window, as a user would.
    h.input_mut().dropped_files.push(Arc::new(Dropped(bad.clone())));
    for _ in 0..200 {
        h.step();
        if h.state().messages().iter().any(|m| m.error) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run();
    let m = h.state().messages().iter().find(|m| m.error).expect("an error message");
    assert!(m.text.contains("broken.png"), "{}", m.text);
    assert!(h.query_by_label_contains("broken.png").is_some(), "the message is on screen");
    assert!(h.state().results().is_none());
}

#[test]
fn export_writes_view_masks_and_stats() {
    let mut app = app_with_models(true);
    let (_, add, full) = open_scene(&mut app, Policy::Edm { threshold: 0.3 }, true);
    for e in add {
        app.apply(WorkerMsg::Event { role: Role::Add, event: e });
    }
    for e in full {
        app.apply(WorkerMsg::Event { role: Role::Full, event: e });
    }
    let dir = tempfile::tempdir().unwrap();
    let job = add_studio::ui::export::job(&app.ctx()).unwrap();
    let files = add_studio::ui::export::write(dir.path(), &job).unwrap();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into()).collect();
    for n in [
        "street_view.png",
        "street_exit1_mask.png",
        "street_exit3_classes.png",
        "street_full_mask.png",
        "street_stats.json",
    ] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    let view = image::open(dir.path().join("street_view.png")).unwrap();
    assert_eq!((view.width(), view.height()), (256, 128), "composite at image resolution");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("street_stats.json")).unwrap()).unwrap();
    assert_eq!(stats["add"]["exits"].as_array().unwrap().len(), 3);
    assert!(stats["add"]["exits"][0]["miou_vs_label"].as_f64().unwrap() > 0.0);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
    );
}

#[test]
fn settings_survive_a_round_trip() {
    let mut s = Settings::default();
    s.overlay = Overlay::DiffLabel;
    s.policy = Policy::Entropy { threshold: 0.2 };
    s.set_hidden(3, true);
    s.push_recent("a.png".into());
    let text = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Settings>(&text).unwrap(), s);
    // Old or partial settings still load.
    assert_eq!(serde_json::from_str::<Settings>("{\"opacity\":0.2}").unwrap().opacity, 0.2);
}

#[test]
fn the_app_opens_on_the_cards_accurate_preset_until_the_user_sets_a_policy() {
    let app = app_with_models(false);
    assert_eq!(app.settings().policy, Policy::Edm { threshold: 0.12 }, "the demo card's accurate preset");
    let mut h = harness(app);
    h.run();
    // the fast preset, clicked: followed on the next model too
    h.get_by_label("fast").click();
    h.run();
    assert_eq!(h.state().settings().policy, Policy::Edm { threshold: 0.35 });
    assert_eq!(h.state().settings().preset.as_deref(), Some("fast"));
    let mut card = DemoSegmenter::add(Duration::ZERO).card().clone();
    card.presets.get_mut("fast").unwrap().policy = "edm:0.4".into();
    let ready = |card| WorkerMsg::ModelReady { role: Role::Add, card, device: "test".into(), banner: None };
    h.state_mut().apply(ready(card.clone()));
    assert_eq!(h.state().settings().policy, Policy::Edm { threshold: 0.4 });
    // moving the slider by hand ends following presets: a new model keeps the user's policy
    h.get_by_role_and_label(eframe::egui::Role::Slider, "Threshold").set_value_accesskit(0.5);
    h.run();
    assert_eq!(h.state().settings().preset, None);
    h.state_mut().apply(ready(card));
    assert!(matches!(h.state().settings().policy, Policy::Edm { threshold } if (threshold - 0.5).abs() < 0.01));
}

#[test]
fn the_policy_argument_names_a_preset_or_a_policy() {
    let mut s = Settings::default();
    add_studio::ui::apply_policy_arg(&mut s, "fast").unwrap();
    assert_eq!(s.preset.as_deref(), Some("fast"));
    add_studio::ui::apply_policy_arg(&mut s, "entropy:0.2").unwrap();
    assert_eq!((s.policy, s.preset.clone()), (Policy::Entropy { threshold: 0.2 }, None));
    let e = add_studio::ui::apply_policy_arg(&mut s, "quick").unwrap_err().to_string();
    assert!(e.contains("--policy quick"), "{e}");
}

#[test]
fn showing_the_panel_keeps_a_preset_threshold_of_many_decimals() {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    let mut card = DemoSegmenter::add(Duration::ZERO).card().clone();
    card.presets.get_mut("accurate").unwrap().policy = "edm:0.35726553".into();
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card, device: "test".into(), banner: None });
    let mut h = harness(app);
    h.run();
    assert_eq!(h.state().settings().policy, Policy::Edm { threshold: 0.357_265_53 });
    assert_eq!(h.state().settings().preset.as_deref(), Some("accurate"));
}

/// The Export menu's annotation formats write the mask on screen: the COCO segments decode back
/// to the shown exit's classes (unsure pixels left out), CVAT and Cityscapes files appear.
#[test]
fn the_shown_mask_exports_for_annotation_tools() {
    use add_studio::export::{ExportFormat, rle};
    use add_studio::ui::export_masks;
    let mut app = app_with_models(false);
    let (_, add, _) = open_scene(&mut app, Policy::Edm { threshold: 0.3 }, true);
    for e in add {
        app.apply(WorkerMsg::Event { role: Role::Add, event: e });
    }
    app.view_mut().selection = add_studio::ui::view_state::Selection::Exit(1);
    let job = export_masks::job(&app.ctx(), Some(0.5)).expect("exit 2 was computed");
    assert_eq!(job.source, "exit 2");
    let shown = app.results().unwrap().add.maps(1).unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let coco = export_masks::write(dir.path(), ExportFormat::Coco, &job).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&coco).unwrap()).unwrap();
    let (w, h) = (shown.width, shown.height);
    let mut back = vec![255u8; w * h];
    for a in v["annotations"].as_array().unwrap() {
        let counts = rle::string_to_counts(a["segmentation"]["counts"].as_str().unwrap()).unwrap();
        let class = a["category_id"].as_u64().unwrap() as u8 - 1; // COCO counts categories from 1
        for (p, on) in back.iter_mut().zip(rle::decode_counts(&counts, w, h).unwrap()) {
            if on {
                *p = class;
            }
        }
    }
    let want: Vec<u8> =
        shown.classes.iter().zip(&shown.max_prob).map(|(&c, &q)| if q < 0.5 { 255 } else { c }).collect();
    assert!(want.contains(&255) && want.iter().any(|&c| c != 255), "the demo has sure and unsure pixels");
    assert_eq!(back, want, "COCO holds the shown mask, unsure pixels unlabelled");
    let zip = export_masks::write(dir.path(), ExportFormat::Cvat, &job).unwrap();
    assert!(zip.ends_with("masks_cvat.zip") && zip.is_file());
    let city = export_masks::write(dir.path(), ExportFormat::Cityscapes, &job).unwrap();
    assert!(city.join("street_gtFine_labelTrainIds.png").is_file(), "{}", city.display());
}
