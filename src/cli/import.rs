//! `add import`: turn a reference PyTorch checkpoint (plus, optionally, its EDM checkpoint)
//! into our safetensors model with the card embedded, refusing to write a half model.

use std::path::PathBuf;

use crate::network::checkpoint::{self, TensorFile};
use crate::network::{ArchCard, EdmKind};

/// Options of `add import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The reference checkpoint (`torch.save({'state_dict': ...})` or a bare state dict).
    pub checkpoint: PathBuf,
    /// Output .safetensors file.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Architecture: a card file or a preset name (add-2, add-3, add-4, autodeeplab, autodeeplab-dense).
    #[arg(long)]
    pub arch: String,
    /// Filter multiplier F when --arch is a preset.
    #[arg(long, default_value_t = 20)]
    pub filters: usize,
    /// The reference EDM checkpoint (`train_edm.py`), for the first early exit.
    #[arg(long)]
    pub edm: Option<PathBuf>,
    /// Overwrite the output if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Why an imported reference EDM's scores mean something else here, and what to run instead.
fn edm_warning(edm: &std::path::Path, out: &std::path::Path) -> String {
    let out = out.display();
    format!(
        "warning: {}: a reference EDM's scores are not comparable with this model's exits. The reference \
         trained it on features from `get_feature`, whose ASPP input is sized wrongly, with an L1 loss that \
         broadcasts (N,1) against (N,) and so learns towards a batch-wide value; it does not predict the \
         entropy our correctly sized heads produce, and reference thresholds will not give reference exit \
         rates. Recalibrate the thresholds on your data: `add eval --model {out} --baseline BASELINE --data DIR \
         --out EVAL_DIR` (writes the presets), or retrain it: `add train-edm --model {out} --data DIR --kind scalar --out NEW`.",
        edm.display()
    )
}

/// Runs `add import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let mut card = if std::path::Path::new(&args.arch).exists() {
        ArchCard::load(std::path::Path::new(&args.arch))?
    } else {
        ArchCard::preset(&args.arch, args.filters)?
    };
    anyhow::ensure!(args.force || !args.out.exists(), "{} exists; pass --force to replace it", args.out.display());
    let mut file = TensorFile::read(&args.checkpoint)?;
    match &args.edm {
        Some(edm) => {
            anyhow::ensure!(
                card.exits.len() == 1,
                "a reference EDM checkpoint covers one early exit, but the card has {}; use a card with one early exit",
                card.exits.len()
            );
            checkpoint::merge_edm(&mut file.tensors, TensorFile::read(edm)?, 0)?;
            card.edm.kind = EdmKind::Scalar;
            eprintln!("{}", edm_warning(edm, &args.out));
        }
        None if card.edm.kind != EdmKind::None => {
            eprintln!(
                "note: no --edm given: the model is written without a decision maker (policies entropy/confident/exit still work)"
            );
            card.edm.kind = EdmKind::None;
        }
        None => {}
    }
    checkpoint::check_against(&card, &args.checkpoint.display().to_string(), &file.tensors)?;
    checkpoint::save(&args.out, &card, &file.tensors)?;
    println!("wrote {} ({} tensors, card `{}`)", args.out.display(), file.tensors.len(), card.name);
    Ok(())
}
