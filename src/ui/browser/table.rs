//! The dataset table: which rows show, in which order (sorted by any column, filtered by
//! outcome, name and confusion cell), and the virtualised drawing (only the rows on screen are
//! laid out, so 5,000 images scroll as smoothly as 50). The exit taken, time and Multi-Adds
//! follow the policy panel: moving the threshold re-decides every row without a rerun.

use super::BrowserState;
use crate::engine::Policy;
use crate::jobs::DatasetRow;
use crate::ui::network_view::properties::si;
use crate::ui::panel::Ctx;
use eframe::egui::{self, RichText};

/// Columns the table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Exit,
    Edm,
    Time,
    MultiAdds,
    /// IoU of exit k against the label.
    Iou(usize),
    Agree,
    Worst,
    Difficulty,
}

/// Which rows show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    #[default]
    All,
    ExitedEarly,
    /// The failure cases: stopped early, and the answer is worse than the full output.
    EarlyButWrong,
    WentDeep,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::All, Outcome::ExitedEarly, Outcome::EarlyButWrong, Outcome::WentDeep];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::All => "All images",
            Outcome::ExitedEarly => "Exited early",
            Outcome::EarlyButWrong => "Exited early but wrong",
            Outcome::WentDeep => "Went to the last exit",
        }
    }
}

/// Numbers of one row under the current policy.
#[derive(Debug, Clone, Copy)]
pub struct RowView {
    pub exit: usize,
    pub ms: f64,
    pub madds: u64,
    pub agree: f32,
    pub wrong: bool,
    pub worst: Option<(usize, f64)>,
}

/// Sorting, filtering and the cached order.
#[derive(Debug, Clone)]
pub struct TableView {
    pub sort: SortKey,
    pub descending: bool,
    pub outcome: Outcome,
    /// Only names containing this.
    pub search: String,
    /// IoU drop (against the last exit) that makes an early answer wrong.
    pub margin: f32,
    /// Only rows with pixels of label class `.1` predicted as `.2` at exit `.0`.
    pub confusion: Option<(usize, usize, usize)>,
    /// Indices into the rows, in display order, and what they were computed for.
    pub order: Vec<usize>,
    pub views: Vec<RowView>,
    /// The policy and view settings the order was computed for.
    key: Option<String>,
    /// The rows it covers: their number and the dataset index of the last one.
    seen: (usize, Option<usize>),
}

impl Default for TableView {
    fn default() -> Self {
        TableView {
            sort: SortKey::Name,
            descending: false,
            outcome: Outcome::All,
            search: String::new(),
            margin: 0.05,
            confusion: None,
            order: Vec::new(),
            views: Vec::new(),
            key: None,
            seen: (0, None),
        }
    }
}

