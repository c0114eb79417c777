//! Weights on disk: our safetensors files (the card embedded in the metadata) and the
//! reference's `torch.save` checkpoints (`{'epoch','state_dict',...}` or a bare state dict,
//! keys with or without `module.`). Pickles are parsed as data by candle's reader, never
//! executed, and only after [`pickle_guard`] has refused any reference to code. Every load is
//! checked against the tensors the card's network needs: missing, unexpected and mis-shaped
//! tensors are reported by name, and nothing half-loaded is used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::pickle::PthTensors;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::card::{ArchCard, CardError};
use super::layers::BuildMode;
use super::model::AddNet;
use super::pickle_guard;

/// Metadata key under which our safetensors files carry their architecture card.
pub const CARD_METADATA_KEY: &str = "add_studio.card";

/// A checkpoint that cannot become a network; the message names the file and the tensors.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: no architecture card: pass --card, or put {stem}.json beside the weights")]
    NoCard { file: String, stem: String },
    #[error(transparent)]
    Card(#[from] CardError),
    #[error("{file}: tensor `{name}` has dtype {dtype:?}; expected a floating-point tensor")]
    DType { file: String, name: String, dtype: DType },
    #[error("{file}: does not match the card `{card}`:{report}")]
    Mismatch { file: String, card: String, report: String },
    #[error("{file}: cannot write: {message}")]
    Write { file: String, message: String },
}

/// Tensors read from a file, names normalised, all as f32 on the CPU.
pub struct TensorFile {
    pub path: PathBuf,
    pub tensors: HashMap<String, Tensor>,
    /// The card embedded in a safetensors file, if any.
    pub card: Option<ArchCard>,
    /// Other metadata of a safetensors file (training state, provenance).
    pub metadata: HashMap<String, String>,
}

/// Largest checkpoint we read. The biggest model of this family (Auto-DeepLab-L, F=48, 44 M
/// parameters) is under 200 MB, twice that with its training momentum.
const MAX_FILE_BYTES: u64 = 1 << 30;
/// Largest `data.pkl` we parse; a state dict's is a few hundred kilobytes.
const MAX_PICKLE_BYTES: u64 = 64 << 20;
/// safetensors' own bound on its JSON header.
const MAX_HEADER_BYTES: u64 = 100 << 20;

/// What a file's first bytes say it is.
enum Format {
    /// A `torch.save` zip archive.
    Zip,
    /// A bare pickle: `torch.save` before PyTorch 1.6, or `pickle.dump`.
    Pickle,
    Safetensors,
    /// Neither; the reason says what the bytes would have meant.
    Unknown(String),
}

fn sniff(head: &[u8], len: u64) -> Format {
    if head.starts_with(b"PK\x03\x04") {
        return Format::Zip;
    }
    if head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return Format::Pickle;
    }
    let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    if n > MAX_HEADER_BYTES || n > len - 8 {
        return Format::Unknown(format!(
            "read as safetensors, its first 8 bytes claim a {n}-byte header in a {len}-byte file"
        ));
    }
    if head[8] != b'{' {
        return Format::Unknown("read as safetensors, its header is not JSON".into());
    }
    Format::Safetensors
}

