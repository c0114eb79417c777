//! The worker thread: it owns the models (and so the device) and runs one image at a time,
//! streaming each event back as soon as it happens. The UI only sends requests and drains
//! replies with `try_recv`, so it never blocks on the network. A new request cancels the
//! running one (between cells); a panic inside a model is caught, reported, and the models
//! are loaded again so the next image works.

use super::dataset::{self, DatasetJob, DatasetRow};
use super::segmenter::{Loader, ModelSpec, Role, SegmentOptions, Segmenter};
use crate::engine::{Policy, RunEvent};
use crate::network::ArchCard;
use crate::network::CostTable;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Replies from the worker.
#[derive(Debug, Clone)]
pub enum WorkerMsg {
    ModelReady {
        role: Role,
        card: ArchCard,
        device: String,
        banner: Option<String>,
    },
    /// The slot holds no model (e.g. no baseline file).
    ModelAbsent {
        role: Role,
    },
    ModelFailed {
        role: Role,
        message: String,
    },
    Event {
        role: Role,
        event: RunEvent,
    },
    /// A model panicked; the worker reloaded its models.
    Restarted {
        message: String,
    },
    /// One image of a dataset run is done.
    DatasetRow {
        job_id: u64,
        row: Box<DatasetRow>,
    },
    /// One image of a dataset run failed (the run goes on).
    DatasetError {
        job_id: u64,
        index: usize,
        message: String,
    },
    /// A dataset run ended (every image done, or cancelled).
    DatasetDone {
        job_id: u64,
        cancelled: bool,
    },
}

struct RunRequest {
    run_id: u64,
    image: Arc<image::RgbImage>,
    opts: SegmentOptions,
    with_full: bool,
    cancel: Arc<AtomicBool>,
}

enum Request {
    Run(RunRequest),
    Load(Role, ModelSpec),
    Dataset(DatasetJob),
}

/// The UI's handle on the worker thread.
pub struct Worker {
    tx: Sender<Request>,
    rx: Receiver<(Instant, WorkerMsg)>,
    cancel: Arc<AtomicBool>,
    next_run_id: u64,
    loader: Loader,
    specs: [Option<ModelSpec>; 2],
    repaint: Arc<dyn Fn() + Send + Sync>,
}

impl Worker {
    /// Starts the thread and loads the models given (the baseline is optional).
    pub fn spawn(
        loader: Loader,
        add: ModelSpec,
        full: Option<ModelSpec>,
        repaint: Arc<dyn Fn() + Send + Sync>,
    ) -> Worker {
        let (tx, rx) = Self::start_thread(loader.clone(), repaint.clone());
        let mut w = Worker {
            tx,
            rx,
            cancel: Arc::new(AtomicBool::new(false)),
            next_run_id: 1,
            loader,
            specs: [None, None],
            repaint,
        };
        w.load(Role::Add, add);
        if let Some(full) = full {
            w.load(Role::Full, full);
        }
        w
    }

