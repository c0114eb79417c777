//! Dataset plots: speed against mIoU across thresholds for each policy (from the model's
//! `eval.json` when `add eval` left one, else swept over the dataset browser's rows with the
//! evaluation's own code), the baseline and the accurate/fast presets marked; and the histogram
//! of exits taken, split by difficulty when the set knows it.

use super::PlotsState;
use crate::engine::Policy;
use crate::eval::collect::ImageRecord;
use crate::eval::metrics::ConfusionMatrix;
use crate::eval::sweep::{candidate_thresholds, evaluate};
use crate::jobs::DatasetRow;
use crate::network::ArchCard;
use crate::ui::extras::SweepPoint;
use crate::ui::panel::Ctx;
use eframe::egui::{self, Color32};
use egui_plot::{Bar, BarChart, Legend, Line, MarkerShape, Plot, PlotPoints, Points};
use std::sync::Arc;

/// Thresholds per policy in a sweep computed here.
const STEPS: usize = 12;

/// Sweeps every policy over the labelled rows: fixed exits, then each policy's thresholds.
/// Speed-up is against the baseline when it ran, else against this model's last exit. Also
/// returns the reference point (baseline or last exit) and the presets of `card`, evaluated.
pub fn sweep_rows(rows: &[DatasetRow], card: &ArchCard) -> (Vec<SweepPoint>, Option<SweepPoint>, Vec<SweepPoint>) {
    let labelled: Vec<&DatasetRow> = rows.iter().filter(|r| r.labelled).collect();
    let Some(first) = labelled.first() else { return (Vec::new(), None, Vec::new()) };
    let recs: Vec<ImageRecord> = labelled.iter().map(|r| r.record.clone()).collect();
    let exit_cells = card.exit_cells();
    let table = first.table.clone();
    let base_ms = recs
        .iter()
        .map(|r| r.baseline_ms)
        .collect::<Option<Vec<f64>>>()
        .map(|v| v.iter().sum::<f64>() / v.len() as f64);
    let last = evaluate(Policy::FixedExit(usize::MAX), &recs, &table, &exit_cells, None);
    let reference_ms = base_ms.unwrap_or(last.mean_ms);
    let point = |family: &str, r: crate::eval::sweep::SweepRow| SweepPoint {
        family: family.to_string(),
        speedup: reference_ms / r.mean_ms,
        policy: r.policy,
        miou: r.miou,
        mean_ms: r.mean_ms,
    };
    let reference = match base_ms {
        Some(ms) => {
            let mut c = ConfusionMatrix::new(card.classes.len());
            recs.iter().filter_map(|r| r.baseline_confusion.as_ref()).for_each(|m| c.merge(m));
            Some(SweepPoint {
                family: "baseline".into(),
                policy: "Auto-DeepLab baseline".into(),
                miou: 100.0 * c.miou(),
                mean_ms: ms,
                speedup: 1.0,
            })
        }
        None => {
            let mut r = point("reference", last);
            r.policy = "last exit (full ADD)".into();
            Some(r)
        }
    };
    let mut out: Vec<SweepPoint> = (0..exit_cells.len())
        .map(|e| point("exit", evaluate(Policy::FixedExit(e), &recs, &table, &exit_cells, None)))
        .collect();
    for (name, make, score) in crate::eval::run::policies(card) {
        let mut scores: Vec<f32> =
            recs.iter().flat_map(|r| r.exits[..r.exits.len() - 1].iter().filter_map(|x| score(&x.stats))).collect();
        for t in candidate_thresholds(&mut scores, STEPS) {
            out.push(point(name, evaluate(make(t), &recs, &table, &exit_cells, None)));
        }
    }
    let presets = card
        .presets
        .iter()
        .filter_map(|(n, p)| {
            let policy: Policy = p.policy.parse().ok()?;
            let mut pt = point("preset", evaluate(policy, &recs, &table, &exit_cells, None));
            pt.policy = format!("{n} ({})", p.policy);
            Some(pt)
        })
        .collect();
    (out, reference, presets)
}

/// Difficulty group of a row: easy, medium, hard (thirds of [0, 1]) or unknown.
fn group(d: Option<f32>) -> usize {
    match d {
        Some(d) if d < 1.0 / 3.0 => 0,
        Some(d) if d < 2.0 / 3.0 => 1,
        Some(_) => 2,
        None => 3,
    }
}

/// Images per exit taken, per difficulty group (easy, medium, hard, unknown).
pub fn exit_histogram(rows: &[DatasetRow], policy: &Policy, exits: usize) -> [Vec<usize>; 4] {
    let mut h: [Vec<usize>; 4] = std::array::from_fn(|_| vec![0; exits]);
    for r in rows {
        let e = r.exit_taken(policy).min(exits - 1);
        h[group(r.difficulty)][e] += 1;
    }
    h
}

const FAMILY_COLORS: [(&str, Color32); 6] = [
    ("exit", Color32::from_rgb(160, 160, 160)),
    ("edm", Color32::from_rgb(90, 160, 240)),
    ("edm-map", Color32::from_rgb(80, 200, 200)),
    ("entropy", Color32::from_rgb(230, 120, 60)),
    ("confident", Color32::from_rgb(170, 110, 220)),
    ("baseline", Color32::from_rgb(240, 240, 240)),
];

fn color_of(family: &str) -> Color32 {
    FAMILY_COLORS.iter().find(|(f, _)| *f == family).map_or(Color32::LIGHT_GRAY, |(_, c)| *c)
}

pub fn show(ui: &mut egui::Ui, ctx: &Ctx, st: &mut PlotsState) {
    let sweep = sweep(ui, ctx, st);
    let policy = ctx.settings.policy;
    let exits = ctx.card().num_exits();
    ui.columns(2, |cols| {
        speed_plot(&mut cols[0], &sweep);
        exit_plot(&mut cols[1], &ctx.dataset.rows, &policy, exits);
    });
}