impl TensorFile {
    /// Reads a `.safetensors` or PyTorch `.pth`/`.pt`/`.tar` file (by content, not extension).
    /// Nothing is allocated on the word of a header before it is checked against the file's size.
    pub fn read(path: &Path) -> Result<TensorFile, CheckpointError> {
        use std::io::Read;
        let file = path.display().to_string();
        let err = |message: String| CheckpointError::Read { file: file.clone(), message };
        let len = std::fs::metadata(path).map_err(|e| err(e.to_string()))?.len();
        if len > MAX_FILE_BYTES {
            return Err(err(format!("{len} bytes is larger than any model of this family (limit {MAX_FILE_BYTES})")));
        }
        let mut head = Vec::new();
        std::fs::File::open(path).and_then(|f| f.take(9).read_to_end(&mut head)).map_err(|e| err(e.to_string()))?;
        if head.len() < 9 {
            let what = if head.is_empty() { "an empty file".to_string() } else { format!("only {} bytes", head.len()) };
            return Err(err(format!("{what}: not a checkpoint")));
        }
        let (raw, card, metadata) = match sniff(&head, len) {
            Format::Zip => {
                let raw = read_pth(path, len).map_err(|m| err(format!("not a readable PyTorch checkpoint: {m}")))?;
                (raw, None, HashMap::new())
            }
            Format::Pickle => {
                return Err(err("a bare pickle (PyTorch before 1.6, or pickle.dump), not a zip checkpoint: \
                                load and save it again with torch.save in PyTorch 1.6 or later"
                    .into()));
            }
            Format::Unknown(why) => {
                return Err(err(format!(
                    "not a checkpoint: neither a PyTorch zip archive nor a safetensors file ({why})"
                )));
            }
            Format::Safetensors => {
                let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
                let mut metadata =
                    safetensors_metadata(&bytes).map_err(|m| err(format!("not a safetensors file: {m}")))?;
                let card = metadata.remove(CARD_METADATA_KEY);
                let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
                    .map_err(|e| err(format!("not a safetensors file: {e}")))?;
                let card = match card {
                    Some(text) => {
                        Some(ArchCard::from_json(&text).map_err(|e| e.in_file(&format!("{file} (embedded card)")))?)
                    }
                    None => None,
                };
                (tensors.into_iter().collect(), card, metadata)
            }
        };
        let mut tensors = HashMap::new();
        for (name, t) in raw {
            if name.ends_with("num_batches_tracked") {
                continue;
            }
            let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
            if !t.dtype().is_float() {
                return Err(CheckpointError::DType { file: file.clone(), name, dtype: t.dtype() });
            }
            let t = t.to_dtype(DType::F32).map_err(|e| err(e.to_string()))?;
            tensors.insert(name, t);
        }
        if tensors.is_empty() {
            return Err(err("holds no tensors".into()));
        }
        Ok(TensorFile { path: path.to_path_buf(), tensors, card, metadata })
    }
}

/// Runs one of candle's pickle readers, turning its errors and panics (it indexes tuples
/// without checking their length) into messages.
fn candle_pth<T>(what: impl FnOnce() -> candle_core::Result<T>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(what)) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("malformed tensor records in the pickle".into()),
    }
}

