//! The search loop: first-order bi-level optimisation of the supernet.
//!
//! The train split is shuffled (seeded) into halves A and B. Every step updates the weights
//! on a batch of A (SGD + poly lr); from epoch `warmup` on, it then updates beta (and, in a
//! cell search, alpha) on a batch of B (Adam, weight decay 0), as the reference's `search.py`
//! alternates them (first order: the architecture gradient is taken at the current weights).
//! Batches depend only on (seed, step), so a resumed run sees the batches it would have seen.
//! The loop, the pause and the resume are [`crate::fit`]'s; the checkpoint
//! ([`super::checkpoint`]) holds weights, BatchNorm statistics, beta, alpha, the optimisers'
//! state, the step and the history, and is written atomically at the end of every epoch, on
//! `until`, and on Ctrl-C.

use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use indicatif::ProgressBar;

use super::cell_search;
use super::checkpoint::{ARCH_STREAM, Arch, EpochAcc, SearchState, Start};
use super::config::{SearchConfig, SearchFiles, split_halves};
pub use super::result::undecided_warning;
use super::result::{EpochRecord, History, cells_changed, early_exits, searched_card, template_card};
use super::supernet::{HEAD_LEVEL, Supernet};
use super::trellis::{self, CELLS};
use crate::data::augment::AugmentParams;
use crate::data::datasets::Dataset;
use crate::fit::batches::{Batch, batch};
use crate::fit::checkpoint::RunFolder;
use crate::fit::loss::multi_exit_loss;
use crate::fit::optim::{Sgd, poly_lr};
use crate::fit::{Ended, Steps, vars};
use crate::network::ArchCard;

/// How a call to [`search`] ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every epoch done; the card of the final path.
    Finished(ArchCard),
    /// Stopped at this step (checkpoint saved) by `until` or Ctrl-C.
    Paused(usize),
}

/// Runs (or resumes) a search of `cfg` on `ds` into `files.dir`, pausing at step `until`
/// when given.
pub fn search(
    ds: &Dataset,
    cfg: &SearchConfig,
    files: &SearchFiles,
    resume: bool,
    until: Option<usize>,
    device: &Device,
) -> anyhow::Result<Outcome> {
    cfg.check()?;
    let template = template_card(cfg.filters, cfg.head_width, cfg.exits);
    anyhow::ensure!(
        ds.num_classes as usize == template.classes.len(),
        "{}: has {} classes; the search's card uses the {} Cityscapes classes",
        ds.root.display(),
        ds.num_classes,
        template.classes.len()
    );
    crate::fit::checkpoint::begin(files, resume)?;
    let early = early_exits(cfg.exits);
    let mut exit_cells = early.clone();
    exit_cells.push(CELLS - 1);
    let (ds_a, ds_b) = split_halves(ds, cfg.seed)?;

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let net = Supernet::load(&template, &exit_cells, cfg.cell_search, &vb)?;
    let mut start =
        if resume { Start::resume(&files.checkpoint(), cfg)? } else { Start::fresh(cfg, &template, &varmap)? };
    vars::assign(&varmap, &start.weights, device, &files.checkpoint().display().to_string())?;
    let mut sgd = Sgd::new(vars::trainable(&varmap), cfg.momentum, cfg.weight_decay);
    sgd.restore(std::mem::take(&mut start.momentum), device)?;
    let arch = Arch::new(&mut start, cfg.arch_lr, device)?;
    let mut run = Searching {
        aug: AugmentParams { scale: cfg.scale, crop: cfg.crop, ..AugmentParams::default() },
        history: start.history,
        acc: start.acc,
        varmap,
        net,
        sgd,
        arch,
        halves: (ds_a, ds_b),
        early,
        exit_cells,
        template,
        cfg,
        files,
        device,
    };
    match crate::fit::drive(&mut run, start.step, cfg.total_steps(), until)? {
        Ended::Paused(step) => Ok(Outcome::Paused(step)),
        Ended::Finished(bar) => Ok(Outcome::Finished(run.finish(&bar)?)),
    }
}

