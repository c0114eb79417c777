//! The network view, driven through the real UI with kittest: the trellis shows what the image
//! did (executed, skipped, exit taken), clicking a cell opens its properties and DAG, hovering
//! shows them in a tooltip, and the diagrams export as SVG. Snapshots of the trellis and of the
//! cell DAG live in tests/snapshots/ (refresh with UPDATE_SNAPSHOTS=1).

use add_studio::engine::Policy;
use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::{Role, SegmentOptions, Segmenter, WorkerMsg};
use add_studio::ui::StudioApp;
use add_studio::ui::network_view::diagram::{Palette, Prim};
use add_studio::ui::network_view::trellis::{self, DenseMode, TrellisOpts};
use add_studio::ui::network_view::{self, svg_export};
use add_studio::ui::settings::Settings;
use add_studio::ui::view_state::Tab;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::Duration;

/// The app with the demo ADD model and the street scene run under `policy`; `upto` events fed.
fn scene(policy: Policy, analysis: bool, upto: Option<usize>) -> StudioApp {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    app.gallery_mut().clear();
    let add = DemoSegmenter::add(Duration::ZERO);
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card: add.card().clone(), device: "demo".into(), banner: None });
    app.settings_mut().policy = policy;
    let (img, label) = street_scene(512, 256);
    let run_id = app.show_image("street.png".into(), None, img.clone(), Some(label));
    let events = add.events(&img, &SegmentOptions { policy, analysis, max_side: 1024 }, run_id);
    let n = upto.unwrap_or(events.len());
    for event in events.into_iter().take(n) {
        app.apply(WorkerMsg::Event { role: Role::Add, event });
    }
    app.view_mut().tab = Tab::Network;
    app
}

fn harness(app: StudioApp) -> Harness<'static, StudioApp> {
    Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, app: &mut StudioApp| app.ui(ui), app)
}