/// Reads a PyTorch zip checkpoint: its `state_dict` entry, else the top-level dict. Every
/// pickle is checked by [`pickle_guard`] first, and every tensor's shape against the bytes its
/// storage really holds before anything is allocated for it.
fn read_pth(path: &Path, len: u64) -> Result<Vec<(String, Tensor)>, String> {
    use std::io::Read;
    let open = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(open)).map_err(|e| format!("not a zip archive: {e}"))?;
    let names = zip.file_names().collect::<Result<Vec<_>, _>>().map_err(|e| format!("unreadable entry names: {e}"))?;
    let pickles: Vec<String> = names.iter().filter(|n| n.ends_with("data.pkl")).map(|n| n.to_string()).collect();
    if pickles.is_empty() {
        return Err("a zip archive without data.pkl: not made by torch.save".into());
    }
    let mut scanned = Vec::new();
    for name in &pickles {
        let mut bytes = Vec::new();
        zip.by_name(name)
            .and_then(|e| Ok(e.take(MAX_PICKLE_BYTES + 1).read_to_end(&mut bytes)?))
            .map_err(|e| format!("{name}: {e}"))?;
        if bytes.len() as u64 > MAX_PICKLE_BYTES {
            return Err(format!("{name} is over {MAX_PICKLE_BYTES} bytes: far more than any state dict"));
        }
        pickle_guard::check(&bytes)
            .and_then(|_| pickle_guard::check_tensor_records(&bytes))
            .map_err(|e| format!("{name}: {e}"))?;
        scanned.push(bytes);
    }
    let pth = match candle_pth(|| PthTensors::new(path, Some("state_dict"))) {
        Ok(p) if !p.tensor_infos().is_empty() => p,
        _ => candle_pth(|| PthTensors::new(path, None))?,
    };
    if pth.tensor_infos().is_empty() {
        let keys: Vec<String> = scanned.iter().flat_map(|p| pickle_guard::top_level_keys(p)).collect();
        let keys = if keys.is_empty() { "none".to_string() } else { abbreviate(&keys) };
        return Err(format!(
            "no state dict: expected a dict of tensors, or one under a `state_dict` key; its top-level keys: {keys}"
        ));
    }
    let mut total = 0u64;
    for (name, info) in pth.tensor_infos() {
        let entry = zip.by_name(&info.path).map_err(|e| format!("tensor `{name}`: storage `{}`: {e}", info.path))?;
        if entry.compression() != zip::CompressionMethod::Stored || entry.size() > len {
            return Err(format!(
                "tensor `{name}`: storage `{}` is compressed or larger than the file; torch.save stores it as is",
                info.path
            ));
        }
        let need = info
            .layout
            .dims()
            .iter()
            .try_fold(info.dtype.size_in_bytes() as u64, |a, &d| a.checked_mul(d as u64))
            .and_then(|b| b.checked_add(info.layout.start_offset() as u64));
        match need {
            Some(b) if b <= entry.size() => total += b,
            _ => {
                return Err(format!(
                    "tensor `{name}`: shape {:?} of {:?} needs more than the {} bytes its storage holds",
                    info.layout.dims(),
                    info.dtype,
                    entry.size()
                ));
            }
        }
    }
    if total > MAX_FILE_BYTES {
        return Err(format!("its tensors would take {total} bytes (limit {MAX_FILE_BYTES})"));
    }
    let mut out = Vec::with_capacity(pth.tensor_infos().len());
    for name in pth.tensor_infos().keys() {
        if let Some(t) = candle_pth(|| pth.get(name)).map_err(|e| format!("tensor `{name}`: {e}"))? {
            out.push((name.clone(), t));
        }
    }
    Ok(out)
}

/// A safetensors header's metadata, validating the header on the way.
fn safetensors_metadata(bytes: &[u8]) -> Result<HashMap<String, String>, String> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Name -> shape of every tensor (parameters and BatchNorm buffers) `card`'s network reads.
pub fn expected_tensors(card: &ArchCard) -> candle_core::Result<BTreeMap<String, Vec<usize>>> {
    let vm = VarMap::new();
    AddNet::load(card, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu), BuildMode::Unfolded)?;
    let data = vm.data().lock().expect("varmap lock");
    Ok(data.iter().map(|(n, v)| (n.clone(), v.dims().to_vec())).collect())
}

/// Checks `tensors` against what `card` needs; lists every difference by name.
pub fn check_against(card: &ArchCard, file: &str, tensors: &HashMap<String, Tensor>) -> Result<(), CheckpointError> {
    let expected =
        expected_tensors(card).map_err(|e| CheckpointError::Read { file: file.into(), message: e.to_string() })?;
    let mut missing = Vec::new();
    let mut misshaped = Vec::new();
    for (name, shape) in &expected {
        match tensors.get(name) {
            None => missing.push(name.clone()),
            Some(t) if t.dims() != shape.as_slice() => {
                misshaped.push(format!("{name}: expected {shape:?}, found {:?}", t.dims()))
            }
            Some(_) => {}
        }
    }
    let mut unexpected: Vec<_> = tensors.keys().filter(|n| !expected.contains_key(*n)).cloned().collect();
    unexpected.sort();
    if missing.is_empty() && misshaped.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let mut report = String::new();
    for (title, list) in [("missing", &missing), ("mis-shaped", &misshaped), ("unexpected", &unexpected)] {
        if !list.is_empty() {
            report.push_str(&format!("\n  {} {title}: {}", list.len(), abbreviate(list)));
        }
    }
    Err(CheckpointError::Mismatch { file: file.into(), card: card.name.clone(), report })
}

