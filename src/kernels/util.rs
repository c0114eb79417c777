//! Small helpers shared by the kernels: reading candle storage as a dense f32 slice, splitting
//! work over planes with rayon, and choosing the AVX2+FMA code path at run time (the crate is
//! not built with `-C target-cpu=native`, so without this the loops would only get SSE2).

use candle_core::{CpuStorage, DType, Device, Layout, Result, Tensor};
use rayon::prelude::*;
use std::borrow::Cow;

/// True when `t` should go through our CPU kernels (CPU device, f32); anything else falls back
/// to candle's own ops so CUDA/Metal and other dtypes keep working.
pub(crate) fn use_cpu_kernel(t: &Tensor) -> bool {
    matches!(t.device(), Device::Cpu) && t.dtype() == DType::F32
}

/// The elements of `storage` seen through `layout`, in row-major order: borrowed when the
/// layout is already contiguous, gathered into a new buffer otherwise.
pub(crate) fn dense_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> Result<Cow<'a, [f32]>> {
    let data: &[f32] = match storage {
        CpuStorage::F32(v) => v.as_slice(),
        other => candle_core::bail!("{what}: expected f32 storage, got {:?}", other.dtype()),
    };
    if let Some((start, end)) = layout.contiguous_offsets() {
        return Ok(Cow::Borrowed(&data[start..end]));
    }
    let dims = layout.dims();
    let strides = layout.stride();
    let mut out = Vec::with_capacity(layout.shape().elem_count());
    gather(data, layout.start_offset(), dims, strides, &mut out);
    Ok(Cow::Owned(out))
}

/// Recursive strided copy; the last dimension is the inner loop.
fn gather(data: &[f32], offset: usize, dims: &[usize], strides: &[usize], out: &mut Vec<f32>) {
    match dims.len() {
        0 => out.push(data[offset]),
        1 => out.extend((0..dims[0]).map(|i| data[offset + i * strides[0]])),
        _ => {
            for i in 0..dims[0] {
                gather(data, offset + i * strides[0], &dims[1..], &strides[1..], out);
            }
        }
    }
}

/// Whether this CPU can run the AVX2+FMA paths (checked once by std, then cached).
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `f(plane_index, out_plane, scratch)` over the `plane_len`-sized chunks of `out` in
/// parallel, grouping small planes so that each rayon task does at least ~64k flops of work
/// (rayon's per-task overhead would otherwise dominate the 17x33 planes).
pub(crate) fn par_planes<F>(out: &mut [f32], plane_len: usize, flops_per_plane: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut Vec<f32>) + Sync + Send,
{
    if plane_len == 0 || out.is_empty() {
        return;
    }
    let min_len = (65_536 / flops_per_plane.max(1)).max(1);
    out.par_chunks_mut(plane_len)
        .with_min_len(min_len)
        .enumerate()
        .for_each_init(Vec::new, |scratch, (i, plane)| f(i, plane, scratch));
}
