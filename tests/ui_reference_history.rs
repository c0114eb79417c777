//! A reference search experiment folder opened in the app (through the Plots tab's open path,
//! as `add app --search-history DIR` opens it): the Plots tab shows its epochs, paths and
//! mIoU, and the network view draws its beta as edge width. kittest through the real UI.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use add_studio::jobs::demo::DemoSegmenter;
use add_studio::jobs::{Role, Segmenter, WorkerMsg};
use add_studio::ui::StudioApp;
use add_studio::ui::network_view::diagram::{Palette, Prim};
use add_studio::ui::network_view::{self, trellis};
use add_studio::ui::settings::Settings;
use add_studio::ui::view_state::Tab;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn experiment() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference_search/experiment")
}

/// The app with the demo model, the reference experiment opened and arrived.
fn opened(tab: Tab) -> Harness<'static, StudioApp> {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    app.gallery_mut().clear();
    let add = DemoSegmenter::add(Duration::ZERO);
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card: add.card().clone(), device: "demo".into(), banner: None });
    app.view_mut().tab = tab;
    app.open_history(experiment());
    let mut h =
        Harness::builder().with_size([1400.0, 1400.0]).build_ui_state(|ui, app: &mut StudioApp| app.ui(ui), app);
    for _ in 0..500 {
        h.step();
        if h.state().extras().history.is_some() {
            h.run();
            return h;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the history never arrived");
}

#[test]
fn the_plots_tab_shows_the_imported_history() {
    let h = opened(Tab::Plots);
    assert!(h.query_by_label_contains("Imported from the reference search").is_some());
    assert!(h.query_by_label_contains("path in 3 of 4 epochs").is_some());
    assert!(h.query_by_label_contains("4 epochs; final path [1, 2, 2, 2, 2, 1, 1, 2, 2, 1, 2, 3]").is_some());
    let app = h.state();
    let hist = app.extras().history.clone().unwrap();
    let miou = add_studio::ui::plots::search::miou_points(&hist, app.extras().reference.as_ref().unwrap());
    let want: Vec<f64> = app.extras().reference.as_ref().unwrap().epochs.iter().map(|e| e.miou.unwrap()).collect();
    assert_eq!(miou.iter().map(|p| p[1]).collect::<Vec<_>>(), want);
    assert_eq!(miou.iter().map(|p| p[0]).collect::<Vec<_>>(), vec![1.0, 2.0, 3.0, 4.0]);
    // one line per cell of the beta plot
    assert_eq!(add_studio::ui::plots::search::path_weights(&hist).len(), 12);
}

#[test]
fn the_network_view_draws_beta_as_edge_width() {
    let h = opened(Tab::Network);
    assert!(h.query_by_label("Beta as edge width").is_some());
    let app = h.state();
    let beta = app.network().beta(app.extras().history.as_deref()).expect("beta shown once a history arrives");
    assert_eq!(beta, app.extras().history.as_ref().unwrap().epochs[3].weights, "the last epoch's");
    let card = app.ctx().card();
    let run = network_view::run_state(&app.ctx());
    let pal = Palette::from_visuals(&eframe::egui::Visuals::dark());
    let opts = trellis::TrellisOpts { beta: Some(beta), ..Default::default() };
    let (d, _) = trellis::build(&card, &run, &opts, 1000.0, &pal);
    let widths: Vec<f32> =
        d.prims.iter().filter_map(|p| if let Prim::Line { width, .. } = p { Some(*width) } else { None }).collect();
    // the thickest edge is the strongest weight: 0.6 + 7 w
    let strongest = beta.iter().flatten().flatten().fold(0f32, |a, &b| a.max(b));
    let thickest = widths.iter().fold(0f32, |a, &b| a.max(b));
    assert!(thickest >= 0.6 + 7.0 * strongest - 1e-4, "{thickest} vs {strongest}");
    let plain = trellis::build(&card, &run, &trellis::TrellisOpts::default(), 1000.0, &pal).0;
    assert_ne!(format!("{:?}", plain.prims), format!("{:?}", d.prims), "beta changes the drawing");
}

#[test]
fn a_model_without_history_keeps_the_opened_one() {
    let mut h = opened(Tab::Plots);
    let x = add_studio::ui::extras::read_extras(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").as_path());
    h.state_mut().merge_extras(x);
    h.run();
    assert!(h.state().extras().history.is_some() && h.state().extras().reference.is_some());
    assert!(h.query_by_label_contains("Imported from the reference search").is_some());
}
