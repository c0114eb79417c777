//! Dynamic inference: event order, policies, cancellation, and the proof that what a policy
//! skips is never computed (executed Multi-Adds equal the cost table's sums exactly).

use std::sync::atomic::{AtomicBool, Ordering};

use add_studio::engine::{Decision, Engine, Policy, RunEvent, RunOptions};
use add_studio::network::{ArchCard, CostTable, EdmKind};
use candle_core::Device;
use image::RgbImage;

fn engine(edm: EdmKind) -> Engine {
    let mut card = ArchCard::preset("add-3", 4).unwrap();
    card.edm.kind = edm;
    Engine::random(card, 7, &Device::Cpu).unwrap()
}

fn image() -> RgbImage {
    RgbImage::from_fn(97, 65, |x, y| image::Rgb([(x * 7 % 255) as u8, (y * 13 % 255) as u8, ((x + y) % 255) as u8]))
}

fn run(e: &Engine, opts: &RunOptions) -> Vec<RunEvent> {
    let mut events = Vec::new();
    e.run(&image(), opts, 1, &AtomicBool::new(false), &mut |ev| events.push(ev)).unwrap();
    events
}

fn opts(policy: Policy) -> RunOptions {
    RunOptions { policy, ..RunOptions::default() }
}

fn finished_madds(events: &[RunEvent]) -> (usize, u64) {
    match events.last().unwrap() {
        RunEvent::Finished { chosen_exit, cum_madds, .. } => (*chosen_exit, *cum_madds),
        other => panic!("last event is {other:?}"),
    }
}