/// A search in flight: the supernet's variables and modules, the architecture weights, the
/// optimisers, and the history so far.
struct Searching<'a> {
    varmap: VarMap,
    net: Supernet,
    sgd: Sgd,
    arch: Arch,
    history: Vec<EpochRecord>,
    acc: EpochAcc,
    /// Half A (weights) and half B (architecture) of the train images.
    halves: (Dataset, Dataset),
    aug: AugmentParams,
    early: Vec<usize>,
    /// The early exits' cells and the last cell.
    exit_cells: Vec<usize>,
    template: ArchCard,
    cfg: &'a SearchConfig,
    files: &'a SearchFiles,
    device: &'a Device,
}

impl Steps for Searching<'_> {
    fn step(&mut self, step: usize, bar: &ProgressBar) -> anyhow::Result<()> {
        let cfg = self.cfg;
        let ts = Instant::now();
        let epoch = step / cfg.steps_per_epoch;
        let lr = poly_lr(cfg.lr, step, cfg.total_steps());
        let loss = self.weight_step(step, lr)?;
        // architecture on half B, after the warm-up
        let arch = if epoch >= cfg.warmup { Some(self.arch_step(step)?) } else { None };
        let images = cfg.batch * if arch.is_some() { 2 } else { 1 };
        let secs = ts.elapsed().as_secs_f64();
        self.acc.seconds += secs;
        let arch_msg = arch.map(|a| format!(" arch {a:.4}")).unwrap_or_default();
        bar.set_message(format!(
            "epoch {}/{} loss {loss:.4}{arch_msg} lr {lr:.4} {:.2} img/s",
            epoch + 1,
            cfg.epochs,
            images as f64 / secs
        ));
        Ok(())
    }

    fn stepped(&mut self, done: usize, bar: &ProgressBar) -> anyhow::Result<()> {
        if done % self.cfg.steps_per_epoch == 0 {
            self.end_epoch(done, bar)?;
        }
        Ok(())
    }

    fn save(&mut self, step: usize) -> anyhow::Result<()> {
        let state = SearchState {
            step,
            adam_t: self.arch.adam.t,
            config: self.cfg.clone(),
            history: self.history.clone(),
            acc: self.acc.clone(),
            alpha_adam_t: self.arch.alpha.as_ref().map_or(0, |(_, adam)| adam.t),
        };
        super::checkpoint::save(&self.files.checkpoint(), &self.net.card, &state, &self.varmap, &self.sgd, &self.arch)
    }
}

