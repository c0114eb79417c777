//! `add card`: writes the architecture card a training run would build (a preset or a card
//! file, with the head and stem narrowed as `add train` narrows them), so that another trainer
//! (pytorch/add_torch) trains exactly the network `add` opens.
//!
//! With the reference search's numpy outputs it builds the card of a reference architecture:
//! `--network-path` (its `network_path.npy`) and `--genotype` (a `genotype*.npy`) replace the
//! path and the cell of `--arch`, which still gives the family, F, the heads and the EDM.
//! `--reference-search DIR` imports a reference search experiment folder: the card takes its
//! last epoch's path, and `search_history.json` (per epoch the betas, the decoded path and the
//! mIoU) is written next to `--out`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::search::reference::{HistoryFile, import_search, reference_card};

/// Options of `add card`.
#[derive(Debug, Clone, clap::Args)]
pub struct CardArgs {
    #[command(flatten)]
    pub shape: super::train::ShapeArgs,
    /// The reference's `network_path.npy` (12 levels): the card's path.
    #[arg(long, value_name = "FILE")]
    pub network_path: Option<PathBuf>,
    /// A reference `genotype*.npy` (rows [branch, op], two per block): the card's cell.
    #[arg(long, value_name = "FILE")]
    pub genotype: Option<PathBuf>,
    /// A reference search experiment folder (epoch folders with betas.npy, network_path.npy,
    /// miou.txt): writes search_history.json next to --out; the card takes the last path.
    #[arg(long, value_name = "DIR")]
    pub reference_search: Option<PathBuf>,
    /// Early-exit cells, comma-separated (the reference's C_index, e.g. 5 or 3,7); `none` for
    /// none [default: those of --arch].
    #[arg(long, value_name = "CELLS")]
    pub exits: Option<String>,
    /// Number of classes (19: Cityscapes' names and colours) [default: those of --arch].
    #[arg(long)]
    pub classes: Option<usize>,
    /// Where to write the card (JSON).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Replace --out (and search_history.json next to it) if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Parses `--exits`: `5`, `3,7`, or `none`.
fn parse_exits(text: &str) -> anyhow::Result<Vec<usize>> {
    if text.trim() == "none" {
        return Ok(Vec::new());
    }
    text.split(',').map(|c| c.trim().parse().with_context(|| format!("--exits {text}: cells are numbers"))).collect()
}

fn write_new(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        force || !path.exists(),
        "{} exists: pass --force to replace it, or choose another --out",
        path.display()
    );
    crate::fsutil::atomic_write(path, text.as_bytes()).with_context(|| format!("{}: cannot write", path.display()))
}

/// Runs `add card`.
pub fn run(args: CardArgs) -> anyhow::Result<()> {
    let mut card = args.shape.card()?;
    let exits = args.exits.as_deref().map(parse_exits).transpose()?;
    let mut history: Option<HistoryFile> = None;
    if let Some(dir) = &args.reference_search {
        let exit_cells = exits.clone().unwrap_or_else(|| card.exits.clone());
        let h = import_search(dir, &exit_cells)?;
        if args.network_path.is_none()
            && let Some(last) = h.history.epochs.last()
        {
            card.path = last.path.clone();
        }
        history = Some(h);
    }
    let reference = args.network_path.is_some() || args.genotype.is_some() || history.is_some();
    if reference || exits.is_some() || args.classes.is_some() {
        card = reference_card(
            &card,
            args.network_path.as_deref(),
            args.genotype.as_deref(),
            exits.as_deref(),
            args.classes,
        )?;
    }
    if reference {
        card.name = format!("reference search: {}", card.name);
    }
    write_new(&args.out, &card.to_json(), args.force)?;
    println!("{}: {} (path {:?}, exits {:?}, B={})", args.out.display(), card.name, card.path, card.exits, card.b);
    if let Some(h) = history {
        let file = args.out.parent().unwrap_or(Path::new(".")).join("search_history.json");
        let text = serde_json::to_string_pretty(&h).context("history to JSON")?;
        write_new(&file, &text, args.force)?;
        let agree = h.reference.as_ref().map_or(0, |r| r.epochs.iter().filter(|e| e.viterbi_agrees).count());
        println!(
            "{}: {} epochs; our Viterbi gives the reference's path in {agree} of them",
            file.display(),
            h.history.epochs.len()
        );
    }
    Ok(())
}
