//! The app with both demo models ready and one image's whole run fed, the ADD model in analysis
//! mode under `edm:0.3`: where the presenter's tests and its frame measurement
//! (examples/present_frames.rs) start.

use add_studio::engine::Policy;
use add_studio::eval::label::LabelMap;
use add_studio::jobs::demo::DemoSegmenter;
use add_studio::jobs::{Role, SegmentOptions, Segmenter, WorkerMsg};
use add_studio::ui::{Settings, StudioApp};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub fn app_with_run(name: &str, path: Option<PathBuf>, img: image::RgbImage, label: Option<LabelMap>) -> StudioApp {
    let mut app = StudioApp::new(Settings::default(), None, Arc::new(|| {}));
    app.gallery_mut().clear();
    let (add, full) = (DemoSegmenter::add(Duration::ZERO), DemoSegmenter::full(Duration::ZERO));
    for (role, m) in [(Role::Add, &add), (Role::Full, &full)] {
        app.apply(WorkerMsg::ModelReady { role, card: m.card().clone(), device: "demo".into(), banner: None });
    }
    let policy = Policy::Edm { threshold: 0.3 };
    app.settings_mut().policy = policy;
    let run_id = app.show_image(name.into(), path, img.clone(), label);
    let opts = SegmentOptions { policy, analysis: true, max_side: 1024 };
    for event in add.events(&img, &opts, run_id) {
        app.apply(WorkerMsg::Event { role: Role::Add, event });
    }
    let full_opts = SegmentOptions { policy: Policy::FixedExit(usize::MAX), analysis: false, max_side: 1024 };
    for event in full.events(&img, &full_opts, run_id) {
        app.apply(WorkerMsg::Event { role: Role::Full, event });
    }
    app
}
