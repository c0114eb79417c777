//! The worker thread: events stream back in order while the UI thread only polls; a new
//! request cancels the running one; a panic inside a model is reported and the worker carries
//! on with freshly loaded models; a model that fails to load is a message, not a crash.

use add_studio::engine::{Policy, RunEvent};
use add_studio::jobs::demo::{DemoSegmenter, street_scene};
use add_studio::jobs::{Loaded, Loader, ModelSpec, Role, SegmentOptions, Segmenter, Worker, WorkerMsg};
use add_studio::network::ArchCard;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn opts() -> SegmentOptions {
    SegmentOptions { policy: Policy::Edm { threshold: 0.3 }, analysis: true, max_side: 1024 }
}

/// Polls until `done` says so (or 20 s pass), returning every message seen.
fn poll_until(w: &mut Worker, done: impl Fn(&[WorkerMsg]) -> bool) -> Vec<WorkerMsg> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        seen.extend(w.poll());
        if done(&seen) {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("timed out; saw {} messages", seen.len());
}

fn finished(run: u64) -> impl Fn(&[WorkerMsg]) -> bool {
    move |m| {
        m.iter().any(|m| matches!(m, WorkerMsg::Event { role: Role::Add, event: RunEvent::Finished { run_id, .. } | RunEvent::Failed { run_id, .. } } if *run_id == run))
    }
}

fn demo_loader(delay: Duration) -> Loader {
    Arc::new(move |role, _| {
        let s: Box<dyn Segmenter> = match role {
            Role::Add => Box::new(DemoSegmenter::add(delay)),
            Role::Full => Box::new(DemoSegmenter::full(delay)),
        };
        Ok(Some(Loaded { segmenter: s, banner: None }))
    })
}

#[test]
fn streams_events_in_order_and_a_new_request_cancels() {
    let mut w = Worker::spawn(demo_loader(Duration::from_millis(20)), ModelSpec::default(), None, Arc::new(|| {}));
    let img = Arc::new(street_scene(128, 64).0);
    let first = w.run(img.clone(), opts(), false);
    // Let it start, then replace it.
    poll_until(&mut w, |m| m.iter().any(|m| matches!(m, WorkerMsg::Event { event: RunEvent::CellDone { .. }, .. })));
    let second = w.run(img, opts(), false);
    let seen = poll_until(&mut w, finished(second));
    let ids: Vec<u64> = seen
        .iter()
        .filter_map(|m| match m {
            WorkerMsg::Event { event, .. } => Some(event.run_id()),
            _ => None,
        })
        .collect();
    assert!(
        seen.iter()
            .any(|m| matches!(m, WorkerMsg::Event { event: RunEvent::Cancelled { run_id }, .. } if *run_id == first)),
        "first run cancelled"
    );
    assert!(
        !seen.iter().any(
            |m| matches!(m, WorkerMsg::Event { event: RunEvent::Finished { run_id, .. }, .. } if *run_id == first)
        ),
        "first run never finishes"
    );
    // Events of the second run come in order: Started, cells and exits, Finished.
    let second_events: Vec<&RunEvent> = seen
        .iter()
        .filter_map(|m| match m {
            WorkerMsg::Event { event, .. } if event.run_id() == second => Some(event),
            _ => None,
        })
        .collect();
    assert!(matches!(second_events.first(), Some(RunEvent::Started { .. })));
    assert!(matches!(second_events.last(), Some(RunEvent::Finished { .. })));
    let exits: Vec<usize> = second_events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Exit(r) => Some(r.exit),
            _ => None,
        })
        .collect();
    assert_eq!(exits, vec![0, 1, 2]);
    assert!(ids.contains(&second));
}

/// A model that panics on its first run and works afterwards.
struct Flaky {
    inner: DemoSegmenter,
    runs: Arc<AtomicUsize>,
}

impl Segmenter for Flaky {
    fn card(&self) -> &ArchCard {
        self.inner.card()
    }
    fn device_name(&self) -> String {
        "flaky".into()
    }
    fn run(
        &self,
        image: &image::RgbImage,
        opts: &SegmentOptions,
        run_id: u64,
        cancel: &AtomicBool,
        sink: &mut dyn FnMut(RunEvent),
    ) -> anyhow::Result<()> {
        if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("kernel exploded");
        }
        self.inner.run(image, opts, run_id, cancel, sink)
    }
}

