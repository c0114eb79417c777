//! The report as one HTML page: plain tables, thumbnails by relative path, the confusion matrix
//! shaded by row share, the speed-vs-mIoU plot as inline SVG. No script, no external file.

use std::fmt::Write;

use super::Report;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}", 100.0 * v))
}

/// The whole page.
pub fn html(r: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Failure report: {}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;margin:8px 0}}\
         td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} th{{background:#f3f3f3}} td.l,th.l{{text-align:left}}\
         .img{{display:inline-block;margin:2px;vertical-align:top;font-size:12px}} .img img{{display:block;width:240px}}\
         .case{{border-top:1px solid #ddd;padding:8px 0}} .cm td{{font-size:11px;padding:1px 3px}}</style></head><body>",
        esc(&r.model_name)
    );
    summary(&mut s, r);
    by_difficulty(&mut s, r);
    per_class(&mut s, r);
    plot(&mut s, r);
    confusion(&mut s, r);
    for (title, shown) in &r.sections {
        let _ = write!(s, "<h2>{}</h2>", esc(title));
        if shown.is_empty() {
            s.push_str("<p>No image fits this criterion under this policy.</p>");
        }
        for (n, case) in shown.iter().enumerate() {
            let _ = write!(s, "<div class=\"case\"><b>{}. {}</b>: {}<br>", n + 1, esc(&case.image), esc(&case.note));
            for (file, caption) in &case.thumbs {
                let _ = write!(
                    s,
                    "<div class=\"img\"><img src=\"images/{}\" alt=\"{}\">{}</div>",
                    esc(file),
                    esc(caption),
                    esc(caption)
                );
            }
            s.push_str("</div>");
        }
    }
    s.push_str("</body></html>\n");
    s
}

fn summary(s: &mut String, r: &Report) {
    let _ = write!(
        s,
        "<h1>Failure report: {}</h1><p>Model <code>{}</code>{}; data {} ({} images); policy <code>{}</code>.</p>",
        esc(&r.model_name),
        esc(&r.model_file),
        r.baseline_file.as_ref().map(|b| format!(", baseline <code>{}</code>", esc(b))).unwrap_or_default(),
        esc(&r.data),
        r.images,
        esc(&r.policy)
    );
    s.push_str(
        "<table><tr><th class=\"l\">setting</th><th>exit rates</th><th>mIoU</th><th>mean ms</th><th>speed-up</th></tr>",
    );
    for row in &r.rows {
        let rates: Vec<String> = row.exit_rate.iter().map(|x| format!("{:.0} %", 100.0 * x)).collect();
        let _ = write!(
            s,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{:.2}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&row.policy),
            rates.join(" / "),
            row.miou,
            row.mean_ms,
            row.speedup.map_or("-".into(), |x| format!("{x:.2}x"))
        );
    }
    if let (Some(m), Some(ms)) = (r.baseline_miou, r.baseline_ms) {
        let _ = write!(
            s,
            "<tr><td class=\"l\">full Auto-DeepLab</td><td></td><td>{m:.2}</td><td>{ms:.1}</td><td>1.00x</td></tr>"
        );
    }
    s.push_str("</table>");
}

/// The policy's exit rates per difficulty bin: a dynamic network answers easy scenes earlier.
fn by_difficulty(s: &mut String, r: &Report) {
    let Some(first) = r.by_difficulty.first() else { return };
    s.push_str("<h2>Exit rates by scene difficulty</h2><table><tr><th class=\"l\">difficulty</th><th>images</th>");
    for e in 0..first.exit_rate.len() {
        let _ = write!(s, "<th>exit {}</th>", e + 1);
    }
    s.push_str("</tr>");
    for b in &r.by_difficulty {
        let _ = write!(s, "<tr><td class=\"l\">{:.2} to {:.2}</td><td>{}</td>", b.from, b.to, b.images);
        for x in &b.exit_rate {
            let _ = write!(s, "<td>{}</td>", if b.images > 0 { format!("{:.0} %", 100.0 * x) } else { "-".into() });
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
}

fn per_class(s: &mut String, r: &Report) {
    s.push_str("<h2>IoU per class</h2><table><tr><th class=\"l\">class</th>");
    for (e, (cell, miou, _)) in r.exits.iter().enumerate() {
        let _ = write!(s, "<th>exit {} (cell {cell})<br>{miou:.2}</th>", e + 1);
    }
    s.push_str("</tr>");
    for (k, name) in r.classes.iter().enumerate() {
        let _ = write!(s, "<tr><td class=\"l\">{}</td>", esc(name));
        for (_, _, iou) in &r.exits {
            let _ = write!(s, "<td>{}</td>", pct(iou.get(k).copied().flatten()));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
}

/// Speed-up (x) against mIoU (y) of each setting, the baseline at 1x.
fn plot(s: &mut String, r: &Report) {
    let pts: Vec<(f64, f64, &str)> = r
        .rows
        .iter()
        .filter_map(|row| row.speedup.map(|x| (x, row.miou, row.policy.as_str())))
        .chain(r.baseline_miou.map(|m| (1.0, m, "full Auto-DeepLab")))
        .collect();
    if pts.is_empty() {
        s.push_str("<p>No baseline given: no speed-up to plot.</p>");
        return;
    }
    let (w, h, pad) = (560.0, 320.0, 48.0);
    let (x0, x1) =
        (0.9f64.min(pts.iter().map(|p| p.0).fold(f64::MAX, f64::min)), pts.iter().map(|p| p.0).fold(1.1, f64::max));
    let (y0, y1) = (
        pts.iter().map(|p| p.1).fold(f64::MAX, f64::min) - 1.0,
        pts.iter().map(|p| p.1).fold(f64::MIN, f64::max) + 1.0,
    );
    let sx = |x: f64| pad + (x - x0) / (x1 - x0) * (w - 2.0 * pad);
    let sy = |y: f64| h - pad - (y - y0) / (y1 - y0) * (h - 2.0 * pad);
    let _ = write!(
        s,
        "<h2>Speed against mIoU</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-size=\"11\">\
         <line x1=\"{pad}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{b}\" stroke=\"#444\"/>\
         <text x=\"{cx}\" y=\"{t}\" text-anchor=\"middle\">speed-up over full Auto-DeepLab ({x0:.2}x to {x1:.2}x)</text>\
         <text x=\"12\" y=\"{cy}\" transform=\"rotate(-90 12 {cy})\" text-anchor=\"middle\">mIoU ({y0:.1} to {y1:.1})</text>",
        b = h - pad,
        r = w - pad,
        cx = w / 2.0,
        t = h - 12.0,
        cy = h / 2.0
    );
    // points numbered on the plot, named in the key below (labels of close points would overlap)
    let mut key = String::from("<ol>");
    for (n, (x, y, label)) in pts.iter().enumerate() {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1f6fb2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            sx(*x),
            sy(*y),
            sx(*x) + 5.0,
            sy(*y) - 5.0 - 10.0 * (n % 2) as f64,
            n + 1
        );
        let _ = write!(key, "<li>{}: {x:.2}x, {y:.2} mIoU</li>", esc(label));
    }
    s.push_str("</svg>");
    s.push_str(&key);
    s.push_str("</ol>");
}

/// Rows: label; columns: the policy's answer; each cell shaded by its share of the row.
fn confusion(s: &mut String, r: &Report) {
    let k = r.classes.len();
    s.push_str("<h2>Confusion matrix of the policy's answers</h2><p>Rows: label; columns: prediction; % of the row.</p><table class=\"cm\"><tr><th></th>");
    for name in &r.classes {
        let _ = write!(s, "<th>{}</th>", esc(name));
    }
    s.push_str("</tr>");
    for l in 0..k {
        let total: u64 = (0..k).map(|p| r.confusion.get(l, p)).sum();
        let _ = write!(s, "<tr><th class=\"l\">{}</th>", esc(&r.classes[l]));
        for p in 0..k {
            let share = if total > 0 { r.confusion.get(l, p) as f64 / total as f64 } else { 0.0 };
            let shade = 255 - (share * 200.0) as u8;
            let _ = write!(
                s,
                "<td style=\"background:rgb({shade},{shade},255)\">{}</td>",
                if total > 0 { format!("{:.0}", 100.0 * share) } else { "-".into() }
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
}