    fn start_thread(
        loader: Loader,
        repaint: Arc<dyn Fn() + Send + Sync>,
    ) -> (Sender<Request>, Receiver<(Instant, WorkerMsg)>) {
        let (req_tx, req_rx) = crossbeam_channel::unbounded();
        let (msg_tx, msg_rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("add-worker".into())
            .spawn(move || worker_loop(req_rx, msg_tx, loader, repaint))
            .expect("spawning the worker thread");
        (req_tx, msg_rx)
    }

    /// Loads (or replaces) the model in `role`.
    pub fn load(&mut self, role: Role, spec: ModelSpec) {
        self.specs[role as usize] = Some(spec.clone());
        let _ = self.tx.send(Request::Load(role, spec));
    }

    /// Runs `image`, cancelling whatever runs now. Returns the new run id.
    pub fn run(&mut self, image: Arc<image::RgbImage>, opts: SegmentOptions, with_full: bool) -> u64 {
        self.cancel.store(true, Ordering::Relaxed);
        self.cancel = Arc::new(AtomicBool::new(false));
        let run_id = self.next_run_id;
        self.next_run_id += 1;
        let req = RunRequest { run_id, image, opts, with_full, cancel: self.cancel.clone() };
        let _ = self.tx.send(Request::Run(req));
        run_id
    }

    /// Starts running a dataset (replacing any dataset run); rows stream back as
    /// [`WorkerMsg::DatasetRow`].
    pub fn run_dataset(&mut self, job: DatasetJob) {
        let _ = self.tx.send(Request::Dataset(job));
    }

    /// Cancels the running request, if any.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Everything the worker sent since the last call. If the thread died, it is restarted
    /// with the same models and a [`WorkerMsg::Restarted`] says so.
    pub fn poll(&mut self) -> Vec<WorkerMsg> {
        self.poll_timed().into_iter().map(|(_, m)| m).collect()
    }

    /// Like [`Self::poll`], with the instant each message was sent (to measure latency).
    pub fn poll_timed(&mut self) -> Vec<(Instant, WorkerMsg)> {
        let mut out = Vec::new();
        loop {
            match self.rx.try_recv() {
                Ok(m) => out.push(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let (tx, rx) = Self::start_thread(self.loader.clone(), self.repaint.clone());
                    self.tx = tx;
                    self.rx = rx;
                    for (i, role) in [Role::Add, Role::Full].into_iter().enumerate() {
                        if let Some(spec) = self.specs[i].clone() {
                            let _ = self.tx.send(Request::Load(role, spec));
                        }
                    }
                    out.push((Instant::now(), WorkerMsg::Restarted { message: "the worker thread stopped".into() }));
                    break;
                }
            }
        }
        out
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Lowers this thread's scheduling priority (and so that of the compute threads it starts,
/// which inherit it), so that on a machine with few cores the UI thread still gets a core
/// whenever it has a frame to draw. Linux only; elsewhere a no-op.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        // PRIO_PROCESS with who = 0 is the calling thread on Linux. Failure is harmless.
        // SAFETY: a plain syscall wrapper with integer arguments, no memory involved.
        let _ = unsafe { setpriority(0, 0, 10) };
    }
}

fn worker_loop(
    rx: Receiver<Request>,
    tx: Sender<(Instant, WorkerMsg)>,
    loader: Loader,
    repaint: Arc<dyn Fn() + Send + Sync>,
) {
    lower_priority();
    let mut models: [Option<Box<dyn Segmenter>>; 2] = [None, None];
    let mut specs: [Option<ModelSpec>; 2] = [None, None];
    let send = |m: WorkerMsg| {
        let ok = tx.send((Instant::now(), m)).is_ok();
        repaint();
        ok
    };
    let load = |role: Role, spec: &ModelSpec, slot: &mut Option<Box<dyn Segmenter>>| {
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| loader(role, spec)));
        *slot = None;
        let msg = match result {
            Ok(Ok(Some(l))) => {
                let m = WorkerMsg::ModelReady {
                    role,
                    card: l.segmenter.card().clone(),
                    device: l.segmenter.device_name(),
                    banner: l.banner,
                };
                *slot = Some(l.segmenter);
                m
            }
            Ok(Ok(None)) => WorkerMsg::ModelAbsent { role },
            Ok(Err(e)) => WorkerMsg::ModelFailed { role, message: format!("{e:#}") },
            Err(p) => WorkerMsg::ModelFailed { role, message: format!("loader panicked: {}", panic_text(&*p)) },
        };
        send(msg);
    };
    let mut job: Option<(DatasetJob, usize)> = None;
    let mut tables: HashMap<(usize, usize), Arc<CostTable>> = HashMap::new();
    loop {
        // Requests first; with nothing asked, the next image of the dataset run, if any.
        let next = if job.is_some() {
            match rx.try_recv() {
                Ok(r) => Some(r),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv() {
                Ok(r) => Some(r),
                Err(_) => return,
            }
        };
        let Some(mut req) = next else {
            let (j, i) = job.as_mut().expect("checked above");
            let (index, done) = (*i, *i >= j.dataset.len() || j.cancel.load(Ordering::Relaxed));
            let add = models[Role::Add as usize].as_deref();
            if done || add.is_none() {
                if add.is_none() && !done {
                    let message = "no ADD model is loaded".to_string();
                    send(WorkerMsg::DatasetError { job_id: j.job_id, index, message });
                }
                send(WorkerMsg::DatasetDone { job_id: j.job_id, cancelled: j.cancel.load(Ordering::Relaxed) });
                job = None;
                continue;
            }
            *i += 1;
            let full = if j.with_full { models[Role::Full as usize].as_deref() } else { None };
            let difficulty = j.difficulty.get(index).copied().flatten();
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let add = add.expect("checked above");
                dataset::run_sample(add, full, &j.dataset, index, difficulty, j.max_side, &j.cancel, &mut tables)
            }));
            let job_id = j.job_id;
            match result {
                Ok(Ok(Some(row))) => send(WorkerMsg::DatasetRow { job_id, row: Box::new(row) }),
                Ok(Ok(None)) => true,
                Ok(Err(e)) => send(WorkerMsg::DatasetError { job_id, index, message: format!("{e:#}") }),
                Err(p) => send(WorkerMsg::DatasetError { job_id, index, message: panic_text(&*p) }),
            };
            continue;
        };
        // Only the newest run matters: skip runs that were superseded while we were busy.
        while let Request::Run(r) = &req {
            match rx.try_recv() {
                Ok(next) => {
                    send(WorkerMsg::Event { role: Role::Add, event: RunEvent::Cancelled { run_id: r.run_id } });
                    req = next;
                }
                Err(_) => break,
            }
        }
        match req {
            Request::Load(role, spec) => {
                let i = role as usize;
                load(role, &spec, &mut models[i]);
                specs[i] = Some(spec);
                tables.clear();
            }
            Request::Dataset(j) => {
                if let Some((old, _)) = job.replace((j, 0)) {
                    send(WorkerMsg::DatasetDone { job_id: old.job_id, cancelled: true });
                }
            }
            Request::Run(r) => {
                let mut crashed = None;
                for role in [Role::Add, Role::Full] {
                    if role == Role::Full && !r.with_full {
                        continue;
                    }
                    let Some(model) = &models[role as usize] else { continue };
                    if r.cancel.load(Ordering::Relaxed) {
                        send(WorkerMsg::Event { role, event: RunEvent::Cancelled { run_id: r.run_id } });
                        continue;
                    }
                    let opts = match role {
                        Role::Add => r.opts,
                        Role::Full => {
                            SegmentOptions { policy: Policy::FixedExit(usize::MAX), analysis: false, ..r.opts }
                        }
                    };
                    let mut sink = |event: RunEvent| {
                        send(WorkerMsg::Event { role, event });
                    };
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        model.run(&r.image, &opts, r.run_id, &r.cancel, &mut sink)
                    }));
                    match result {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            let message = format!("{e:#}");
                            send(WorkerMsg::Event { role, event: RunEvent::Failed { run_id: r.run_id, message } });
                        }
                        Err(p) => {
                            let message = format!("the model panicked: {}", panic_text(&*p));
                            send(WorkerMsg::Event {
                                role,
                                event: RunEvent::Failed { run_id: r.run_id, message: message.clone() },
                            });
                            crashed = Some(message);
                            break;
                        }
                    }
                }
                if let Some(message) = crashed {
                    // A panic may leave a model half-updated: load both again from their specs.
                    for role in [Role::Add, Role::Full] {
                        let i = role as usize;
                        if let Some(spec) = specs[i].clone() {
                            load(role, &spec, &mut models[i]);
                        }
                    }
                    send(WorkerMsg::Restarted { message });
                }
            }
        }
    }
}
