//! The dataset table as CSV: the rows shown, in the order shown, with the same numbers as the
//! screen (under the current policy). Written atomically so a crash never leaves half a file.

use super::BrowserState;
use super::table::{RowView, TableView, cells};
use crate::jobs::DatasetRow;
use crate::ui::files::{IoMsg, write_file};
use crate::ui::panel::{Actions, Ctx};

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The CSV text of `view`'s rows.
pub fn table_csv(rows: &[DatasetRow], view: &TableView, exits: usize, class_names: &[String]) -> String {
    let with_difficulty = rows.iter().any(|r| r.difficulty.is_some());
    let mut head =
        vec!["image".to_string(), "exit_taken".into(), "edm_score".into(), "time_ms".into(), "multi_adds".into()];
    head.extend((1..=exits).map(|k| format!("iou_exit{k}")));
    head.extend(["agree_full".to_string(), "worst_class".into()]);
    if with_difficulty {
        head.push("difficulty".into());
    }
    let mut s = head.join(",") + "\n";
    for &i in &view.order {
        let v: &RowView = &view.views[i];
        let mut c = cells(&rows[i], v, class_names, with_difficulty);
        c[4] = v.madds.to_string(); // exact, not "1.23 G"
        s.push_str(&c.iter().map(|x| quote(x)).collect::<Vec<_>>().join(","));
        s.push('\n');
    }
    s
}

/// Asks where to save, then writes the table there (off the UI thread).
pub fn save(ctx: &Ctx, state: &BrowserState, acts: &mut Actions) {
    let card = ctx.card();
    let names: Vec<String> = card.classes.iter().map(|c| c.name.clone()).collect();
    let text = table_csv(&ctx.dataset.rows, &state.view, card.num_exits(), &names);
    acts.spawn(move || {
        let path = rfd::FileDialog::new().set_file_name("dataset.csv").add_filter("CSV", &["csv"]).save_file()?;
        Some(IoMsg::Exported(write_file(&path, text.as_bytes())))
    });
}
