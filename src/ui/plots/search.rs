//! The search history written by `add search`: how the weight of each cell's chosen edge (the
//! normalised beta along the final path) grew over the epochs, and the two losses. A cell
//! search (`--cell-search`) adds alpha: each candidate op's mean weight over the cell's edges
//! per epoch, and the decoded cell; otherwise ADD keeps the Auto-DeepLab cell and the plot
//! says so.

use crate::network::card::{OP_NAMES, branch_offset};
use crate::search::reference::ReferenceRun;
use crate::search::result::History;
use crate::search::trellis::target;
use crate::ui::files::IoMsg;
use crate::ui::panel::{Actions, Ctx};
use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints};

/// Per cell, the normalised beta of the edge the final path takes, at every epoch.
pub fn path_weights(h: &History) -> Vec<Vec<[f64; 2]>> {
    let Some(last) = h.epochs.last() else { return Vec::new() };
    let path = &last.path;
    (0..path.len())
        .map(|i| {
            let s = if i == 0 { 0 } else { path[i - 1] as usize };
            let r = (0..3).find(|&r| target(s, r) == Some(path[i] as usize)).unwrap_or(1);
            h.epochs.iter().map(|e| [e.epoch as f64, e.weights[i][s][r] as f64]).collect()
        })
        .collect()
}

/// Per candidate op (in [`OP_NAMES`] order), its softmax weight averaged over the cell's
/// edges, at every epoch that recorded alpha: which kinds of op the cell search favours.
pub fn op_weights(h: &History) -> Vec<Vec<[f64; 2]>> {
    (0..OP_NAMES.len())
        .map(|o| {
            h.epochs
                .iter()
                .filter_map(|e| {
                    let w = e.op_weights.as_ref().filter(|w| !w.is_empty())?;
                    let mean =
                        w.iter().map(|row| row.get(o).copied().unwrap_or(0.0) as f64).sum::<f64>() / w.len() as f64;
                    Some([e.epoch as f64, mean])
                })
                .collect()
        })
        .collect()
}

/// The decoded cell in words, one block per item: "block 0: skip_connect(h1) + sep_conv_3x3(h0)".
pub fn genotype_text(genotype: &[[usize; 2]]) -> Vec<String> {
    let state = |branch: usize, block: usize| -> String {
        let j = branch - branch_offset(block);
        match j {
            0 => "h0".into(),
            1 => "h1".into(),
            k => format!("block {}", k - 2),
        }
    };
    genotype
        .chunks(2)
        .enumerate()
        .map(|(block, rows)| {
            let parts: Vec<String> = rows
                .iter()
                .map(|r| format!("{}({})", OP_NAMES.get(r[1]).copied().unwrap_or("?"), state(r[0], block)))
                .collect();
            format!("block {block}: {}", parts.join(" + "))
        })
        .collect()
}

/// (epoch, mIoU) of every epoch of a reference search that recorded one.
pub fn miou_points(h: &History, r: &ReferenceRun) -> Vec<[f64; 2]> {
    h.epochs.iter().zip(&r.epochs).filter_map(|(e, x)| Some([e.epoch as f64, x.miou?])).collect()
}

/// Where an imported history came from, and how far our decoding agrees with the reference's.
fn reference_summary(ui: &mut egui::Ui, r: &ReferenceRun) {
    let agree = r.epochs.iter().filter(|e| e.viterbi_agrees).count();
    ui.label(format!("Imported from the reference search {}: paths as the reference decoded them.", r.folder));
    ui.label(format!(
        "Our Viterbi on the same betas gives the reference's path in {agree} of {} epochs (the reference may end at \
         level 0, where a card cannot put the head). The reference records no losses: the second plot is its mIoU.",
        r.epochs.len()
    ));
}

