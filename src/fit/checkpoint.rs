//! A run's folder and checkpoint, as training and the search keep them: one safetensors file
//! with the weights by name, SGD's momentum buffers as `momentum.<name>`, and the run's state
//! (step, settings, whatever else the run needs) as JSON in its metadata under the run kind's
//! key. `--resume` reads it all back and continues exactly; it refuses other settings.

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{Device, Tensor};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::optim::Sgd;
use crate::network::ArchCard;
use crate::network::checkpoint::{self, TensorFile};

/// Prefix of SGD's momentum buffers among a checkpoint's tensors.
pub const MOMENTUM_PREFIX: &str = "momentum.";

/// A kind of run: its checkpoint's file name, the metadata key its state is kept under, and
/// its name in messages.
pub struct Kind {
    pub checkpoint: &'static str,
    pub key: &'static str,
    pub name: &'static str,
}

/// A run's output folder (the run's own files are its type's business).
pub trait RunFolder {
    /// The kind of run that keeps its files here.
    const KIND: Kind;
    fn dir(&self) -> &Path;
    /// What `--resume` reads.
    fn checkpoint(&self) -> PathBuf {
        self.dir().join(Self::KIND.checkpoint)
    }
}

/// Makes `folder` ready (created, half-written temp files of a killed run removed), refusing a
/// fresh start over its checkpoint, which would lose it, and a resume without one.
pub fn begin<F: RunFolder>(folder: &F, resume: bool) -> anyhow::Result<()> {
    crate::fsutil::prepare_run_dir(folder.dir())?;
    let (path, kind) = (folder.checkpoint(), F::KIND);
    if resume {
        anyhow::ensure!(
            path.exists(),
            "{}: no {} checkpoint to resume (run without --resume to start one)",
            path.display(),
            kind.name
        );
    } else {
        anyhow::ensure!(
            !path.exists(),
            "{} exists: pass --resume to continue it, or choose another --out",
            path.display()
        );
    }
    Ok(())
}

/// The state a `kind` checkpoint keeps in its metadata.
pub fn state<S: DeserializeOwned>(file: &TensorFile, kind: &Kind) -> anyhow::Result<S> {
    let (path, name) = (file.path.display(), kind.name);
    let text =
        file.metadata.get(kind.key).with_context(|| format!("{path}: not a {name} checkpoint (no {name} state)"))?;
    serde_json::from_str(text).with_context(|| format!("{path}: unreadable {name} state"))
}

/// Refuses to resume a run that was started with other settings.
pub fn same_settings<C: PartialEq + Debug>(path: &Path, saved: &C, now: &C) -> anyhow::Result<()> {
    anyhow::ensure!(
        saved == now,
        "{}: was started with other settings ({saved:?}); resume with the same ones",
        path.display()
    );
    Ok(())
}

/// What a checkpoint gives back for an exact resume.
pub struct Resumed<S> {
    pub state: S,
    /// Every saved tensor but the momentum buffers, by name (a run takes out its extras).
    pub tensors: HashMap<String, Tensor>,
    /// SGD's momentum buffers by variable name.
    pub momentum: HashMap<String, Tensor>,
    /// The card embedded in the checkpoint.
    pub card: Option<ArchCard>,
}

/// Reads a `kind` checkpoint: its state, its tensors and the momentum apart.
pub fn read<S: DeserializeOwned>(path: &Path, kind: &Kind) -> anyhow::Result<Resumed<S>> {
    let file = TensorFile::read(path)?;
    let state = state(&file, kind)?;
    let (mut tensors, mut momentum) = (HashMap::new(), HashMap::new());
    for (n, t) in file.tensors {
        match n.strip_prefix(MOMENTUM_PREFIX) {
            Some(m) => momentum.insert(m.to_string(), t),
            None => tensors.insert(n, t),
        };
    }
    Ok(Resumed { state, tensors, momentum, card: file.card })
}

/// Writes `tensors`, `sgd`'s momentum buffers and `state` to `path` with `card`, atomically.
pub fn write<S: Serialize>(
    path: &Path,
    card: &ArchCard,
    kind: &Kind,
    state: &S,
    mut tensors: HashMap<String, Tensor>,
    sgd: &Sgd,
) -> anyhow::Result<()> {
    for (n, b) in &sgd.buffers {
        tensors.insert(format!("{MOMENTUM_PREFIX}{n}"), b.to_device(&Device::Cpu)?);
    }
    let meta = HashMap::from([(kind.key.to_string(), serde_json::to_string(state)?)]);
    checkpoint::save_with_metadata(path, card, &tensors, meta)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    struct Folder(PathBuf);

    impl RunFolder for Folder {
        const KIND: Kind = Kind { checkpoint: "ckpt.safetensors", key: "test_state", name: "test" };
        fn dir(&self) -> &Path {
            &self.0
        }
    }

    const TEST: Kind = Folder::KIND;

    #[test]
    fn state_weights_and_momentum_come_back_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let folder = Folder(tmp.path().join("run"));
        let ckpt = folder.checkpoint();
        assert!(begin(&folder, true).unwrap_err().to_string().contains("no test checkpoint to resume"));
        begin(&folder, false).unwrap();
        let w = Var::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
        let mut sgd = Sgd::new(vec![("w".into(), w.clone())], 0.9, 0.0);
        sgd.step(&w.as_tensor().sum_all().unwrap().backward().unwrap(), 0.1).unwrap();
        let card = ArchCard::preset("add-2", 2).unwrap();
        let tensors = HashMap::from([("w".to_string(), w.as_tensor().clone())]);
        write(&ckpt, &card, &TEST, &(7usize, "x"), tensors, &sgd).unwrap();
        assert!(begin(&folder, false).unwrap_err().to_string().contains("pass --resume"));
        begin(&folder, true).unwrap();
        let r: Resumed<(usize, String)> = read(&ckpt, &TEST).unwrap();
        assert_eq!(r.state, (7, "x".to_string()));
        assert_eq!(r.tensors.keys().collect::<Vec<_>>(), ["w"]);
        assert_eq!(r.momentum["w"].to_vec1::<f32>().unwrap(), [1.0, 1.0]);
        assert_eq!(r.card.as_ref(), Some(&card));
        let other = Kind { key: "other", name: "other", ..TEST };
        let err = read::<usize>(&ckpt, &other).err().unwrap().to_string();
        assert!(err.contains("not a other checkpoint"), "{err}");
        assert!(same_settings(&ckpt, &1, &2).unwrap_err().to_string().contains("other settings"));
    }
}
