//! `add train-edm`: trains the decision makers on a frozen backbone, as the reference's stage 3.
//!
//! Every training image runs once through the frozen network; each early exit's feature and
//! its targets are cached (the reference does the same with `feature.npy`). Then:
//! - the scalar EDM regresses the exit's mean normalised entropy (L1, Adam: the reference);
//! - the EDM-map predicts, per pixel at the feature's resolution, either the exit's normalised
//!   entropy (L1) or whether the exit disagrees with the final exit (binary cross-entropy).
//!
//! The validation split measures both maps against both questions, so the choice is made on
//! numbers: mean L1 to the entropy, and how well the map ranks the pixels where the early exit
//! disagrees with the final exit (AUROC).

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::data::datasets::{Dataset, OnBad, cityscapes};
use crate::engine::prepare::prepare;
use crate::fit::vars;
use crate::network::checkpoint::{self, TensorFile};
use crate::network::edm::{Edm, EdmMap};
use crate::network::layers::resize;
use crate::network::{AddNet, ArchCard, BuildMode, EdmKind};

/// What the EDM-map learns to predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MapTarget {
    /// The exit's per-pixel normalised entropy.
    Entropy,
    /// 1 where the exit's class differs from the final exit's, else 0.
    Disagreement,
}

/// One image's cached inputs and targets at one early exit.
struct Example {
    feature: Tensor,
    mean_entropy: f32,
    /// (1,1,h,w) targets at the feature's resolution.
    entropy_map: Tensor,
    disagree_map: Tensor,
}