#[test]
fn a_panic_is_reported_and_the_worker_restarts() {
    let runs = Arc::new(AtomicUsize::new(0));
    let loads = Arc::new(AtomicUsize::new(0));
    let (r2, l2) = (runs.clone(), loads.clone());
    let loader: Loader = Arc::new(move |_, _| {
        l2.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Loaded {
            segmenter: Box::new(Flaky { inner: DemoSegmenter::add(Duration::ZERO), runs: r2.clone() }),
            banner: None,
        }))
    });
    let mut w = Worker::spawn(loader, ModelSpec::default(), None, Arc::new(|| {}));
    let img = Arc::new(street_scene(64, 32).0);
    let first = w.run(img.clone(), opts(), false);
    let seen = poll_until(&mut w, |m| m.iter().any(|m| matches!(m, WorkerMsg::Restarted { .. })));
    assert!(seen.iter().any(|m| matches!(m, WorkerMsg::Event { event: RunEvent::Failed { run_id, message }, .. } if *run_id == first && message.contains("kernel exploded"))));
    assert_eq!(loads.load(Ordering::SeqCst), 2, "the model was loaded again");
    let second = w.run(img, opts(), false);
    let seen = poll_until(&mut w, finished(second));
    assert!(
        seen.iter().any(
            |m| matches!(m, WorkerMsg::Event { event: RunEvent::Finished { run_id, .. }, .. } if *run_id == second)
        )
    );
}

#[test]
fn a_model_that_fails_to_load_is_a_message() {
    let loader: Loader =
        Arc::new(|_, spec: &ModelSpec| anyhow::bail!("cannot read {:?}: truncated safetensors header", spec.model));
    let mut w = Worker::spawn(
        loader,
        ModelSpec { model: Some("bad.safetensors".into()), ..Default::default() },
        None,
        Arc::new(|| {}),
    );
    let seen = poll_until(&mut w, |m| !m.is_empty());
    assert!(matches!(&seen[0], WorkerMsg::ModelFailed { role: Role::Add, message } if message.contains("truncated")));
    // A run without a model simply produces nothing, and the worker is still alive: the next
    // request, sent after the run, is answered, and it is the only answer.
    w.run(Arc::new(street_scene(32, 16).0), opts(), false);
    w.load(Role::Add, ModelSpec { model: Some("again.safetensors".into()), ..Default::default() });
    let after = poll_until(&mut w, |m| {
        m.iter().any(|m| matches!(m, WorkerMsg::ModelFailed { message, .. } if message.contains("again")))
    });
    // (the run may be reported cancelled: a request that arrives before it starts supersedes it)
    let stray: Vec<&WorkerMsg> = after
        .iter()
        .filter(|m| {
            !matches!(
                m,
                WorkerMsg::ModelFailed { .. }
                    | WorkerMsg::ModelAbsent { .. }
                    | WorkerMsg::Event { event: RunEvent::Cancelled { .. }, .. }
            )
        })
        .collect();
    assert!(stray.is_empty(), "the run without a model answered: {stray:?}");
    assert!(
        after.iter().any(
            |m| matches!(m, WorkerMsg::ModelFailed { role: Role::Add, message } if message.contains("again.safetensors"))
        ),
        "the worker did not answer the load sent after the run: {after:?}"
    );
}

#[test]
fn the_real_engine_streams_through_the_worker() {
    // The shipped model (found from the crate when no model is given) on the CPU: checks the
    // `Segmenter` glue, not the masks.
    let shipped =
        add_studio::jobs::models::default_file(add_studio::jobs::models::DEFAULT_ADD).expect("models/ is in the repo");
    let shipped = add_studio::network::checkpoint::TensorFile::read(&shipped).unwrap().card.unwrap();
    let loader = add_studio::jobs::models::loader(false);
    let spec = ModelSpec { device: "cpu".into(), ..Default::default() };
    let mut w = Worker::spawn(loader, spec, None, Arc::new(|| {}));
    let run = w.run(Arc::new(street_scene(256, 128).0), SegmentOptions { analysis: true, ..opts() }, false);
    let seen = poll_until(&mut w, finished(run));
    let failure = seen.iter().find_map(|m| match m {
        WorkerMsg::Event { event: RunEvent::Failed { message, .. }, .. } | WorkerMsg::ModelFailed { message, .. } => {
            Some(message.clone())
        }
        _ => None,
    });
    assert_eq!(failure, None);
    let ready: Vec<_> = seen
        .iter()
        .filter_map(|m| match m {
            WorkerMsg::ModelReady { role: Role::Add, card, banner, .. } => Some((card, banner)),
            _ => None,
        })
        .collect();
    assert_eq!(ready.len(), 1, "one model loaded");
    assert_eq!(ready[0].0, &shipped, "the shipped model, not the untrained fallback");
    assert_eq!(ready[0].1, &None, "no banner for the shipped model");
    let exits = seen
        .iter()
        .filter(|m| matches!(m, WorkerMsg::Event { event: RunEvent::Exit(r), .. } if r.maps.is_some()))
        .count();
    assert!(exits >= 2, "analysis mode computes every exit ({exits})");
}