/// The history in words: epochs, final path, how decided beta is, and the decoded cell (which
/// it returns when the cell was searched).
fn describe(ui: &mut egui::Ui, h: &History) -> Option<Vec<[usize; 2]>> {
    ui.label(format!(
        "{} epochs; final path {:?}",
        h.epochs.len(),
        h.epochs.last().map(|e| e.path.clone()).unwrap_or_default()
    ));
    if let Some(last) = h.epochs.last() {
        ui.label(format!(
            "Decided {:.2} of the way from uniform edge weights to one edge per node.",
            crate::search::trellis::decisiveness(&last.beta)
        ));
    }
    if let Some(mut w) = crate::search::searcher::undecided_warning(&h.epochs) {
        w[..1].make_ascii_uppercase();
        ui.label(egui::RichText::new(w).color(ui.visuals().warn_fg_color));
    }
    let genotype = h.epochs.last().and_then(|e| e.genotype.clone());
    match &genotype {
        Some(g) => {
            ui.label("Cell searched (alpha); the decoded cell:");
            for line in genotype_text(g) {
                ui.label(line);
            }
        }
        None => {
            ui.label("Cell-level alpha was not searched: ADD keeps the Auto-DeepLab cell (`add search --cell-search` searches it).");
        }
    }
    genotype
}

pub fn show(ui: &mut egui::Ui, ctx: &Ctx, acts: &mut Actions) {
    ui.horizontal(|ui| {
        let open = ui.button("Open search history...");
        let open = open.on_hover_text("A folder: the --out of `add search`, or a reference search experiment folder");
        if open.clicked() {
            acts.spawn(|| {
                let dir = rfd::FileDialog::new().set_title("Search history folder").pick_folder()?;
                Some(IoMsg::ModelExtras(Box::new(crate::ui::extras::history_extras(&dir))))
            });
        }
    });
    let Some(h) = ctx.extras.history.clone() else {
        ui.label("No search_history.json next to the model (written by `add search`).");
        return;
    };
    let reference = ctx.extras.reference.clone();
    if let Some(r) = &reference {
        reference_summary(ui, r);
    }
    let genotype = describe(ui, &h);
    let lines = path_weights(&h);
    ui.columns(2, |cols| {
        Plot::new("beta_epochs")
            .height(240.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("beta on the path")
            .include_y(0.0)
            .include_y(1.0)
            .show(&mut cols[0], |p| {
                for (i, pts) in lines.iter().enumerate() {
                    p.line(Line::new(format!("cell {i}"), PlotPoints::new(pts.clone())));
                }
            });
        if let Some(r) = &reference {
            Plot::new("search_miou")
                .height(240.0)
                .legend(Legend::default())
                .x_axis_label("epoch")
                .y_axis_label("mIoU")
                .show(&mut cols[1], |p| {
                    p.line(Line::new("validation mIoU (miou.txt)", PlotPoints::new(miou_points(&h, r))))
                });
            return;
        }
        Plot::new("search_loss")
            .height(240.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("loss")
            .show(&mut cols[1], |p| {
                let w: Vec<[f64; 2]> = h.epochs.iter().map(|e| [e.epoch as f64, e.loss]).collect();
                let a: Vec<[f64; 2]> = h.epochs.iter().filter_map(|e| Some([e.epoch as f64, e.arch_loss?])).collect();
                p.line(Line::new("weight loss (half A)", PlotPoints::new(w)));
                p.line(Line::new("architecture loss (half B)", PlotPoints::new(a)));
            });
    });
    if genotype.is_some() {
        let ops = op_weights(&h);
        Plot::new("alpha_epochs")
            .height(240.0)
            .legend(Legend::default())
            .x_axis_label("epoch")
            .y_axis_label("mean op weight (alpha)")
            .include_y(0.0)
            .show(ui, |p| {
                for (name, pts) in OP_NAMES.iter().zip(ops) {
                    p.line(Line::new(*name, PlotPoints::new(pts)));
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoded_cell_reads_in_words() {
        let g = [[1, 3], [0, 4], [2, 6], [4, 0]];
        assert_eq!(
            genotype_text(&g),
            vec!["block 0: skip_connect(h1) + sep_conv_3x3(h0)", "block 1: dil_conv_3x3(h0) + none(block 0)"]
        );
    }
}