/// The speed/mIoU points to draw and where they come from.
struct Sweep {
    points: Arc<Vec<SweepPoint>>,
    reference: Option<SweepPoint>,
    presets: Vec<SweepPoint>,
    source: String,
}

/// From eval.json when there is one; otherwise from the dataset run's rows, recomputed when
/// asked or when a run ends (a sweep over 5,000 images takes a moment: not every frame).
fn sweep(ui: &mut egui::Ui, ctx: &Ctx, st: &mut PlotsState) -> Sweep {
    let card = ctx.card();
    let b = ctx.dataset;
    let n_lab = b.rows.iter().filter(|r| r.labelled).count();
    let key = (b.job_id, b.rows.len());
    let stale = st.sweep.as_ref().is_none_or(|(k, _)| *k != key);
    let (points, reference, presets, source) = match &ctx.extras.sweep {
        Some(s) => {
            let presets = ctx
                .extras
                .presets
                .iter()
                .map(|(n, m, sp)| SweepPoint {
                    family: "preset".into(),
                    policy: n.clone(),
                    miou: *m,
                    mean_ms: 0.0,
                    speedup: *sp,
                })
                .collect();
            (s.clone(), None, presets, "from eval.json next to the model".to_string())
        }
        None => {
            if stale && !b.running && n_lab > 0
                || ui.add_enabled(n_lab > 0 && stale, egui::Button::new("Recompute from the dataset run")).clicked()
            {
                let (pts, reference, presets) = sweep_rows(&b.rows, &card);
                let mut all = pts;
                all.extend(reference);
                all.extend(presets);
                st.sweep = Some((key, Arc::new(all)));
            }
            let all = st.sweep.as_ref().map(|s| s.1.clone()).unwrap_or_default();
            let reference = all.iter().find(|p| p.family == "baseline" || p.family == "reference").cloned();
            let presets = all.iter().filter(|p| p.family == "preset").cloned().collect();
            let pts =
                Arc::new(all.iter().filter(|p| p.family != "preset" && p.family != "baseline").cloned().collect());
            (
                pts,
                reference,
                presets,
                format!("swept over {} labelled images of the dataset run", st.sweep.as_ref().map_or(0, |s| (s.0).1)),
            )
        }
    };
    Sweep { points, reference, presets, source }
}

/// Speed-up against mIoU, one line per policy family, the reference and presets marked.
fn speed_plot(ui: &mut egui::Ui, sw: &Sweep) {
    let Sweep { points, reference, presets, source } = sw;
    ui.label(format!("Speed-up against mIoU across thresholds ({source})"));
    if points.is_empty() {
        ui.label("Run a labelled dataset in the Dataset tab (or run `add eval`) to fill this plot.");
    }
    Plot::new("speed_miou").height(260.0).legend(Legend::default()).x_axis_label("speed-up").y_axis_label("mIoU").show(
        ui,
        |p| {
            let mut families: Vec<&str> = points.iter().map(|q| q.family.as_str()).collect();
            families.dedup();
            families.sort();
            families.dedup();
            for f in families {
                let mut pts: Vec<[f64; 2]> =
                    points.iter().filter(|q| q.family == f).map(|q| [q.speedup, q.miou]).collect();
                pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
                let c = color_of(f);
                if f != "exit" {
                    p.line(Line::new(f.to_string(), PlotPoints::new(pts.clone())).color(c));
                }
                p.points(Points::new(f.to_string(), PlotPoints::new(pts)).color(c).radius(3.0));
            }
            if let Some(r) = &reference {
                p.points(
                    Points::new(format!("reference: {}", r.policy), PlotPoints::new(vec![[r.speedup, r.miou]]))
                        .shape(MarkerShape::Square)
                        .radius(6.0)
                        .color(Color32::WHITE),
                );
            }
            for q in presets.iter() {
                p.points(
                    Points::new(format!("preset {}", q.policy), PlotPoints::new(vec![[q.speedup, q.miou]]))
                        .shape(MarkerShape::Asterisk)
                        .radius(9.0)
                        .color(Color32::from_rgb(255, 200, 40)),
                );
            }
        },
    );
}

/// How many images left at each exit under `policy`, stacked by difficulty.
fn exit_plot(ui: &mut egui::Ui, rows: &[DatasetRow], policy: &Policy, exits: usize) {
    let h = exit_histogram(rows, policy, exits);
    ui.label(format!("Exits taken over {} images, policy {policy}", rows.len()));
    Plot::new("exit_hist")
        .height(260.0)
        .legend(Legend::default())
        .x_axis_label("exit")
        .y_axis_label("images")
        .allow_scroll(false)
        .show(ui, |p| {
            let names = ["easy", "medium", "hard", "difficulty unknown"];
            let colors = [
                Color32::from_rgb(90, 190, 110),
                Color32::from_rgb(240, 180, 60),
                Color32::from_rgb(220, 80, 70),
                Color32::from_rgb(110, 150, 220),
            ];
            let mut charts: Vec<BarChart> = Vec::new();
            for g in 0..4 {
                if h[g].iter().all(|&c| c == 0) {
                    continue;
                }
                let bars = (0..exits).map(|e| Bar::new(e as f64 + 1.0, h[g][e] as f64).width(0.6)).collect();
                let refs: Vec<&BarChart> = charts.iter().collect();
                let chart = BarChart::new(names[g], bars).color(colors[g]).stack_on(&refs);
                charts.push(chart);
            }
            for c in charts {
                p.bar_chart(c);
            }
        });
}