impl Searching<'_> {
    /// The multi-exit loss of `b` under the current architecture weights.
    fn loss(&self, b: &Batch) -> anyhow::Result<Tensor> {
        let w = trellis::normalise_tensor(self.arch.beta.as_tensor())?;
        let ops = self.arch.op_weights()?;
        let (loss, _) = multi_exit_loss(&self.net.forward_t(&b.images, &w, ops.as_ref(), true)?, &b.labels)?;
        Ok(loss)
    }

    /// Updates the weights on a batch of half A; returns the loss.
    fn weight_step(&mut self, step: usize, lr: f64) -> anyhow::Result<f64> {
        let cfg = self.cfg;
        let b = batch(&self.halves.0, cfg.batch, &self.aug, &self.template.normalization, cfg.seed, step, self.device)?;
        let loss = self.loss(&b)?;
        self.sgd.step(&loss.backward()?, lr)?;
        let loss = loss.to_scalar::<f32>()? as f64;
        anyhow::ensure!(loss.is_finite(), "weight loss became {loss} at step {step}: lower --lr");
        self.acc.loss_sum += loss;
        self.acc.loss_n += 1;
        Ok(loss)
    }

    /// Updates beta (and alpha) on a batch of half B; returns the loss.
    fn arch_step(&mut self, step: usize) -> anyhow::Result<f64> {
        let (cfg, norm) = (self.cfg, &self.template.normalization);
        let b = batch(&self.halves.1, cfg.batch, &self.aug, norm, cfg.seed ^ ARCH_STREAM, step, self.device)?;
        let arch_loss = self.loss(&b)?;
        let grads = arch_loss.backward()?;
        let arch = &mut self.arch;
        let g = grads.get(arch.beta.as_tensor()).context("beta received no gradient")?;
        arch.adam.step(&arch.beta, g)?;
        if let Some((alpha, adam)) = &mut arch.alpha {
            adam.step(alpha, grads.get(alpha.as_tensor()).context("alpha received no gradient")?)?;
        }
        let a = arch_loss.to_scalar::<f32>()? as f64;
        anyhow::ensure!(a.is_finite(), "architecture loss became {a} at step {step}: lower --arch-lr");
        self.acc.arch_sum += a;
        self.acc.arch_n += 1;
        Ok(a)
    }

    /// Decodes the epoch that ends with step `done`, reports it, saves the checkpoint and
    /// the outputs.
    fn end_epoch(&mut self, done: usize, bar: &ProgressBar) -> anyhow::Result<()> {
        let record = self.record(done / self.cfg.steps_per_epoch, done)?;
        // through `suspend`, so the line also appears when the bar is hidden (not a terminal)
        let changed = self.history.last().map(|prev: &EpochRecord| cells_changed(&prev.path, &record.path));
        bar.suspend(|| {
            println!(
                "epoch {}: loss {:.4}{} path {:?}{} decided {:.2} ({:.1} s)",
                record.epoch,
                record.loss,
                record.arch_loss.map(|a| format!(" arch {a:.4}")).unwrap_or_default(),
                record.path,
                changed.map(|c| format!(" ({c} cells changed)")).unwrap_or_default(),
                trellis::decisiveness(&record.beta),
                record.seconds
            )
        });
        self.history.push(record);
        self.acc = EpochAcc::default();
        self.save(done)?;
        write_outputs(self.files, self.cfg, &self.template, &self.exit_cells, &self.history)?;
        Ok(())
    }

    /// Beta (and alpha) decoded at the end of an epoch: its history record.
    fn record(&self, epoch: usize, step: usize) -> anyhow::Result<EpochRecord> {
        let beta = trellis::beta_from_tensor(&self.arch.beta.as_tensor().to_device(&Device::Cpu)?)?;
        let weights = trellis::normalise(&beta);
        let path = trellis::viterbi(&weights, &self.early);
        let alpha = match &self.arch.alpha {
            Some((a, _)) => Some(a.as_tensor().to_device(&Device::Cpu)?.to_vec2::<f32>()?),
            None => None,
        };
        let op_weights = alpha.as_deref().map(cell_search::normalise);
        let genotype = op_weights.as_deref().map(|w| cell_search::decode(w, self.net.card.b));
        let acc = &self.acc;
        Ok(EpochRecord {
            epoch,
            step,
            beta,
            path_weight: trellis::path_weight(&weights, &path),
            weights,
            path,
            loss: acc.loss_sum / acc.loss_n.max(1) as f64,
            arch_loss: (acc.arch_n > 0).then(|| acc.arch_sum / acc.arch_n as f64),
            seconds: acc.seconds,
            alpha,
            op_weights,
            genotype,
        })
    }

    /// Writes the final outputs and says so; warns when the path is not settled.
    fn finish(&self, bar: &ProgressBar) -> anyhow::Result<ArchCard> {
        let card = write_outputs(self.files, self.cfg, &self.template, &self.exit_cells, &self.history)?;
        bar.finish_with_message(format!(
            "done: path {:?}, exits {:?} -> {}",
            card.path,
            card.exits,
            self.files.card().display()
        ));
        if let Some(warning) = undecided_warning(&self.history) {
            eprintln!("warning: {warning}");
        }
        Ok(card)
    }
}

