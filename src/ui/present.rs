//! Presenter mode (F5, or "Present" in the toolbar): the image on screen, full screen and in large
//! type, told as a step-through of its real run: the photo; the path lighting up cell by cell
//! with each cell's measured time; each exit's mask fading in with the decision maker's verdict in
//! words; and last the full Auto-DeepLab output beside the answer, with the time saved. Space or
//! the right arrow steps (past the last step, to the playlist's next image: the browser's rows,
//! the samples or the folder), the left arrow goes back, B blanks the screen, Esc leaves.

use super::decision;
use super::overlay::{self, Content, Src};
use super::panel::{Action, Actions, Ctx};
use super::results::ImageResults;
use super::textures::{self, Textures};
use crate::network::card::NUM_CELLS;
use eframe::egui::{self, Color32, FontId, Key, Pos2, Rect, RichText, Sense, pos2, vec2};

/// How long a mask takes to fade in, in seconds.
pub const FADE: f32 = 0.5;

/// One step of the story of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Photo,
    /// The n-th cell the run computed (an index into its cell times).
    Cell(usize),
    /// An exit the run reached (0-based), right after its cell.
    Exit(usize),
    /// The full Auto-DeepLab output beside the answer.
    Full,
}

/// The steps of `r`'s run, in order: each reached exit right after its cell.
pub fn steps(r: &ImageResults, exit_cells: &[usize]) -> Vec<Step> {
    let mut v = vec![Step::Photo];
    for (i, c) in r.add.cells.iter().enumerate() {
        v.push(Step::Cell(i));
        if let Some(k) = exit_cells.iter().position(|&e| e == c.cell)
            && r.add.exit(k).is_some()
        {
            v.push(Step::Exit(k));
        }
    }
    if r.full.as_ref().is_some_and(|f| f.maps(0).is_some()) {
        v.push(Step::Full);
    }
    v
}

/// What the presenter owns.
pub struct PresenterState {
    /// Whether the window presents (the app shows nothing else then).
    pub active: bool,
    pub step: usize,
    /// B: the screen is black.
    pub blank: bool,
    /// Whether the bottom line names the keys (not in an exported talk, where nobody presses).
    pub key_hints: bool,
    /// The image the steps are of (a new image starts at the photo).
    image_id: u64,
    /// When (egui's clock, seconds) the current step came on screen, for the fade; set on its
    /// first frame.
    since: Option<f64>,
    tex: Textures<String>,
}

impl Default for PresenterState {
    fn default() -> Self {
        PresenterState {
            active: false,
            step: 0,
            blank: false,
            key_hints: true,
            image_id: 0,
            since: None,
            tex: Textures::default(),
        }
    }
}

impl PresenterState {
    /// Enters presenter mode at `step` (kept within the steps when drawn).
    pub fn start_at(&mut self, step: usize) {
        self.active = true;
        self.go(step);
        // a step jumped to is shown whole; only stepping fades a mask in
        self.since = Some(f64::NEG_INFINITY);
    }

    fn go(&mut self, step: usize) {
        self.step = step;
        self.since = None;
    }
}

/// Draws the presentation and handles its keys.
pub fn show(ui: &mut egui::Ui, ctx: &Ctx, st: &mut PresenterState) -> Actions {
    let mut acts = Actions::default();
    let Some(r) = ctx.results else {
        match ctx.loading {
            Some(path) => opening(ui, ctx, st, path, &mut acts),
            None => acts.push(Action::Present(false)),
        }
        return acts;
    };
    if st.image_id != r.image_id {
        if st.image_id != 0 {
            st.go(0); // the next image of the folder starts at its photo
        }
        st.image_id = r.image_id;
    }
    let all = steps(r, &ctx.card().exit_cells());
    st.step = st.step.min(all.len() - 1);
    keys(ui, ctx, st, all.len(), &mut acts);
    let rect = ui.max_rect();
    ui.painter().rect_filled(rect, 0.0, Color32::BLACK);
    if st.blank {
        return acts;
    }
    let size = (rect.height() / 22.0).clamp(16.0, 48.0);
    let step = all[st.step];
    let (text, contents) = describe(ctx, r, step);
    let now = ui.input(|i| i.time);
    let shown_for = (now - *st.since.get_or_insert(now)) as f32;
    let fade = match step {
        Step::Exit(_) | Step::Full if shown_for < FADE => {
            ui.ctx().request_repaint();
            shown_for / FADE
        }
        _ => 1.0,
    };
    let text_h = size * 3.2;
    let pictures = Rect::from_min_max(rect.min + vec2(20.0, 20.0), pos2(rect.max.x - 20.0, rect.max.y - text_h));
    paint_panes(ui, ctx, st, r, &contents, pictures, fade);
    if matches!(step, Step::Cell(_) | Step::Exit(_)) {
        path_strip(ui, r, &all[..=st.step], pictures, size);
    }
    let text_at = pos2(rect.center().x, rect.max.y - text_h + size * 0.4);
    let line = fitted(ui, &text, size, rect.width() - 40.0);
    // centred on its own rect (a wrapped, centred layout has rows on both sides of its origin)
    ui.painter().galley(pos2(text_at.x - line.rect.center().x, text_at.y), line, Color32::WHITE);
    let place = match ctx.playlist {
        Some(p) if p.len() > 1 => format!("image {} of {} ({})   ", p.at + 1, p.len(), p.source),
        _ => String::new(),
    };
    let keys = if st.key_hints { "   Space or Right: next   Left: back   B: blank   Esc: leave" } else { "" };
    let hint = format!("{place}step {} / {}{keys}", st.step + 1, all.len());
    let hint_at = pos2(rect.center().x, rect.max.y - size * 0.9);
    ui.painter().text(hint_at, egui::Align2::CENTER_TOP, &hint, FontId::proportional(size * 0.45), Color32::GRAY);
    // the words as a label too, so screen readers (and tests) read what is on screen
    let said = format!("{text}\n{hint}");
    ui.put(Rect::from_min_size(rect.min, vec2(1.0, 1.0)), egui::Label::new(RichText::new(said).size(0.1)));
    acts
}