/// Missing values sort last either way round; NaN after every number (a total order, so that
/// sorting and inserting agree).
fn cmp_opt(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

impl TableView {
    /// Forces the order to be recomputed (new dataset).
    pub fn invalidate(&mut self) {
        self.key = None;
    }

    /// Clicking a column header: sort by it, or flip the direction if it already is.
    pub fn sort_by(&mut self, key: SortKey) {
        if self.sort == key {
            self.descending = !self.descending;
        } else {
            self.sort = key;
            self.descending = !matches!(key, SortKey::Name);
        }
    }

    /// Recomputes the views and the order when the policy or the view changed. Rows that
    /// arrived since the last call (rows only ever arrive, or all go with a new job) are added
    /// to the kept order, each inserted where a full stable sort would put it, so a frame
    /// while a dataset streams in costs the new rows, not all 5,000.
    pub fn refresh(&mut self, rows: &[DatasetRow], policy: &Policy, exit_cells: &[usize]) {
        let key = format!(
            "{policy:?}|{:?}|{}|{:?}|{}|{}|{:?}",
            self.sort, self.descending, self.outcome, self.search, self.margin, self.confusion
        );
        let (seen, last_index) = self.seen;
        let extends = self.key.as_deref() == Some(key.as_str())
            && rows.len() >= seen
            && (seen == 0 || rows.get(seen - 1).map(|r| r.index) == last_index);
        if !extends {
            self.key = Some(key);
            self.views.clear();
            self.order.clear();
        }
        let from = self.views.len();
        self.seen = (rows.len(), rows.last().map(|r| r.index));
        if from == rows.len() {
            return;
        }
        let last = exit_cells.len().saturating_sub(1);
        let margin = self.margin;
        self.views.extend(rows[from..].iter().map(|r| {
            let exit = r.exit_taken(policy).min(r.agree_full.len().saturating_sub(1));
            let (ms, madds) = r.cost(policy, exit_cells);
            RowView {
                exit,
                ms,
                madds,
                agree: r.agree_full.get(exit).copied().unwrap_or(f32::NAN),
                wrong: r.wrong_at(exit, margin),
                worst: r.worst_class(exit),
            }
        }));
        let needle = self.search.to_lowercase();
        let new = (from..rows.len()).filter(|&i| {
            let (r, v) = (&rows[i], &self.views[i]);
            let outcome = match self.outcome {
                Outcome::All => true,
                Outcome::ExitedEarly => v.exit < last,
                Outcome::EarlyButWrong => v.exit < last && v.wrong,
                Outcome::WentDeep => v.exit >= last,
            };
            let named = needle.is_empty() || r.name.to_lowercase().contains(&needle);
            let confused = self.confusion.is_none_or(|(e, l, p)| {
                r.record.exits.get(e).is_some_and(|x| x.confusion.classes > l.max(p) && x.confusion.get(l, p) > 0)
            });
            outcome && named && confused
        });
        let new: Vec<usize> = new.collect();
        let v = &self.views;
        let cmp = |a: usize, b: usize| {
            let (ra, rb) = (&rows[a], &rows[b]);
            let f = |x: Option<f32>| x.map(f64::from);
            let o = match self.sort {
                SortKey::Name => ra.name.cmp(&rb.name),
                SortKey::Exit => v[a].exit.cmp(&v[b].exit),
                SortKey::Edm => cmp_opt(f(ra.edm_score()), f(rb.edm_score())),
                SortKey::Time => v[a].ms.total_cmp(&v[b].ms),
                SortKey::MultiAdds => v[a].madds.cmp(&v[b].madds),
                SortKey::Iou(k) => cmp_opt(f(ra.iou.get(k).copied().flatten()), f(rb.iou.get(k).copied().flatten())),
                SortKey::Agree => v[a].agree.total_cmp(&v[b].agree),
                SortKey::Worst => cmp_opt(v[a].worst.map(|w| w.1), v[b].worst.map(|w| w.1)),
                SortKey::Difficulty => cmp_opt(f(ra.difficulty), f(rb.difficulty)),
            };
            if self.descending { o.reverse() } else { o }
        };
        if self.order.is_empty() || new.len() > self.order.len() {
            // many rows at once: append and sort (stable, so equal rows keep arrival order)
            self.order.extend(new);
            self.order.sort_by(|&a, &b| cmp(a, b));
        } else {
            // after every kept row that sorts before or equal to it: what the stable sort does
            for i in new {
                let at = self.order.partition_point(|&j| cmp(j, i) != std::cmp::Ordering::Greater);
                self.order.insert(at, i);
            }
        }
    }
}

const ROW_H: f32 = 20.0;

/// Column headers and widths.
fn columns(exits: usize, with_difficulty: bool) -> Vec<(String, SortKey, f32)> {
    let mut c = vec![
        ("Image".to_string(), SortKey::Name, 230.0),
        ("Exit".into(), SortKey::Exit, 44.0),
        ("EDM".into(), SortKey::Edm, 52.0),
        ("ms".into(), SortKey::Time, 60.0),
        ("Multi-Adds".into(), SortKey::MultiAdds, 82.0),
    ];
    for k in 0..exits {
        c.push((format!("IoU E{}", k + 1), SortKey::Iou(k), 62.0));
    }
    c.push(("Agree".into(), SortKey::Agree, 56.0));
    c.push(("Worst class".into(), SortKey::Worst, 130.0));
    if with_difficulty {
        c.push(("Difficulty".into(), SortKey::Difficulty, 72.0));
    }
    c
}

/// The text of every cell of row `i` (the CSV writes the same).
pub fn cells(row: &DatasetRow, v: &RowView, class_names: &[String], with_difficulty: bool) -> Vec<String> {
    let opt = |x: Option<f32>| x.map_or("-".into(), |x| format!("{x:.3}"));
    let mut c = vec![
        row.name.clone(),
        format!("{}", v.exit + 1),
        opt(row.edm_score()),
        format!("{:.1}", v.ms),
        si(v.madds as f64),
    ];
    c.extend(row.iou.iter().map(|x| opt(*x)));
    c.push(format!("{:.3}", v.agree));
    c.push(v.worst.map_or("-".into(), |(k, iou)| {
        format!("{} {:.2}", class_names.get(k).cloned().unwrap_or_else(|| format!("class {k}")), iou)
    }));
    if with_difficulty {
        c.push(opt(row.difficulty));
    }
    c
}

fn short(name: &str, max: usize) -> String {
    let n = name.chars().count();
    if n <= max { name.to_string() } else { format!("...{}", name.chars().skip(n - max + 3).collect::<String>()) }
}

/// The filter bar: outcome, the "wrong" margin, a name search, the confusion-cell filter.
fn filters(ui: &mut egui::Ui, view: &mut TableView, names: &[String]) {
    ui.horizontal_wrapped(|ui| {
        for o in Outcome::ALL {
            ui.selectable_value(&mut view.outcome, o, o.name());
        }
        ui.separator();
        ui.add(egui::Slider::new(&mut view.margin, 0.0..=0.5).text("wrong = IoU below the last exit's by"));
        ui.label("Name:");
        ui.add(egui::TextEdit::singleline(&mut view.search).desired_width(140.0).hint_text("filter"));
        if let Some((e, l, p)) = view.confusion {
            let what = format!(
                "exit {}: {} predicted as {}",
                e + 1,
                names.get(l).cloned().unwrap_or_default(),
                names.get(p).cloned().unwrap_or_default()
            );
            if ui.button(format!("x {what}")).on_hover_text("Clear the confusion filter").clicked() {
                view.confusion = None;
            }
        }
    });
}

/// Draws the filters and the table; returns the row clicked (an index into the rows).
pub fn show(ui: &mut egui::Ui, ctx: &Ctx, b: &mut BrowserState) -> Option<usize> {
    let policy = ctx.settings.policy;
    let card = ctx.card();
    let exit_cells = card.exit_cells();
    let names: Vec<String> = card.classes.iter().map(|c| c.name.clone()).collect();
    let rows = &ctx.dataset.rows;
    filters(ui, &mut b.view, &names);
    b.view.refresh(rows, &policy, &exit_cells);
    ui.label(format!(
        "{} of {} images shown, under policy {policy} (a red exit: stopped early and worse than the full output)",
        b.view.order.len(),
        rows.len()
    ));
    let with_difficulty = rows.iter().any(|r| r.difficulty.is_some());
    let cols = columns(exit_cells.len(), with_difficulty);
    let (mut sort_click, mut open) = (None, None);
    egui::ScrollArea::horizontal().id_salt("table_h").show(ui, |ui| {
        ui.vertical(|ui| {
            ui.horizontal(|ui| {
                for (name, key, w) in &cols {
                    let arrow = if b.view.sort == *key { if b.view.descending { " v" } else { " ^" } } else { "" };
                    let text = RichText::new(format!("{name}{arrow}")).strong();
                    let resp = ui.add_sized([*w, ROW_H], egui::Button::selectable(b.view.sort == *key, text));
                    if resp.on_hover_text(format!("Sort by {name}")).clicked() {
                        sort_click = Some(*key);
                    }
                }
            });
            ui.separator();
            let n = b.view.order.len();
            egui::ScrollArea::vertical().id_salt("table_rows").auto_shrink([false, false]).show_rows(
                ui,
                ROW_H,
                n,
                |ui, range| {
                    for pos in range {
                        let i = b.view.order[pos];
                        let (row, v) = (&rows[i], &b.view.views[i]);
                        let texts = cells(row, v, &names, with_difficulty);
                        ui.horizontal(|ui| {
                            let sel = b.opened == Some(row.index);
                            let name = egui::Button::selectable(sel, short(&texts[0], 34));
                            let resp = ui.add_sized([cols[0].2, ROW_H], name).on_hover_text(&row.name);
                            resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &row.name));
                            if resp.clicked() {
                                open = Some(i);
                            }
                            for (k, t) in texts.iter().enumerate().skip(1) {
                                let mut rt = RichText::new(t);
                                if k == 1 && v.wrong && v.exit + 1 < exit_cells.len() {
                                    rt = rt.color(ui.visuals().error_fg_color);
                                }
                                ui.add_sized([cols[k].2, ROW_H], egui::Label::new(rt).truncate());
                            }
                        });
                    }
                },
            );
        });
    });
    if let Some(k) = sort_click {
        b.view.sort_by(k);
    }
    open
}
