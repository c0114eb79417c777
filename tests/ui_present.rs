//! Presenter mode, driven with kittest as a presenter would: F5 enters, Space steps through the
//! photo, every cell, each exit right after its cell (with the verdict in words) and the full
//! output with the time saved; Left goes back, B blanks, Esc leaves.

use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::{Role, Segmenter, WorkerMsg};
use add_studio::ui::present::{Step, steps};
use add_studio::ui::{Settings, StudioApp};
use eframe::egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::Duration;

mod demo_run;

/// The demo models with the street scene run in analysis mode under `edm:0.3`.
fn presented_app() -> StudioApp {
    let (img, label) = street_scene(256, 128);
    demo_run::app_with_run("street.png", None, img, Some(label))
}

fn key(h: &mut Harness<'_, StudioApp>, k: Key) {
    h.key_press(k);
    h.run();
}

#[test]
fn the_steps_tell_the_run_in_order() {
    let app = presented_app();
    let card = DemoSegmenter::add(Duration::ZERO).card().clone();
    let exit_cells = card.exit_cells();
    let all = steps(app.results().unwrap(), &exit_cells);
    let cells = all.iter().filter(|s| matches!(s, Step::Cell(_))).count();
    assert_eq!(cells, 12, "every cell of the path ran");
    assert_eq!(all[0], Step::Photo);
    assert_eq!(*all.last().unwrap(), Step::Full, "the full output comes last");
    for (k, &cell) in exit_cells.iter().enumerate() {
        let at = all.iter().position(|&s| s == Step::Exit(k)).unwrap_or_else(|| panic!("exit {k} in {all:?}"));
        let Step::Cell(i) = all[at - 1] else { panic!("exit {k} follows a cell: {all:?}") };
        assert_eq!(app.results().unwrap().add.cells[i].cell, cell, "exit {k} right after its cell");
    }
    assert_eq!(all.len(), 1 + 12 + exit_cells.len() + 1);
}

#[test]
fn f5_presents_space_steps_b_blanks_esc_leaves() {
    let app = presented_app();
    let mut h = Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, a: &mut StudioApp| a.ui(ui), app);
    h.run();
    key(&mut h, Key::F5);
    assert!(h.state().presenter().active, "F5 enters presenter mode");
    assert!(h.query_by_label_contains("street.png: what the network sees").is_some());
    assert!(h.query_by_label("Exit policy").is_none(), "nothing but the presentation is on screen");
    key(&mut h, Key::Space);
    assert!(h.query_by_label_contains("Cell 0 of 12").is_some(), "then the first cell, with its time");
    let n = steps(h.state().results().unwrap(), &DemoSegmenter::add(Duration::ZERO).card().exit_cells()).len();
    let mut said = Vec::new();
    for _ in 1..n - 1 {
        key(&mut h, Key::Space);
        said.extend(
            ["Exit 1: EDM", "Exit 2: EDM", "Exit 3: last exit", "Full Auto-DeepLab"]
                .into_iter()
                .filter(|t| h.query_by_label_contains(t).is_some()),
        );
    }
    assert_eq!(said, ["Exit 1: EDM", "Exit 2: EDM", "Exit 3: last exit", "Full Auto-DeepLab"], "in network order");
    assert!(h.query_by_label_contains("ms saved").is_some(), "the last step says what the early answer saved");
    key(&mut h, Key::Space);
    assert_eq!(h.state().presenter().step, n - 1, "no folder: the last step stays");
    key(&mut h, Key::ArrowLeft);
    assert_eq!(h.state().presenter().step, n - 2);
    key(&mut h, Key::B);
    assert!(h.query_by_label_contains("Exit 3").is_none(), "B blanks the screen");
    key(&mut h, Key::B);
    key(&mut h, Key::Escape);
    assert!(!h.state().presenter().active, "Esc leaves");
    assert!(h.query_by_label("Exit policy").is_some(), "the inspector is back");
}

mod browser_feed;