/// `text` in one line of at most `width`: at `size`, or smaller down to 70 % of it, else wrapped
/// (the bottom band has room for two lines).
fn fitted(ui: &egui::Ui, text: &str, size: f32, width: f32) -> std::sync::Arc<egui::Galley> {
    let at = |s: f32| ui.painter().layout_no_wrap(text.to_string(), FontId::proportional(s), Color32::WHITE);
    let line = at(size);
    let s = (size * width / line.size().x).min(size);
    if s >= size * 0.7 {
        return if s < size { at(s) } else { line };
    }
    let small = FontId::proportional(size * 0.7);
    let mut job = egui::text::LayoutJob::simple(text.to_string(), small, Color32::WHITE, width);
    job.halign = egui::Align::Center;
    ui.painter().layout_job(job)
}

/// A black screen naming the image being opened (the playlist's next), with the keys still on.
fn opening(ui: &mut egui::Ui, ctx: &Ctx, st: &mut PresenterState, path: &std::path::Path, acts: &mut Actions) {
    keys(ui, ctx, st, 1, acts);
    let rect = ui.max_rect();
    ui.painter().rect_filled(rect, 0.0, Color32::BLACK);
    let size = (rect.height() / 22.0).clamp(16.0, 48.0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let text = format!("Opening {name}\u{2026}");
    ui.painter().text(rect.center(), egui::Align2::CENTER_CENTER, &text, FontId::proportional(size), Color32::GRAY);
    ui.put(Rect::from_min_size(rect.min, vec2(1.0, 1.0)), egui::Label::new(RichText::new(text).size(0.1)));
}

/// Space / Right / PageDown step on (past the end, to the playlist's next image), Left / PageUp
/// back (before the photo, to the playlist's previous image), B blanks, Esc leaves.
fn keys(ui: &egui::Ui, ctx: &Ctx, st: &mut PresenterState, n: usize, acts: &mut Actions) {
    let can_step = |d: isize| ctx.playlist.is_some_and(|p| p.can_step(d));
    let pressed = |k: Key| ui.ctx().input(|i| i.key_pressed(k));
    if pressed(Key::Escape) {
        acts.push(Action::Present(false));
    }
    if pressed(Key::B) {
        st.blank = !st.blank;
    }
    if pressed(Key::Space) || pressed(Key::ArrowRight) || pressed(Key::PageDown) {
        if st.step + 1 < n {
            st.go(st.step + 1);
        } else if can_step(1) {
            acts.push(Action::StepPlaylist(1));
        }
    }
    if pressed(Key::ArrowLeft) || pressed(Key::PageUp) {
        if st.step > 0 {
            st.go(st.step - 1);
        } else if can_step(-1) {
            acts.push(Action::StepPlaylist(-1));
        }
    }
}

/// The step's sentence and the panes it shows (side by side).
fn describe(ctx: &Ctx, r: &ImageResults, step: Step) -> (String, Vec<Content>) {
    match step {
        Step::Photo => (format!("{}: what the network sees", r.name), vec![Content::Photo]),
        Step::Cell(i) => {
            let c = &r.add.cells[i];
            let so_far: f64 = r.add.cells[..=i].iter().map(|c| c.cell_ms).sum();
            let text = format!(
                "Cell {} of {NUM_CELLS}, level {} (1/{}): {:.0} ms, {:.0} ms so far",
                c.cell,
                c.level,
                4 << c.level,
                c.cell_ms,
                so_far
            );
            (text, vec![Content::Photo])
        }
        Step::Exit(k) => {
            let policy = ctx.settings.policy;
            let d = decision::decide(&policy, &r.add, ctx.num_exits());
            let v = d.verdicts.get(k).cloned().unwrap_or(decision::Verdict::NotReached);
            let why = decision::reason(&policy, decision::stats_at(&r.add, k, &policy), &v)
                .replace("<=", "\u{2264}")
                .replace(">=", "\u{2265}")
                .replace(": stop", ": stop here")
                .replace(": go on", ": go on to the next exit");
            let head = if r.add.maps(k).is_some() { "" } else { " (its head was skipped)" };
            (format!("Exit {}: {why}{head}", k + 1), vec![Content::Mask(Src::Exit(k))])
        }
        Step::Full => {
            let k = ctx.decided().and_then(|d| d.exit).filter(|&k| r.add.maps(k).is_some());
            let full_ms = r.full.as_ref().and_then(|f| f.total_ms());
            let text = match (k, k.and_then(|k| r.add.exit(k)), full_ms) {
                (Some(k), Some(e), Some(f)) if e.time_ms < f => format!(
                    "Full Auto-DeepLab: {f:.0} ms. Exit {} answered in {:.0} ms: {:.0} ms saved ({:.1}x)",
                    k + 1,
                    e.time_ms,
                    f - e.time_ms,
                    f / e.time_ms.max(1e-9)
                ),
                (Some(k), Some(e), Some(f)) => {
                    format!("Full Auto-DeepLab: {f:.0} ms. Exit {} took {:.0} ms: no time saved here", k + 1, e.time_ms)
                }
                _ => "Full Auto-DeepLab, beside the answer".to_string(),
            };
            let answer = k.map_or(Content::Photo, |k| Content::Mask(Src::Exit(k)));
            (text, vec![answer, Content::Mask(Src::Full)])
        }
    }
}

/// The photo with each pane's overlay, fitted side by side into `area`.
fn paint_panes(
    ui: &mut egui::Ui,
    ctx: &Ctx,
    st: &mut PresenterState,
    r: &ImageResults,
    contents: &[Content],
    area: Rect,
    fade: f32,
) {
    let egui_ctx = ui.ctx().clone();
    let (iw, ih) = r.size();
    let photo = st.tex.get(&egui_ctx, "photo", &format!("{}", r.image_id), textures::PHOTO, || {
        Some(egui::ColorImage::from_rgb([iw, ih], r.image.as_raw()))
    });
    let (palette, hidden) = (ctx.palette(), ctx.settings.hidden_classes.clone());
    let n = contents.len().max(1) as f32;
    let cell_w = (area.width() - 20.0 * (n - 1.0)) / n;
    let scale = (cell_w / iw as f32).min(area.height() / ih as f32);
    let size = vec2(iw as f32 * scale, ih as f32 * scale);
    let uv = Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0));
    for (i, &c) in contents.iter().enumerate() {
        let centre = pos2(area.min.x + cell_w * (i as f32 + 0.5) + 20.0 * i as f32, area.center().y);
        let at = Rect::from_center_size(centre, size);
        if let Some((t, _)) = photo {
            ui.painter().image(t, at, uv, Color32::WHITE);
        }
        if c == Content::Photo {
            continue;
        }
        if contents.len() > 1 {
            let caption = c.caption(r);
            let font = FontId::proportional((area.height() / 24.0).clamp(14.0, 32.0));
            ui.painter().text(
                at.left_top() - vec2(0.0, 6.0),
                egui::Align2::LEFT_BOTTOM,
                caption,
                font,
                Color32::LIGHT_GRAY,
            );
        }
        let key = overlay::content_key(c, r, &hidden);
        let made = || overlay::content_image(c, r, &palette, &hidden);
        if let Some((t, _)) = st.tex.get(&egui_ctx, &format!("overlay{i}"), &key, textures::MASK, made) {
            let alpha = (ctx.settings.opacity.clamp(0.0, 1.0) * fade * 255.0).round() as u8;
            ui.painter().image(t, at, uv, Color32::from_white_alpha(alpha));
        }
    }
    ui.allocate_rect(area, Sense::hover());
}

/// The path as a strip of cells under the picture, lit up to the step shown; exits reached are
/// marked.
fn path_strip(ui: &mut egui::Ui, r: &ImageResults, done: &[Step], area: Rect, size: f32) {
    let lit: Vec<usize> =
        done.iter().filter_map(|s| if let Step::Cell(i) = s { Some(r.add.cells[*i].cell) } else { None }).collect();
    let w = (area.width() * 0.6 / NUM_CELLS as f32).min(size * 1.6);
    let y = area.max.y - size * 0.9;
    let x0 = area.center().x - w * NUM_CELLS as f32 / 2.0;
    for cell in 0..NUM_CELLS {
        let b = Rect::from_min_size(pos2(x0 + w * cell as f32, y), vec2(w - 4.0, size * 0.7));
        let on = lit.contains(&cell);
        let fill = if on { Color32::from_rgb(255, 200, 40) } else { Color32::from_gray(60) };
        ui.painter().rect_filled(b, 3.0, fill);
        let ink = if on { Color32::BLACK } else { Color32::GRAY };
        ui.painter().text(b.center(), egui::Align2::CENTER_CENTER, cell, FontId::proportional(size * 0.4), ink);
    }
}
