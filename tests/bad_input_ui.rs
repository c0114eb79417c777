//! Bad input in the app, through the real worker and loaders: a bad image or model file ends
//! as a message on screen that names it, and a model that panics is reported while the worker
//! carries on.

mod support;

use add_studio::jobs::{ModelSpec, Role, Worker};
use add_studio::ui::StudioApp;
use add_studio::ui::settings::Settings;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn app() -> Harness<'static, StudioApp> {
    let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
    let spec = ModelSpec { device: "cpu".into(), ..Default::default() };
    let worker = Worker::spawn(add_studio::jobs::models::loader(false), spec, None, repaint.clone());
    let app = StudioApp::new(Settings::default(), Some(worker), repaint);
    // the worker's messages arrive on their own schedule and each asks for a repaint, so a
    // frame may need a few more steps to settle than kittest's default of 4
    Harness::builder()
        .with_size([1280.0, 820.0])
        .with_max_steps(32)
        .build_ui_state(|ui, app: &mut StudioApp| app.ui(ui), app)
}

/// Steps the app until an error message names `file` (or 30 s pass); returns its text.
fn error_about(h: &mut Harness<'_, StudioApp>, file: &str) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        h.step();
        if let Some(m) = h.state().messages().iter().find(|m| m.error && m.text.contains(file)) {
            let text = m.text.clone();
            h.run();
            assert!(h.query_all_by_label_contains(file).next().is_some(), "the message is on screen: {text}");
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "no error message about {file}; messages: {:?}",
        h.state().messages().iter().map(|m| &m.text).collect::<Vec<_>>()
    );
}

#[test]
fn bad_images_and_models_become_messages_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let images = support::images::corpus(&dir.path().join("images"));
    let weights = support::checkpoints::corpus(&dir.path().join("weights"));
    let mut h = app();
    let pick = |c: &support::Corpus, name: &str| c.cases.iter().find(|k| k.name() == name).unwrap().path.clone();
    for (name, words) in
        [("png_half.png", "corrupt or truncated"), ("bomb.png", "refused"), ("jpg_noise.jpg", "not a recognised")]
    {
        h.state_mut().open_path(pick(&images, name));
        let m = error_about(&mut h, name);
        assert!(m.contains(words), "{m}");
    }
    for (name, words) in
        [("evil_reduce.pth", "`posix.system`"), ("header_2e60.safetensors", "header"), ("shape_lie.pth", "needs more")]
    {
        let p = if name == "evil_reduce.pth" { support::fixture(name) } else { pick(&weights, name) };
        h.state_mut().load_model(Role::Add, p);
        let m = error_about(&mut h, name);
        assert!(m.contains("failed to load") && m.contains(words), "{m}");
    }
}

#[test]
fn a_bomb_under_the_old_app_limits_is_refused_before_decoding() {
    // 15000 x 15000 passed the app's former 20000 px limit and would have taken 675 MB
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big_claim.png");
    let one = image::DynamicImage::ImageRgb8(image::RgbImage::new(1, 1));
    let mut png = support::images::encode(&one, image::ImageFormat::Png);
    support::images::set_png_size(&mut png, 15_000, 15_000);
    std::fs::write(&p, png).unwrap();
    let mut h = app();
    h.state_mut().open_path(p);
    let m = error_about(&mut h, "big_claim.png");
    assert!(m.contains("15000x15000") && m.contains("refused"), "{m}");
}

/// A model that panics on every run.
struct Panicky(add_studio::jobs::demo::DemoSegmenter);

impl add_studio::jobs::Segmenter for Panicky {
    fn card(&self) -> &add_studio::network::ArchCard {
        self.0.card()
    }
    fn device_name(&self) -> String {
        "panicky".into()
    }
    fn run(
        &self,
        _: &image::RgbImage,
        _: &add_studio::jobs::SegmentOptions,
        _: u64,
        _: &std::sync::atomic::AtomicBool,
        _: &mut dyn FnMut(add_studio::engine::RunEvent),
    ) -> anyhow::Result<()> {
        panic!("kernel exploded")
    }
}

#[test]
fn a_model_panic_is_a_message_and_the_model_is_loaded_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let loads = Arc::new(AtomicUsize::new(0));
    let l = loads.clone();
    let loader: add_studio::jobs::Loader = Arc::new(move |_, _| {
        l.fetch_add(1, Ordering::SeqCst);
        let segmenter = Box::new(Panicky(add_studio::jobs::demo::DemoSegmenter::add(Duration::ZERO)));
        Ok(Some(add_studio::jobs::Loaded { segmenter, banner: None }))
    });
    let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
    let worker = Worker::spawn(loader, ModelSpec::default(), None, repaint.clone());
    let app = StudioApp::new(Settings::default(), Some(worker), repaint);
    let mut h = Harness::builder().with_size([1280.0, 820.0]).build_ui_state(|ui, app: &mut StudioApp| app.ui(ui), app);
    let (img, _) = add_studio::jobs::demo::street_scene(128, 64);
    h.state_mut().show_image("street.png".into(), None, img, None);
    let m = error_about(&mut h, "kernel exploded");
    assert!(m.contains("panicked"), "{m}");
    let start = Instant::now();
    while loads.load(Ordering::SeqCst) < 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "the model was not loaded again");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}