/// Runs `ds` through the frozen `net` and caches, for every early exit, features and targets.
fn collect(
    net: &AddNet,
    ds: &Dataset,
    max_side: u32,
    limit: usize,
    device: &Device,
) -> anyhow::Result<Vec<Vec<Example>>> {
    let card = &net.card;
    let exits = card.exit_cells();
    let mut out: Vec<Vec<Example>> = (0..card.exits.len()).map(|_| Vec::new()).collect();
    let bar = indicatif::ProgressBar::new(ds.len().min(limit) as u64);
    for i in 0..ds.len().min(limit) {
        let d = ds.load(i)?;
        let p = prepare(&d.image, &card.normalization, max_side, device)
            .map_err(|e| anyhow::anyhow!("{}: {e}", ds.samples[i].image.display()))?;
        let mut t = net.start(&p.tensor, false)?;
        let mut early = Vec::new();
        for cell in 0..=exits[exits.len() - 1] {
            net.step(&mut t, false)?;
            if let Some(k) = exits.iter().position(|&c| c == cell) {
                let logits = net.exit_logits(k, &t, false)?;
                early.push((t.feature().clone(), logits));
            }
        }
        let (_, final_logits) = early.pop().expect("the last exit always runs");
        let final_class = final_logits.argmax_keepdim(1)?;
        for (k, (feature, logits)) in early.into_iter().enumerate() {
            let (_, _, fh, fw) = feature.dims4()?;
            let entropy = entropy_map(&logits)?;
            let mean_entropy = p.to_image(&entropy)?.mean_all()?.to_scalar::<f32>()?;
            let disagree = logits.argmax_keepdim(1)?.ne(&final_class)?.to_dtype(DType::F32)?;
            out[k].push(Example {
                feature: feature.to_device(&Device::Cpu)?,
                mean_entropy,
                entropy_map: resize(&entropy, fh, fw)?.to_device(&Device::Cpu)?,
                disagree_map: resize(&disagree, fh, fw)?.to_device(&Device::Cpu)?,
            });
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Per-pixel normalised entropy (N,1,H,W) of logits (N,K,H,W).
pub fn entropy_map(logits: &Tensor) -> candle_core::Result<Tensor> {
    let k = logits.dim(1)? as f64;
    let p = candle_nn::ops::softmax(logits, 1)?;
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    ((p * logp)?.sum_keepdim(1)? * (-1.0 / k.ln()))?.clamp(0f32, 1f32)
}

fn bce(pred: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let p = pred.clamp(1e-6f32, 1.0 - 1e-6)?;
    let one = Tensor::ones_like(&p)?;
    ((target * p.log()?)? + ((&one - target)? * (&one - &p)?.log()?)?)?.neg()?.mean_all()
}

/// Area under the ROC curve of `scores` for binary `labels` (ties counted half).
pub fn auroc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (pos, neg) = (labels.iter().filter(|&&l| l).count(), labels.iter().filter(|&&l| !l).count());
    if pos == 0 || neg == 0 {
        return None;
    }
    // rank-sum with average ranks for ties
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&r| labels[idx[r]]).count() as f64 * avg;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

/// A decision-maker training: which frozen model, on which data, with what settings.
#[derive(Debug, Clone)]
pub struct EdmTraining {
    /// The trained multi-exit model (its card says where the early exits are).
    pub model: PathBuf,
    /// A card to use instead of the one in `model`.
    pub card: Option<PathBuf>,
    /// Dataset root (train split to learn, val split to measure).
    pub data: PathBuf,
    /// Output model (the input's weights plus the decision makers).
    pub out: PathBuf,
    /// Which decision makers to train.
    pub kind: EdmKind,
    /// What the EDM-map learns to predict.
    pub map_target: MapTarget,
    /// Width of the scalar EDM's convolution (the card's when none).
    pub edm_channels: Option<usize>,
    /// Passes over the cached features.
    pub epochs: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Examples per update.
    pub batch: usize,
    /// At most this many training images.
    pub max_images: usize,
    pub seed: u64,
    pub max_side: u32,
    /// Device: cpu, cuda, cuda:N, metal or auto.
    pub device: String,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// Trains the decision makers of `args.model` and writes the model with them (`add train-edm`).
pub fn run(args: &EdmTraining) -> anyhow::Result<()> {
    anyhow::ensure!(args.force || !args.out.exists(), "{} exists; pass --force to replace it", args.out.display());
    let device = crate::engine::device::select(Some(&args.device)).map_err(anyhow::Error::msg)?;
    let file = TensorFile::read(&args.model)?;
    let mut card = checkpoint::resolve_card(&file, args.card.as_deref())?;
    anyhow::ensure!(
        !card.exits.is_empty(),
        "{}: the model has no early exit, so there is nothing to decide",
        args.model.display()
    );
    let kind = args.kind;
    // the backbone without decision makers, frozen
    let mut backbone_card = card.clone();
    backbone_card.edm.kind = EdmKind::None;
    let mut weights = file.tensors;
    weights.retain(|n, _| !n.starts_with("edm"));
    checkpoint::check_against(&backbone_card, &args.model.display().to_string(), &weights)?;
    let net = checkpoint::build(&backbone_card, weights.clone(), &device, BuildMode::Folded)?;
    let train = cityscapes::open(&args.data, "train", OnBad::Fail)?;
    let val = cityscapes::open(&args.data, "val", OnBad::Fail).ok();
    eprintln!("caching features of {} training image(s)", train.len().min(args.max_images));
    let train_ex = collect(&net, &train, args.max_side, args.max_images, &device)?;
    let val_ex = match &val {
        Some(v) => collect(&net, v, args.max_side, args.max_images, &device)?,
        None => Vec::new(),
    };

    card.edm.kind = kind;
    if let Some(c) = args.edm_channels {
        card.edm.channels = c;
    }
    card.validate()?;
    let trained = train_deciders(&card, &train_ex, args, &device)?;
    if !val_ex.is_empty() {
        let text = report(&card, &trained, &val_ex, &device)?;
        print!("{text}");
        let path = args.out.with_extension("report.md");
        let head =
            format!("Decision makers of {} (map target: {:?}), on the val split:\n\n", card.name, args.map_target);
        crate::fsutil::atomic_write(&path, (head + &text).as_bytes())?;
    }
    weights.extend(trained);
    checkpoint::check_against(&card, &args.out.display().to_string(), &weights)?;
    checkpoint::save(&args.out, &card, &weights)?;
    println!("wrote {} (decision makers: {:?}, map target: {:?})", args.out.display(), kind, args.map_target);
    Ok(())
}

/// The decision makers' modules on variables.
struct Deciders {
    scalars: Vec<Edm>,
    maps: Vec<EdmMap>,
}

fn build_deciders(card: &ArchCard, vb: &VarBuilder) -> candle_core::Result<Deciders> {
    let mut d = Deciders { scalars: Vec::new(), maps: Vec::new() };
    for (k, &cell) in card.exits.iter().enumerate() {
        let c = card.cell_channels(card.path[cell]);
        if card.edm.kind.has_scalar() {
            d.scalars.push(Edm::load(c, &card.edm, &vb.pp("edm").pp(k))?);
        }
        if card.edm.kind.has_map() {
            d.maps.push(EdmMap::load(c, &card.edm, &vb.pp("edm_map").pp(k))?);
        }
    }
    Ok(d)
}

/// Trains every decision maker; returns their tensors by name.
fn train_deciders(
    card: &ArchCard,
    examples: &[Vec<Example>],
    args: &EdmTraining,
    device: &Device,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let varmap = VarMap::new();
    let d = build_deciders(card, &VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    let init = crate::network::init::random_init(vars::shapes(&varmap), args.seed)?;
    vars::assign(&varmap, &init, device, "initial decision makers")?;
    let mut opt = candle_nn::AdamW::new(
        varmap.all_vars(),
        candle_nn::ParamsAdamW { lr: args.lr, weight_decay: 0.0, ..Default::default() },
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let bar = indicatif::ProgressBar::new(args.epochs as u64);
    for epoch in 0..args.epochs {
        let mut total = 0.0;
        let mut count = 0;
        for (k, exs) in examples.iter().enumerate() {
            let mut order: Vec<usize> = (0..exs.len()).collect();
            order.shuffle(&mut rng);
            for chunk in batches_of_equal_shape(&order, exs, args.batch) {
                let feat =
                    Tensor::cat(&chunk.iter().map(|&i| &exs[i].feature).collect::<Vec<_>>(), 0)?.to_device(device)?;
                let mut loss = Tensor::zeros((), DType::F32, device)?;
                if let Some(e) = d.scalars.get(k) {
                    let target = Tensor::new(chunk.iter().map(|&i| exs[i].mean_entropy).collect::<Vec<f32>>(), device)?;
                    loss = (loss + (e.forward(&feat)? - target)?.abs()?.mean_all()?)?;
                }
                if let Some(m) = d.maps.get(k) {
                    let pick = |f: fn(&Example) -> &Tensor| {
                        Tensor::cat(&chunk.iter().map(|&i| f(&exs[i])).collect::<Vec<_>>(), 0)
                    };
                    let pred = m.forward(&feat)?;
                    loss = (loss
                        + match args.map_target {
                            MapTarget::Entropy => {
                                (pred - pick(|e| &e.entropy_map)?.to_device(device)?)?.abs()?.mean_all()?
                            }
                            MapTarget::Disagreement => bce(&pred, &pick(|e| &e.disagree_map)?.to_device(device)?)?,
                        })?;
                }
                opt.backward_step(&loss)?;
                total += loss.to_scalar::<f32>()? as f64;
                count += 1;
            }
        }
        bar.set_message(format!("epoch {epoch} loss {:.4}", total / count.max(1) as f64));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(vars::values(&varmap)?)
}

/// Splits `order` into batches of at most `size` whose features share a shape.
fn batches_of_equal_shape(order: &[usize], exs: &[Example], size: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for &i in order {
        match out.last_mut() {
            Some(b) if b.len() < size && exs[b[0]].feature.dims() == exs[i].feature.dims() => b.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

/// How well the decision makers predict on the validation split (markdown lines).
fn report(
    card: &ArchCard,
    trained: &HashMap<String, Tensor>,
    val: &[Vec<Example>],
    device: &Device,
) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    let vb = VarBuilder::from_tensors(trained.clone(), DType::F32, device);
    let d = build_deciders(card, &vb)?;
    for (k, exs) in val.iter().enumerate() {
        let mut scalar_err = Vec::new();
        let (mut map_l1, mut scores, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for e in exs {
            let feat = e.feature.to_device(device)?;
            if let Some(s) = d.scalars.get(k) {
                scalar_err.push((s.forward(&feat)?.to_vec1::<f32>()?[0] - e.mean_entropy).abs());
            }
            if let Some(m) = d.maps.get(k) {
                let pred = m.forward(&feat)?.to_device(&Device::Cpu)?;
                map_l1.push((&pred - &e.entropy_map)?.abs()?.mean_all()?.to_scalar::<f32>()?);
                scores.extend(pred.flatten_all()?.to_vec1::<f32>()?);
                labels.extend(e.disagree_map.flatten_all()?.to_vec1::<f32>()?.into_iter().map(|v| v >= 0.5));
            }
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
        let spread = mean(&exs.iter().map(|e| e.mean_entropy).collect::<Vec<_>>());
        writeln!(out, "- val exit {} (cell {}): {} images, mean entropy {spread:.4}", k + 1, card.exits[k], exs.len())?;
        if !scalar_err.is_empty() {
            writeln!(out, "  - scalar EDM: mean |score - entropy| {:.4}", mean(&scalar_err))?;
        }
        if !map_l1.is_empty() {
            let auc = auroc(&scores, &labels).map_or("n/a".into(), |a| format!("{a:.4}"));
            writeln!(
                out,
                "  - EDM-map: mean per-pixel L1 to entropy {:.4}, AUROC for disagreement with the final exit {auc}",
                mean(&map_l1)
            )?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_by_hand() {
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(auroc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(auroc(&[0.5, 0.6], &[true, true]), None);
    }
}
