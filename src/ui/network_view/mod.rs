//! The network view (tab "Network"): the trellis with the searched path and what the current
//! image did on it, a click on a cell opens its properties and its block/op DAG, and both
//! diagrams export as SVG (drawn from the same primitives) or PNG (the painted pixels).
//!
//! Files: [`diagram`] (primitives, painting), [`trellis`], [`cell_dag`], [`properties`],
//! [`svg_export`].

pub mod cell_dag;
pub mod diagram;
pub mod properties;
pub mod svg_export;
pub mod trellis;

use super::files::{Figure, IoMsg, write_file};
use super::net_summary::NetSummary;
use super::panel::{Actions, Ctx};
use crate::network::ArchCard;
use crate::search::result::History;
use crate::search::trellis::Beta;
use diagram::{Diagram, Palette};
use eframe::egui::{self, Rect};
use std::path::PathBuf;
use trellis::{DenseMode, RunState, TrellisOpts};

/// Width of the properties column beside the cell DAG.
const PROPS_WIDTH: f32 = 340.0;

/// Input size (height, width) the Multi-Adds are given for before any image ran: Cityscapes'
/// evaluation size.
pub const DEFAULT_INPUT: (usize, usize) = (1025, 2049);

/// The network view's state: the user's choices (view state) and what was computed for it.
pub struct NetworkState {
    pub selected: Option<usize>,
    pub dense: DenseMode,
    /// Show searched beta as edge thickness (when a history is loaded).
    pub show_beta: bool,
    pub summary: Option<NetSummary>,
    /// (card name, input) of the summary being computed.
    pending: Option<(String, (usize, usize))>,
    /// Screen rectangles of the two diagrams in the last frame (for PNG export).
    rects: [Option<Rect>; 2],
}

impl Default for NetworkState {
    fn default() -> Self {
        NetworkState {
            selected: None,
            dense: DenseMode::default(),
            show_beta: true,
            summary: None,
            pending: None,
            rects: [None; 2],
        }
    }
}

impl NetworkState {
    /// Normalised beta of the last search epoch, if a history is loaded and wanted.
    pub fn beta(&self, history: Option<&History>) -> Option<Beta> {
        history.filter(|_| self.show_beta).and_then(|h| h.epochs.last()).map(|e| e.weights)
    }

    /// Takes in a summary computed on a helper thread; returns the error to report, if any.
    pub fn summary_arrived(&mut self, s: Result<NetSummary, String>) -> Option<String> {
        self.pending = None;
        match s {
            Ok(s) => {
                self.summary = Some(s);
                None
            }
            Err(e) => Some(format!("cannot count the network's parameters: {e}")),
        }
    }

    /// Grabs figure `fig` from the next frame into `path` (a PNG); Err when it is not on screen.
    pub fn grab_png(
        &self,
        ctx: &egui::Context,
        fig: Figure,
        path: PathBuf,
        post: impl Fn(IoMsg) + Send + 'static,
    ) -> Result<(), String> {
        let Some(rect) = self.rects[fig as usize] else {
            return Err("the diagram is not on screen: open the Network tab first".into());
        };
        let ppp = ctx.pixels_per_point();
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(egui::ScreenshotCallback::new(move |img| {
            post(IoMsg::Exported(crop_png(&img, rect, ppp).and_then(|bytes| write_file(&path, &bytes))));
        })));
        Ok(())
    }
}

/// What the current image did on the path.
pub fn run_state(ctx: &Ctx) -> RunState {
    let Some(r) = ctx.results else { return RunState::default() };
    let mut cell_ms = vec![None; crate::network::card::NUM_CELLS];
    for c in &r.add.cells {
        if let Some(t) = cell_ms.get_mut(c.cell) {
            *t = Some(c.own_ms());
        }
    }
    let n = ctx.num_exits();
    RunState {
        cell_ms,
        stem_ms: r.add.cells.iter().find_map(|c| c.stem_ms),
        finished: !r.add.is_running(),
        exit_taken: if r.add.is_running() { None } else { ctx.decided().and_then(|d| d.exit) },
        exits_computed: (0..n).map(|k| r.add.maps(k).is_some()).collect(),
    }
}