#[test]
fn events_stream_in_order_and_stop_at_the_chosen_exit() {
    let e = engine(EdmKind::Scalar);
    let events = run(&e, &opts(Policy::FixedExit(0)));
    assert!(matches!(events[0], RunEvent::Started { input_size: (97, 65), .. }));
    let cells: Vec<usize> = events
        .iter()
        .filter_map(|ev| if let RunEvent::CellDone { cell, .. } = ev { Some(*cell) } else { None })
        .collect();
    let first_exit = e.card().exits[0];
    assert_eq!(cells, (0..=first_exit).collect::<Vec<_>>(), "cells after the chosen exit must not run");
    let exits: Vec<_> =
        events.iter().filter_map(|ev| if let RunEvent::Exit(r) = ev { Some(r) } else { None }).collect();
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].decision, Decision::Stop);
    let maps = exits[0].maps.as_ref().expect("the chosen exit's head ran");
    assert_eq!((maps.width, maps.height), (97, 65));
    assert!(maps.max_prob.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(maps.entropy.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(exits[0].edm_score.is_some());
    assert_eq!(finished_madds(&events).0, 0);
}

#[test]
fn skipped_heads_are_never_computed() {
    let e = engine(EdmKind::Scalar);
    let table = CostTable::of(e.net(), 65, 97);
    let edm: u64 = table.exits.iter().map(|x| x.edm_madds).sum();
    // EDM always unsure: both early heads skipped, every EDM runs, the last head answers.
    let (chosen, madds) = finished_madds(&run(&e, &opts(Policy::Edm { threshold: -1e9 })));
    assert_eq!(chosen, 2);
    assert_eq!(madds, table.full_path() + edm);
    // EDM always sure: the first exit answers; only its EDM and head ran.
    let (chosen, madds) = finished_madds(&run(&e, &opts(Policy::Edm { threshold: 1e9 })));
    assert_eq!(chosen, 0);
    assert_eq!(madds, table.exits[0].path_madds + table.exits[0].edm_madds);
    // analysis mode pays for every head
    let all = RunOptions { analysis: true, ..opts(Policy::Edm { threshold: 1e9 }) };
    let (chosen, madds) = finished_madds(&run(&e, &all));
    assert_eq!(chosen, 0);
    let heads: u64 = table.exits[..2].iter().map(|x| x.head_madds).sum();
    assert_eq!(madds, table.full_path() + edm + heads);
}

#[test]
fn output_policies_run_the_head_before_deciding() {
    let e = engine(EdmKind::None);
    let events = run(&e, &opts(Policy::Entropy { threshold: -1.0 }));
    let exits: Vec<_> =
        events.iter().filter_map(|ev| if let RunEvent::Exit(r) = ev { Some(r) } else { None }).collect();
    assert_eq!(exits.len(), 3);
    assert!(exits.iter().all(|r| r.maps.is_some() && r.mean_entropy.is_some()));
    assert_eq!(exits[0].decision, Decision::Continue);
    assert_eq!(exits[2].decision, Decision::Final);
    // a policy that needs a decision maker the model lacks is a clear error
    let err =
        e.run(&image(), &opts(Policy::Edm { threshold: 0.3 }), 1, &AtomicBool::new(false), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("decision maker"), "{err}");
}

#[test]
fn cancel_stops_between_cells() {
    let e = engine(EdmKind::Scalar);
    let cancel = AtomicBool::new(false);
    let mut events = Vec::new();
    let s = e
        .run(&image(), &opts(Policy::FixedExit(9)), 3, &cancel, &mut |ev| {
            if matches!(ev, RunEvent::CellDone { cell: 1, .. }) {
                cancel.store(true, Ordering::Relaxed);
            }
            events.push(ev);
        })
        .unwrap();
    assert!(!s.completed);
    assert!(matches!(events.last(), Some(RunEvent::Cancelled { run_id: 3 })));
    assert_eq!(events.iter().filter(|ev| matches!(ev, RunEvent::CellDone { .. })).count(), 2);
}

/// Cell 0's time says how much of it was the stem (the views show the two apart); no other
/// cell carries a stem time.
#[test]
fn cell_zero_tells_its_stem_time_apart() {
    let e = engine(EdmKind::Scalar);
    let mut cells = Vec::new();
    e.run(&image(), &opts(Policy::FixedExit(9)), 1, &AtomicBool::new(false), &mut |ev| {
        if let RunEvent::CellDone { cell, cell_ms, stem_ms, .. } = ev {
            cells.push((cell, cell_ms, stem_ms));
        }
    })
    .unwrap();
    assert!(cells.len() > 2);
    let (cell, ms, stem) = cells[0];
    assert_eq!(cell, 0);
    let stem = stem.expect("cell 0 carries the stem's time");
    assert!(stem > 0.0 && stem <= ms, "stem {stem} ms of cell 0's {ms} ms");
    assert!(cells[1..].iter().all(|c| c.2.is_none()), "only cell 0 has a stem: {cells:?}");
}

#[test]
fn tiny_images_are_padded_and_run() {
    let e = engine(EdmKind::Scalar);
    for (w, h) in [(1, 1), (3, 900), (64, 300)] {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 40) as u8, (y % 256) as u8, 100]));
        let mut maps = Vec::new();
        let opts = RunOptions { analysis: true, ..opts(Policy::FixedExit(9)) };
        let s = e
            .run(&img, &opts, 1, &AtomicBool::new(false), &mut |ev| {
                if let RunEvent::Exit(r) = ev {
                    maps.extend(r.maps);
                }
            })
            .unwrap();
        assert!(s.completed, "{w}x{h}");
        assert_eq!(maps.len(), e.card().num_exits(), "{w}x{h}: every exit answers");
        for m in maps {
            assert_eq!((m.width, m.height, m.classes.len()), (w as usize, h as usize, (w * h) as usize), "{w}x{h}");
        }
    }
}

#[test]
fn a_scaled_stem_runs_and_costs_what_its_widths_say() {
    let mut card = ArchCard::preset("add-3", 4).unwrap();
    let reference = Engine::random(card.clone(), 7, &Device::Cpu).unwrap();
    card.stem = add_studio::network::card::StemSettings::scaled(16);
    let small = Engine::random(card, 7, &Device::Cpu).unwrap();
    // 65x97 -> 33x49 after stem0 and stem1 (stride 2), 17x25 after stem2; 3x3 convs
    let madds = |w: u64, out: u64| 9 * (3 * w + w * w) * 33 * 49 + 9 * w * out * 17 * 25;
    assert_eq!(CostTable::of(reference.net(), 65, 97).stem_madds, madds(64, 128));
    assert_eq!(CostTable::of(small.net(), 65, 97).stem_madds, madds(16, 32));
    let events = run(&small, &opts(Policy::FixedExit(2)));
    assert_eq!(finished_madds(&events).0, 2);
}