/// Steps until the parameter summary (computed on a helper thread) has arrived.
fn wait_for_summary(h: &mut Harness<'_, StudioApp>) {
    for _ in 0..500 {
        h.step();
        if h.state().network().summary.is_some() {
            h.run();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the summary never arrived");
}

#[test]
fn click_a_cell_shows_its_properties_and_dag() {
    let mut h = harness(scene(Policy::Edm { threshold: 0.3 }, true, None));
    h.run();
    wait_for_summary(&mut h);
    assert!(h.query_by_label("Cell 0 of 12").is_none(), "no properties before a click");
    h.get_by_label("Cell 5").click();
    h.run();
    assert_eq!(h.state().network().selected, Some(5));
    // add-3 path [1,2,3,2,2,3,...]: cell 5 is at level 3, stride 32, B=5 blocks of F*8 = 64.
    assert!(h.query_by_label("5 of 12").is_some());
    assert!(h.query_by_label("3 (stride 32)").is_some());
    assert!(h.query_by_label("320 out = 5 blocks x 64").is_some());
    let summary = h.state().network().summary.clone().unwrap();
    let params = network_view::properties::si(summary.cell_params[5] as f64);
    assert!(summary.cell_params[5] > 0);
    assert!(h.query_by_label(&params).is_some(), "params {params} shown");
    let ms = h.state().results().unwrap().add.cells[5].cell_ms;
    assert!(h.query_by_label(&format!("{ms:.2} ms")).is_some(), "this image's time of the cell");
    assert!(h.query_by_label_contains("dense: cells 0, 1, 2, 3 fused").is_some(), "its dense inputs");
    // Clicking again closes it.
    h.get_by_label("Cell 5").click();
    h.run();
    assert_eq!(h.state().network().selected, None);
}

#[test]
fn hover_shows_the_properties_in_a_tooltip() {
    let mut h = harness(scene(Policy::Edm { threshold: 0.3 }, true, None));
    h.run();
    wait_for_summary(&mut h);
    h.get_by_label("Cell 2").hover();
    h.run();
    assert!(h.query_by_label_contains("cell 1 via FactorizedReduce").is_some(), "tooltip: h1 of cell 2");
    assert_eq!(h.state().network().selected, None, "hover selects nothing");
}

#[test]
fn keyboard_reaches_the_cells() {
    let mut h = harness(scene(Policy::Edm { threshold: 0.3 }, true, None));
    h.run();
    h.get_by_label("Cell 7").focus();
    h.run();
    h.key_press(eframe::egui::Key::Enter);
    h.run();
    assert_eq!(h.state().network().selected, Some(7));
    h.key_press(eframe::egui::Key::I);
    h.run();
    assert_eq!(h.state().view().tab, Tab::Inspector, "key I goes back to the inspector");
}

#[test]
fn the_trellis_shows_executed_skipped_and_the_exit_taken() {
    // EDM threshold 1.0 stops at exit 1 (cell 3): cells 4..11 never run.
    let app = scene(Policy::Edm { threshold: 1.0 }, false, None);
    let run = network_view::run_state(&app.ctx());
    assert!(run.finished);
    assert_eq!(run.exit_taken, Some(0));
    assert!(run.cell_ms[..=3].iter().all(|t| t.is_some()) && run.cell_ms[4..].iter().all(|t| t.is_none()));
    let card = app.ctx().card();
    let pal = Palette::from_visuals(&eframe::egui::Visuals::dark());
    let (d, hits) = trellis::build(&card, &run, &TrellisOpts::default(), 1000.0, &pal);
    assert_eq!(hits.len(), 12);
    let fill_of = |i: usize| {
        let r = trellis::cell_rect(&card, i, 1000.0);
        d.prims.iter().rev().find_map(|p| match p {
            Prim::Rect { rect, fill, .. } if *rect == r => Some(*fill),
            _ => None,
        })
    };
    assert_eq!(fill_of(11), Some(pal.skipped), "a skipped cell is grey");
    assert_ne!(fill_of(2), Some(pal.skipped), "an executed cell is coloured by its time");
    let lit = trellis::cell_rect(&card, 3, 1000.0).expand(5.0);
    assert!(
        d.prims.iter().any(|p| matches!(p, Prim::Rect { rect, fill, .. } if *rect == lit && *fill == pal.exit_taken)),
        "the exit taken is lit"
    );
    // While running, only the cells done so far are coloured.
    let first_cells = 1 + 3; // Started + three CellDone
    let partial = network_view::run_state(&scene(Policy::Edm { threshold: 0.3 }, true, Some(first_cells)).ctx());
    assert!(!partial.finished);
    assert_eq!(partial.cell_ms.iter().filter(|t| t.is_some()).count(), 3);
    // Dense connections on demand: cell 6 fuses cells 0..=4.
    let opts = TrellisOpts { dense: DenseMode::Selected, selected: Some(6), ..Default::default() };
    let (d, _) = trellis::build(&card, &run, &opts, 1000.0, &pal);
    assert_eq!(d.prims.iter().filter(|p| matches!(p, Prim::Curve { .. })).count(), 5);
    let svg = svg_export::to_svg(&d);
    assert_eq!(svg.matches("<path").count(), 5);
    for i in 0..12 {
        assert!(svg.contains(&format!(">{i}</text>")), "cell {i} labelled in the SVG");
    }
}

#[test]
fn png_crop_takes_the_diagram_region() {
    use eframe::egui::{Color32, ColorImage, Rect, pos2};
    let mut img = ColorImage::filled([40, 20], Color32::BLACK);
    img.pixels[5 * 40 + 10] = Color32::RED;
    // 2 pixels per point: points (5, 2.5)..(10, 5) are pixels (10, 5)..(20, 10).
    let bytes = network_view::crop_png(&img, Rect::from_min_max(pos2(5.0, 2.5), pos2(10.0, 5.0)), 2.0).unwrap();
    let png = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(png.dimensions(), (10, 5));
    assert_eq!(png.get_pixel(0, 0).0, [255, 0, 0, 255]);
    assert!(network_view::crop_png(&img, Rect::from_min_max(pos2(50.0, 50.0), pos2(60.0, 60.0)), 1.0).is_err());
}

fn snap(app: StudioApp, name: &str, prepare: impl FnOnce(&mut Harness<'_, StudioApp>)) {
    let mut h = harness(app);
    h.run();
    wait_for_summary(&mut h);
    prepare(&mut h);
    h.run();
    // no pixel allowance: reruns on the CI machine render identically (4 runs measured)
    h.snapshot_options(name, &egui_kittest::SnapshotOptions::new().max_failed_pixels(0));
}

#[test]
fn snapshot_trellis_with_dense_connections() {
    let mut app = scene(Policy::Edm { threshold: 0.12 }, false, None);
    app.network_mut().dense = DenseMode::All;
    snap(app, "ui_network_trellis", |_| {});
}

#[test]
fn snapshot_cell_dag() {
    let app = scene(Policy::Edm { threshold: 0.3 }, true, None);
    snap(app, "ui_network_cell_dag", |h| {
        h.get_by_label("Cell 6").click();
        h.run();
    });
}

#[test]
fn snapshot_network_while_running() {
    // Part-way through: the first five cells lit, the rest waiting.
    let app = scene(Policy::Edm { threshold: 0.3 }, true, Some(7));
    snap(app, "ui_network_running", |_| {});
}