fn abbreviate(list: &[String]) -> String {
    const SHOW: usize = 8;
    let mut s = list.iter().take(SHOW).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > SHOW {
        s.push_str(&format!(", ... ({} more)", list.len() - SHOW));
    }
    s
}

/// Builds the network of `card` from checked tensors on `device`.
pub fn build(
    card: &ArchCard,
    tensors: HashMap<String, Tensor>,
    device: &Device,
    mode: BuildMode,
) -> candle_core::Result<AddNet> {
    let tensors = tensors
        .into_iter()
        .map(|(n, t)| Ok((n, t.to_device(device)?)))
        .collect::<candle_core::Result<HashMap<_, _>>>()?;
    AddNet::load(card, VarBuilder::from_tensors(tensors, DType::F32, device), mode)
}

/// Finds the card for a weights file: the explicit one, else the embedded one, else
/// `<stem>.json` beside the weights.
pub fn resolve_card(weights: &TensorFile, explicit: Option<&Path>) -> Result<ArchCard, CheckpointError> {
    if let Some(p) = explicit {
        return Ok(ArchCard::load(p)?);
    }
    if let Some(c) = &weights.card {
        return Ok(c.clone());
    }
    let sibling = weights.path.with_extension("json");
    if sibling.exists() {
        return Ok(ArchCard::load(&sibling)?);
    }
    Err(CheckpointError::NoCard {
        file: weights.path.display().to_string(),
        stem: weights.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    })
}

/// Writes `tensors` with `card` embedded as a safetensors file, atomically (temp file in the
/// same folder, then rename), so an interrupted write never leaves a half file under `path`.
pub fn save(path: &Path, card: &ArchCard, tensors: &HashMap<String, Tensor>) -> Result<(), CheckpointError> {
    save_with_metadata(path, card, tensors, HashMap::new())
}

/// Like [`save`], with extra metadata entries (e.g. a training run's state).
pub fn save_with_metadata(
    path: &Path,
    card: &ArchCard,
    tensors: &HashMap<String, Tensor>,
    mut meta: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    let file = path.display().to_string();
    let werr = |message: String| CheckpointError::Write { file: file.clone(), message };
    let mut views = Vec::new();
    let mut names: Vec<_> = tensors.keys().cloned().collect();
    names.sort();
    for name in &names {
        let t = tensors[name]
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| werr(e.to_string()))?;
        let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
        views.push((name.clone(), tensors[name].dims().to_vec(), bytes));
    }
    let data: Vec<(String, safetensors::tensor::TensorView)> = views
        .iter()
        .map(|(n, shape, bytes)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map_err(|e| werr(e.to_string()))?,
            ))
        })
        .collect::<Result<_, CheckpointError>>()?;
    meta.insert(CARD_METADATA_KEY.to_string(), serde_json::to_string(card).expect("card serialises"));
    let bytes = safetensors::tensor::serialize(data, Some(meta)).map_err(|e| werr(e.to_string()))?;
    crate::fsutil::atomic_write(path, &bytes).map_err(|e| werr(e.to_string()))
}

/// Adds a reference EDM checkpoint's tensors (`conv.weight`, `edm.*`) as early exit `k`'s
/// scalar EDM (`edm.{k}.`).
pub fn merge_edm(tensors: &mut HashMap<String, Tensor>, edm: TensorFile, k: usize) -> Result<(), CheckpointError> {
    let file = edm.path.display().to_string();
    if !edm.tensors.contains_key("conv.weight") {
        return Err(CheckpointError::Read {
            file,
            message: "not a reference EDM checkpoint: no `conv.weight` tensor".into(),
        });
    }
    for (name, t) in edm.tensors {
        tensors.insert(format!("edm.{k}.{name}"), t);
    }
    Ok(())
}