/// The preparation is what passed before the stem started: cell 0's time since the run began
/// less the cell's own time (which includes the stem). A large image scaled down to a small
/// input makes it a large share of the run, and the network time must leave all of it out.
#[test]
fn network_time_leaves_out_the_image_preparation() {
    let e = engine(EdmKind::Scalar);
    let big = RgbImage::from_fn(1600, 1200, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 60]));
    let mut events = Vec::new();
    let options = RunOptions { max_side: 97, ..opts(Policy::FixedExit(usize::MAX)) };
    e.run(&big, &options, 1, &AtomicBool::new(false), &mut |ev| events.push(ev)).unwrap();
    let Some(RunEvent::Finished { total_ms, .. }) = events.last() else { panic!("unfinished: {events:?}") };
    let preparation = events
        .iter()
        .find_map(|ev| match ev {
            RunEvent::CellDone { cell: 0, cell_ms, time_ms, .. } => Some(time_ms - cell_ms),
            _ => None,
        })
        .unwrap();
    let ms = add_studio::eval::collect::network_ms(&events).unwrap();
    assert!(preparation > 0.0 && ms > 0.0, "preparation {preparation} ms, network {ms} ms");
    assert!(ms + preparation <= total_ms + 1e-6, "network {ms} + preparation {preparation} > total {total_ms} ms");
    let unfinished: Vec<RunEvent> = events.into_iter().filter(|ev| !matches!(ev, RunEvent::Finished { .. })).collect();
    assert_eq!(add_studio::eval::collect::network_ms(&unfinished), None);
}

#[test]
fn an_edm_policy_skips_the_map_unless_it_is_shown_or_needed() {
    let e = engine(EdmKind::Both);
    let t = CostTable::of(e.net(), 65, 97);
    let quiet = |policy| RunOptions { edm_maps: false, ..opts(policy) };
    // always unsure: every early exit runs the decision maker the policy reads, nothing else
    let (_, madds) = finished_madds(&run(&e, &quiet(Policy::Edm { threshold: -1e9 })));
    assert_eq!(madds, t.full_path() + t.exits.iter().map(|x| x.edm_madds).sum::<u64>());
    let (_, madds) = finished_madds(&run(&e, &quiet(Policy::EdmMap { threshold: -1e9 })));
    assert_eq!(madds, t.full_path() + t.exits.iter().map(|x| x.edm_map_madds).sum::<u64>());
    // shown in the app: both run, and the map's time is reported apart
    let events = run(&e, &opts(Policy::Edm { threshold: -1e9 }));
    let both: u64 = t.exits.iter().map(|x| x.edm_madds + x.edm_map_madds).sum();
    assert_eq!(finished_madds(&events).1, t.full_path() + both);
    let first = events.iter().find_map(|ev| if let RunEvent::Exit(r) = ev { Some(r.clone()) } else { None }).unwrap();
    assert!(first.edm_ms > 0.0 && first.edm_map_ms > 0.0 && first.edm_map.is_some());
}

#[test]
fn a_warm_up_runs_every_part_and_changes_no_answer() {
    let engine = Engine::random(ArchCard::preset("add-3", 2).unwrap(), 5, &Device::Cpu).unwrap();
    let img = image::RgbImage::from_fn(70, 66, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
    let opts = RunOptions { policy: Policy::FixedExit(usize::MAX), analysis: true, max_side: 2049, edm_maps: true };
    let classes = |engine: &Engine| {
        let mut maps = Vec::new();
        engine
            .run(&img, &opts, 1, &AtomicBool::new(false), &mut |e| {
                if let RunEvent::Exit(r) = e {
                    maps.push(r.maps.as_ref().map(|m| m.classes.clone()));
                }
            })
            .unwrap();
        maps
    };
    let before = classes(&engine);
    // every head's time includes its maps' time
    engine
        .run(&img, &opts, 2, &AtomicBool::new(false), &mut |e| {
            if let RunEvent::Exit(r) = e {
                assert!(
                    r.maps_ms > 0.0 && r.maps_ms <= r.head_ms.unwrap(),
                    "maps {} of head {:?}",
                    r.maps_ms,
                    r.head_ms
                );
            }
        })
        .unwrap();
    // the warm-up runs the full path, every head and every decision maker, on a 512x256 image
    // padded to 513x257 (the Multi-Add counter is this thread's, reset at each run)
    engine.warm_up(512, 256).unwrap();
    let t = CostTable::of(engine.net(), 257, 513);
    let n = t.exits.len();
    let heads: u64 = t.exits[..n - 1].iter().map(|x| x.head_madds).sum();
    let edms: u64 = t.exits.iter().map(|x| x.edm_madds + x.edm_map_madds).sum();
    assert!(edms > 0, "the preset has decision makers");
    assert_eq!(add_studio::network::cost::executed(), t.full_path() + heads + edms);
    engine.warm_up(1, 1).unwrap();
    assert_eq!(classes(&engine), before);
    assert_eq!(before.len(), 3);
}
