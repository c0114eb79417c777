//! Small numpy files (`.npy`) as the reference search writes them, read with candle's own
//! reader (`Tensor::read_npy`) behind a guard.
//!
//! candle allocates the element count its header declares before reading any data, so a file
//! whose header claims a huge shape would exhaust memory rather than fail. The guard reads the
//! header first and refuses files over [`MAX_NPY_BYTES`], headers without a shape, and shapes
//! whose element count does not match the bytes that follow; only then does candle read the
//! file. Every error names the file.

use std::io::Read;
use std::path::Path;

use candle_core::{DType, Tensor};

/// Largest `.npy` read: the reference's betas are 12x4x3 numbers, a path 12, a genotype 20.
pub const MAX_NPY_BYTES: u64 = 1 << 20;

/// A `.npy` file that cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct NpyError {
    pub file: String,
    pub message: String,
}

/// An error about `file`.
pub fn npy_error(file: &Path, message: impl Into<String>) -> NpyError {
    NpyError { file: file.display().to_string(), message: message.into() }
}

/// The array in `file` as f64 numbers (row-major) with its shape, whatever its numeric dtype.
pub fn read(file: &Path) -> Result<(Vec<usize>, Vec<f64>), NpyError> {
    let err = |m: String| npy_error(file, m);
    let shape = check_header(file)?;
    let t = std::panic::catch_unwind(|| Tensor::read_npy(file))
        .map_err(|_| err("not a numpy array file (the reader failed)".into()))?
        .map_err(|e| err(format!("not a readable numpy array: {e}")))?;
    if t.dims() != shape.as_slice() {
        return Err(err(format!("shape {shape:?} read as {:?}", t.dims())));
    }
    let values = t
        .to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f64>())
        .map_err(|e| err(format!("cannot convert its values to numbers: {e}")))?;
    Ok((shape, values))
}

/// Reads the header; checks the size, the magic, the shape and that the data fills the file.
fn check_header(file: &Path) -> Result<Vec<usize>, NpyError> {
    let err = |m: String| npy_error(file, m);
    let mut f = std::fs::File::open(file).map_err(|e| err(format!("cannot read: {e}")))?;
    let len = f.metadata().map_err(|e| err(format!("cannot read: {e}")))?.len();
    if len > MAX_NPY_BYTES {
        return Err(err(format!("{len} bytes; a search result is a few hundred (limit {MAX_NPY_BYTES})")));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.read_to_end(&mut bytes).map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(err("not a numpy array file (no \\x93NUMPY magic)".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(err(format!("numpy format version {v} is not 1, 2 or 3"))),
    };
    let end = start.checked_add(header_len).filter(|&e| e <= bytes.len());
    let Some(end) = end else {
        return Err(err(format!("the header claims {header_len} bytes but the file has {}", bytes.len())));
    };
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| err("the header is not text".into()))?;
    let shape = header_shape(header).ok_or_else(|| err(format!("no readable shape in the header {header:?}")))?;
    let item = header_item_size(header).ok_or_else(|| err(format!("no readable dtype in the header {header:?}")))?;
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let data = bytes.len() - end;
    match count.and_then(|c| c.checked_mul(item)) {
        Some(need) if need == data => Ok(shape),
        Some(need) => Err(err(format!("shape {shape:?} needs {need} bytes of data, the file has {data}"))),
        None => Err(err(format!("shape {shape:?} is too large"))),
    }
}

/// The numbers of `'shape': (a, b, ...)`.
fn header_shape(header: &str) -> Option<Vec<usize>> {
    let rest = &header[header.find("'shape'")? + 7..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('(')?;
    let inner = &rest[..rest.find(')')?];
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect()
}

/// Bytes per element of `'descr': '<f4'` (the trailing number; `?` and `b` are one byte).
fn header_item_size(header: &str) -> Option<usize> {
    let rest = &header[header.find("'descr'")? + 7..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('\'')?;
    let descr = &rest[..rest.find('\'')?];
    let digits: String = descr.chars().skip_while(|c| !c.is_ascii_digit()).collect();
    match digits.parse().ok() {
        Some(n) => Some(n),
        None if descr.ends_with('?') || descr.ends_with('b') || descr.ends_with('B') => Some(1),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (12, 4, 3), }";
        assert_eq!(header_shape(h), Some(vec![12, 4, 3]));
        assert_eq!(header_item_size(h), Some(4));
        assert_eq!(header_shape("{'descr': '|u1', 'shape': (12,), }"), Some(vec![12]));
        assert_eq!(header_item_size("{'descr': '|u1', 'shape': (12,), }"), Some(1));
        assert_eq!(header_shape("{'shape': (), }"), Some(vec![]));
        assert_eq!(header_shape("{'shape': (-1,), }"), None);
        assert_eq!(header_shape("{'descr': '<f4'}"), None);
    }

    #[test]
    fn candle_writes_what_the_guard_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let t = Tensor::arange(0f32, 6.0, &candle_core::Device::Cpu).unwrap().reshape((2, 3)).unwrap();
        t.write_npy(&p).unwrap();
        let (shape, v) = read(&p).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(v, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("a.npy") && e.contains("needs 24 bytes of data, the file has 20"), "{e}");
    }
}