/// Writes the card of the latest decoded path and the history, atomically. Returns the card.
fn write_outputs(
    files: &SearchFiles,
    cfg: &SearchConfig,
    template: &ArchCard,
    exit_cells: &[usize],
    history: &[EpochRecord],
) -> anyhow::Result<ArchCard> {
    let last = history.last().context("no epoch finished")?;
    let mut template = template.clone();
    if let Some(g) = &last.genotype {
        template.genotype = g.clone();
    }
    let card = searched_card(&template, &last.path, &exit_cells[..exit_cells.len() - 1])?;
    crate::fsutil::atomic_write(&files.card(), card.to_json().as_bytes())
        .with_context(|| format!("{}: cannot write", files.card().display()))?;
    let h = History {
        config: cfg.clone(),
        exit_cells: exit_cells.to_vec(),
        head_level: HEAD_LEVEL,
        epochs: history.to_vec(),
    };
    let text = serde_json::to_string_pretty(&h)?;
    crate::fsutil::atomic_write(&files.history(), text.as_bytes())
        .with_context(|| format!("{}: cannot write", files.history().display()))?;
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::datasets::{OnBad, cityscapes};
    use crate::data::synth::writer::{DatasetPlan, write_dataset};
    use crate::search::result::read_history;
    use std::path::Path;

    fn dataset(dir: &Path) -> Dataset {
        let plan = DatasetPlan {
            out: dir.to_path_buf(),
            count: 4,
            width: 128,
            height: 96,
            seed: 9,
            val_fraction: 0.0,
            difficulty: (0.0, 0.5),
        };
        write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
        cityscapes::open(dir, "train", OnBad::Fail).unwrap()
    }

    fn cfg(epochs: usize) -> SearchConfig {
        SearchConfig {
            filters: 2,
            head_width: 8,
            batch: 2,
            crop: (65, 65),
            scale: (0.75, 1.25),
            lr: 0.02,
            weight_decay: 1e-4,
            seed: 4,
            ..SearchConfig::defaults(epochs, 1, 1)
        }
    }

    fn beta_of(files: &SearchFiles) -> Vec<f32> {
        let f = crate::network::checkpoint::TensorFile::read(&files.checkpoint()).unwrap();
        f.tensors[super::super::checkpoint::BETA].flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn a_two_step_search_writes_a_valid_card_and_history() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(&tmp.path().join("data"));
        let files = SearchFiles { dir: tmp.path().join("s") };
        let out = search(&ds, &cfg(2), &files, false, None, &Device::Cpu).unwrap();
        let Outcome::Finished(card) = out else { panic!("not finished: {out:?}") };
        let loaded = ArchCard::load(&files.card()).unwrap();
        assert_eq!(loaded, card);
        assert_eq!(card.exits, vec![5]);
        assert_eq!(card.path.len(), 12);
        assert_eq!((card.f, card.head.width, card.low_level_cell), (2, 8, 0));
        let h = read_history(&files.history()).unwrap();
        assert_eq!(h.epochs.len(), 2);
        assert_eq!(h.exit_cells, vec![5, 11]);
        assert!(h.epochs[0].arch_loss.is_none(), "epoch 1 is warm-up");
        assert!(h.epochs[1].arch_loss.is_some(), "epoch 2 searches beta");
        assert_ne!(h.epochs[0].beta, h.epochs[1].beta, "beta moved after the warm-up");
        assert_eq!(h.epochs[1].path, card.path);
        // two steps decide nothing, and the search says so; a settled history passes
        let w = undecided_warning(&h.epochs).expect("a two-step search is not settled");
        assert!(w.contains("not settled"), "{w}");
        let mut settled = h.epochs.clone();
        settled[0].path = settled[1].path.clone();
        for cell in settled[1].beta.iter_mut() {
            for node in cell.iter_mut() {
                node[1] = 20.0;
            }
        }
        assert!(undecided_warning(&settled).is_none());
        // nothing half-written left behind
        let stray: Vec<_> = std::fs::read_dir(&files.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }

    #[test]
    fn a_cell_search_decodes_alpha_into_the_card_and_resumes_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(&tmp.path().join("data"));
        let cfg = SearchConfig { cell_search: true, arch_lr: 0.05, ..cfg(3) };
        let straight = SearchFiles { dir: tmp.path().join("a") };
        let Outcome::Finished(card) = search(&ds, &cfg, &straight, false, None, &Device::Cpu).unwrap() else {
            panic!("not finished")
        };
        let h = read_history(&straight.history()).unwrap();
        let last = h.epochs.last().unwrap();
        let (first, alpha) = (h.epochs[0].alpha.clone().unwrap(), last.alpha.clone().unwrap());
        assert_eq!((alpha.len(), alpha[0].len()), (20, 8));
        assert_ne!(first, alpha, "alpha moved after the warm-up");
        assert_eq!(last.genotype.as_ref(), Some(&card.genotype), "the card carries the decoded genotype");
        assert_eq!(card.genotype, cell_search::decode(last.op_weights.as_ref().unwrap(), 5));
        ArchCard::load(&straight.card()).unwrap().validate().unwrap();
        // paused after one architecture step and resumed: alpha and its Adam state survive
        let paused = SearchFiles { dir: tmp.path().join("b") };
        assert!(matches!(search(&ds, &cfg, &paused, false, Some(2), &Device::Cpu).unwrap(), Outcome::Paused(2)));
        let plain = SearchConfig { cell_search: false, ..cfg.clone() };
        assert!(
            search(&ds, &plain, &paused, true, None, &Device::Cpu).unwrap_err().to_string().contains("other settings")
        );
        search(&ds, &cfg, &paused, true, None, &Device::Cpu).unwrap();
        let resumed = read_history(&paused.history()).unwrap().epochs.last().unwrap().alpha.clone().unwrap();
        let diff =
            alpha.iter().flatten().zip(resumed.iter().flatten()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-7, "resumed alpha differs by {diff}");
    }

    #[test]
    fn paused_and_resumed_equals_uninterrupted() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(&tmp.path().join("data"));
        let straight = SearchFiles { dir: tmp.path().join("a") };
        search(&ds, &cfg(3), &straight, false, None, &Device::Cpu).unwrap();
        let paused = SearchFiles { dir: tmp.path().join("b") };
        // pause after one architecture update, so Adam's state must survive the restart
        assert!(matches!(search(&ds, &cfg(3), &paused, false, Some(2), &Device::Cpu).unwrap(), Outcome::Paused(2)));
        assert!(search(&ds, &cfg(3), &paused, false, None, &Device::Cpu).unwrap_err().to_string().contains("--resume"));
        assert!(
            search(&ds, &cfg(4), &paused, true, None, &Device::Cpu).unwrap_err().to_string().contains("other settings")
        );
        search(&ds, &cfg(3), &paused, true, None, &Device::Cpu).unwrap();
        let (a, b) = (beta_of(&straight), beta_of(&paused));
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-7, "resumed beta differs by {diff}");
        let (ha, hb) = (read_history(&straight.history()).unwrap(), read_history(&paused.history()).unwrap());
        let paths = |h: &History| h.epochs.iter().map(|e| (e.path.clone(), e.loss)).collect::<Vec<_>>();
        assert_eq!(paths(&ha).len(), 3);
        for ((pa, la), (pb, lb)) in paths(&ha).iter().zip(&paths(&hb)) {
            assert_eq!(pa, pb);
            assert!((la - lb).abs() < 1e-5, "epoch loss {la} vs {lb}");
        }
        // and beta did move away from its start (the comparison above is not vacuous)
        let first = ha.epochs[0].beta.iter().flatten().flatten().copied().collect::<Vec<_>>();
        assert_ne!(first, a);
    }
}