/// Steps frames until the image named `name` is on screen (decoded on a helper thread).
fn wait_for_image(h: &mut Harness<'_, StudioApp>, name: &str) {
    for _ in 0..500 {
        h.step();
        if h.state().results().is_some_and(|r| r.name == name) {
            h.run();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{name} never came on screen (now: {:?})", h.state().results().map(|r| r.name.clone()));
}

#[test]
fn present_rows_goes_through_the_filtered_rows_in_table_order() {
    use add_studio::ui::browser::table::SortKey;
    use add_studio::ui::view_state::Tab;
    let dir = tempfile::tempdir().unwrap();
    browser_feed::write_set(dir.path());
    for i in 0..2 {
        let (img, label) = street_scene(100, 64);
        img.save(dir.path().join(format!("other_{i}.png"))).unwrap();
        let grey = image::GrayImage::from_raw(100, 64, label.classes).unwrap();
        grey.save(dir.path().join(format!("other_{i}_label.png"))).unwrap();
    }
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    app.gallery_mut().clear();
    let card = browser_feed::card();
    app.apply(WorkerMsg::ModelReady { role: Role::Add, card, device: "demo".into(), banner: None });
    let (set, rows) = browser_feed::run_rows(dir.path());
    let job = app.dataset_mut().start(dir.path().to_path_buf(), set, 1024, false);
    for row in rows {
        app.apply(WorkerMsg::DatasetRow { job_id: job.job_id, row: Box::new(row) });
    }
    app.apply(WorkerMsg::DatasetDone { job_id: job.job_id, cancelled: false });
    app.view_mut().tab = Tab::Dataset;
    // only the scenes, names descending
    let mut h = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, a: &mut StudioApp| a.ui(ui), app);
    h.run();
    let view = &mut h.state_mut().browser_mut().view;
    view.search = "scene".into(); // not the two "other" images
    view.sort_by(SortKey::Name); // already by name: now descending
    h.run();
    let shown = h.state().browser().shown_samples(&h.state().dataset().rows);
    let rows = &h.state().dataset().rows;
    let names: Vec<String> = shown.iter().map(|&i| rows.iter().find(|r| r.index == i).unwrap().name.clone()).collect();
    assert_eq!(names, ["scene_5.png", "scene_4.png", "scene_3.png", "scene_2.png", "scene_1.png", "scene_0.png"]);
    assert_eq!(rows.len(), browser_feed::N + 2, "the two others are there, filtered out");
    let name = |i: usize| names[shown.iter().position(|&s| s == i).unwrap()].clone();
    h.get_by_label("Present rows").click();
    h.run();
    assert!(h.state().presenter().active, "Present rows enters presenter mode");
    wait_for_image(&mut h, &name(shown[0]));
    let hint = format!("image 1 of {} (the browser's rows)", shown.len());
    assert!(h.query_by_label_contains(&hint).is_some(), "the hint says where we are");
    key(&mut h, Key::Space); // without a worker the photo is the only step: on to the next row
    wait_for_image(&mut h, &name(shown[1]));
    assert!(h.state().results().unwrap().label.is_some(), "rows open with their labels");
    assert_eq!(h.state().browser().opened, Some(shown[1]));
    key(&mut h, Key::ArrowLeft);
    wait_for_image(&mut h, &name(shown[0]));
    key(&mut h, Key::ArrowLeft);
    for _ in 0..20 {
        h.step();
    }
    assert_eq!(h.state().results().unwrap().name, name(shown[0]), "the first row stays first: no wrapping");
    assert!(h.state().presenter().active);
}

#[test]
fn f5_on_an_image_of_a_folder_presents_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    for (i, w) in [(0, 120), (1, 160)] {
        street_scene(w, 64).0.save(dir.path().join(format!("shot_{i}.png"))).unwrap();
    }
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    app.gallery_mut().clear();
    app.open_path(dir.path().join("shot_0.png"));
    let mut h = Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, a: &mut StudioApp| a.ui(ui), app);
    wait_for_image(&mut h, "shot_0.png");
    key(&mut h, Key::F5);
    assert!(h.query_by_label_contains("image 1 of 2 (the folder)").is_some());
    key(&mut h, Key::Space);
    wait_for_image(&mut h, "shot_1.png");
    assert_eq!(h.state().presenter().step, 0, "the next image starts at its photo");
    assert!(h.query_by_label_contains("shot_1.png: what the network sees").is_some());
    key(&mut h, Key::Escape);
    key(&mut h, Key::ArrowRight);
    assert!(!h.state().presenter().active);
}

#[test]
fn f5_on_a_sample_presents_the_samples_not_their_folder() {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    let n = app.gallery_mut().len();
    assert!(n >= 2, "the shipped samples");
    let second = app.gallery_mut()[1].path.clone();
    app.open_path(second.clone());
    let mut h = Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, a: &mut StudioApp| a.ui(ui), app);
    wait_for_image(&mut h, &second.file_name().unwrap().to_string_lossy());
    key(&mut h, Key::F5);
    let hint = format!("image 2 of {n} (the samples)");
    assert!(h.query_by_label_contains(&hint).is_some(), "{hint}: the contact sheet beside them is no sample");
}