/// Starts computing the parameter and Multi-Add summary for `card` at the image's input size,
/// unless it is known or already on its way.
fn request_summary(ctx: &Ctx, st: &mut NetworkState, acts: &mut Actions, card: &ArchCard) {
    let input = ctx.results.and_then(|r| r.add.input_size).map(|(w, h)| (h, w)).unwrap_or(DEFAULT_INPUT);
    if st.summary.as_ref().is_some_and(|s| s.matches(card, input)) {
        return;
    }
    let key = (card.name.clone(), input);
    if st.pending.as_ref() == Some(&key) {
        return;
    }
    st.pending = Some(key);
    let card = card.clone();
    acts.spawn(move || {
        Some(IoMsg::Summary(Box::new(
            super::net_summary::summarize(&card, input.0, input.1).map_err(|e| format!("{e:#}")),
        )))
    });
}

fn dag_notes(card: &ArchCard, i: usize) -> Vec<String> {
    let f = properties::facts(card, i, None, None, None);
    f.into_iter().filter(|(k, _)| k.starts_with('h')).map(|(k, v)| format!("{k}: {v}")).collect()
}

/// Draws the tab.
pub fn show(ui: &mut egui::Ui, ctx: &Ctx, st: &mut NetworkState) -> Actions {
    let mut acts = Actions::default();
    let card = ctx.card();
    request_summary(ctx, st, &mut acts, &card);
    if st.selected.is_some_and(|i| i >= card.path.len()) {
        st.selected = None;
    }
    let pal = Palette::from_visuals(ui.visuals());
    let run = run_state(ctx);
    let width = (ui.available_width() - 8.0).max(trellis::MIN_WIDTH);
    let history = ctx.extras.history.as_deref();
    let opts = TrellisOpts { dense: st.dense, beta: st.beta(history), selected: st.selected };
    let (trellis_d, hits) = trellis::build(&card, &run, &opts, width, &pal);
    // The export is drawn at a fixed width; the screen's follows the space left of the panel.
    let dag_for = |i: usize, w: f32| cell_dag::build(&card, i, &dag_notes(&card, i), w, &pal);
    let dag = st.selected.map(|i| dag_for(i, 900.0));
    controls(ui, st, &mut acts, history.is_some(), &card, &trellis_d, dag.as_ref());
    egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
        let (rect, _) = ui.allocate_exact_size(trellis_d.size, egui::Sense::hover());
        trellis_d.paint(ui.painter(), rect.min);
        st.rects[0] = Some(rect);
        cell_widgets(ui, ctx, st, &card, rect, &hits);
        ui.add_space(6.0);
        match (st.selected, dag) {
            (Some(i), Some(_)) => {
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.set_width(PROPS_WIDTH);
                        ui.heading(format!("Properties of cell {i}"));
                        let r = ctx.results.map(|r| &r.add);
                        let rows = properties::facts(&card, i, st.summary.as_ref(), r, run.exit_taken);
                        properties::grid(ui, "cell_props", &rows, Some(PROPS_WIDTH - 110.0));
                    });
                    let dag = dag_for(i, ui.available_width().min(1000.0));
                    let (rect, _) = ui.allocate_exact_size(dag.size, egui::Sense::hover());
                    dag.paint(ui.painter(), rect.min);
                    st.rects[1] = Some(rect);
                });
            }
            _ => {
                st.rects[1] = None;
                ui.label(
                    "Click a cell (or focus it with Tab and press Enter) to see its properties and its block DAG.",
                );
            }
        }
    });
    acts
}

