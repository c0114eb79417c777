//! `add card`: writes the architecture card a training run would build (a preset or a card
//! file, with the head and stem narrowed as `add train` narrows them), so that another trainer
//! (pytorch/add_torch) trains exactly the network `add` opens.

use std::path::PathBuf;

use anyhow::Context;

/// Options of `add card`.
#[derive(Debug, Clone, clap::Args)]
pub struct CardArgs {
    #[command(flatten)]
    pub shape: crate::train::trainer::ShapeArgs,
    /// Where to write the card (JSON).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `add card`.
pub fn run(args: CardArgs) -> anyhow::Result<()> {
    let card = args.shape.card()?;
    anyhow::ensure!(
        args.force || !args.out.exists(),
        "{} exists: pass --force to replace it, or choose another --out",
        args.out.display()
    );
    crate::fsutil::atomic_write(&args.out, card.to_json().as_bytes())
        .with_context(|| format!("{}: cannot write", args.out.display()))?;
    println!("{}: {}", args.out.display(), card.name);
    Ok(())
}