/// The view's controls: dense connections, beta, exports.
fn controls(
    ui: &mut egui::Ui,
    st: &mut NetworkState,
    acts: &mut Actions,
    has_history: bool,
    card: &ArchCard,
    trellis_d: &Diagram,
    dag: Option<&Diagram>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(&card.name).strong());
        ui.label(format!("path {:?}, exits after cells {:?}", card.path, card.exits));
        ui.separator();
        ui.label("Dense connections:");
        let dense_ok = card.kind == crate::network::ModelKind::Add;
        ui.add_enabled_ui(dense_ok, |ui| {
            ui.selectable_value(&mut st.dense, DenseMode::Off, "off");
            ui.selectable_value(&mut st.dense, DenseMode::Selected, "selected cell");
            ui.selectable_value(&mut st.dense, DenseMode::All, "all");
        });
        let mut beta = st.show_beta && has_history;
        let resp = ui.add_enabled(has_history, egui::Checkbox::new(&mut beta, "Beta as edge width"));
        if resp.on_disabled_hover_text("no search_history.json next to the model").changed() {
            st.show_beta = beta;
        }
        ui.separator();
        if ui.button("Export trellis SVG...").clicked() {
            save_svg(acts, trellis_d, "trellis.svg");
        }
        if ui.button("Export trellis PNG...").clicked() {
            save_png(acts, Figure::Trellis);
        }
        if let Some(d) = dag {
            if ui.button("Export cell SVG...").clicked() {
                save_svg(acts, d, "cell.svg");
            }
            if ui.button("Export cell PNG...").clicked() {
                save_png(acts, Figure::CellDag);
            }
        }
    });
}

/// Focusable, clickable areas over the trellis cells, with their properties as a tooltip.
fn cell_widgets(
    ui: &mut egui::Ui,
    ctx: &Ctx,
    st: &mut NetworkState,
    card: &ArchCard,
    origin: Rect,
    hits: &[(usize, Rect)],
) {
    let run = ctx.results.map(|r| &r.add);
    let taken = run_state(ctx).exit_taken;
    for &(i, r) in hits {
        let rect = r.translate(origin.min.to_vec2());
        let resp = ui.interact(rect, ui.scope_id().with(("cell", i)), egui::Sense::click());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Cell {i}")));
        if resp.has_focus() {
            ui.painter().rect_stroke(rect.expand(2.0), 5.0, ui.visuals().selection.stroke, egui::StrokeKind::Outside);
        }
        let summary = st.summary.as_ref();
        let resp = resp.on_hover_ui(|ui| {
            properties::grid(ui, "cell_tip", &properties::facts(card, i, summary, run, taken), None);
        });
        if resp.clicked() {
            st.selected = if st.selected == Some(i) { None } else { Some(i) };
        }
    }
}

/// Asks where to save, then writes the diagram's SVG there.
fn save_svg(acts: &mut Actions, d: &Diagram, name: &'static str) {
    let svg = svg_export::to_svg(d);
    acts.spawn(move || {
        let path = rfd::FileDialog::new().set_file_name(name).add_filter("SVG", &["svg"]).save_file()?;
        Some(IoMsg::Exported(write_file(&path, svg.as_bytes())))
    });
}

/// Asks where to save; the app then grabs the figure from the next frame.
fn save_png(acts: &mut Actions, fig: Figure) {
    let name = if fig == Figure::Trellis { "trellis.png" } else { "cell.png" };
    acts.spawn(move || {
        let path = rfd::FileDialog::new().set_file_name(name).add_filter("PNG", &["png"]).save_file()?;
        Some(IoMsg::PickedFigurePng(fig, path))
    });
}

/// The pixels of `rect` (in points) of a screenshot, as PNG bytes.
pub fn crop_png(img: &egui::ColorImage, rect: Rect, ppp: f32) -> Result<Vec<u8>, String> {
    let x0 = ((rect.min.x * ppp).round().max(0.0) as usize).min(img.size[0]);
    let y0 = ((rect.min.y * ppp).round().max(0.0) as usize).min(img.size[1]);
    let x1 = ((rect.max.x * ppp).round() as usize).clamp(x0, img.size[0]);
    let y1 = ((rect.max.y * ppp).round() as usize).clamp(y0, img.size[1]);
    if x1 == x0 || y1 == y0 {
        return Err("the diagram is outside the window".into());
    }
    let mut out = image::RgbaImage::new((x1 - x0) as u32, (y1 - y0) as u32);
    for y in y0..y1 {
        for x in x0..x1 {
            let c = img.pixels[y * img.size[0] + x].to_srgba_unmultiplied();
            out.put_pixel((x - x0) as u32, (y - y0) as u32, image::Rgba(c));
        }
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    out.write_to(&mut bytes, image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}
