//! Small helpers shared by the kernels: reading candle storage as a dense f32 slice, splitting
//! work over planes with rayon, and choosing the AVX2+FMA code path at run time (the crate is
//! not built with `-C target-cpu=native`, so without this the loops would only get SSE2).

use candle_core::{CpuStorage, DType, Device, Layout, Result, Tensor};
use rayon::prelude::*;
use std::borrow::Cow;
use std::cell::RefCell;
use std::mem::MaybeUninit;

thread_local! {
    static GENERIC_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when `t` should go through our CPU kernels (CPU device, f32, and not inside
/// [`GenericKernels`]); anything else falls back to candle's own ops so CUDA/Metal and other
/// dtypes keep working.
pub(crate) fn use_cpu_kernel(t: &Tensor) -> bool {
    matches!(t.device(), Device::Cpu) && t.dtype() == DType::F32 && !GENERIC_ONLY.with(|g| g.get())
}

/// True when `t` should go through our CUDA kernels (`--features cuda`, a CUDA tensor, f32,
/// and not inside [`GenericKernels`]); always false in a build without CUDA.
pub(crate) fn use_cuda_kernel(t: &Tensor) -> bool {
    cfg!(feature = "cuda") && t.device().is_cuda() && t.dtype() == DType::F32 && !GENERIC_ONLY.with(|g| g.get())
}

/// `t` as our CUDA kernels read it: made contiguous when it is bound for them, else as it is
/// (the CPU kernels read any layout).
pub(crate) fn dense_on_gpu(t: &Tensor) -> Result<Tensor> {
    if use_cuda_kernel(t) { t.contiguous() } else { Ok(t.clone()) }
}

/// While alive, this thread's kernel calls take the generic path that Metal (and CUDA without
/// our CUDA kernels) runs (the `fallback` module: candle ops only), also on the CPU and GPU. So the GPU's code path, forward and
/// backward through the whole network, is tested on a machine without a GPU: candle's CPU ops
/// have the same layout rules as its CUDA ones (index-select and index-add want contiguous
/// inputs, for one), which is how a GPU-only training failure was reproduced here.
pub struct GenericKernels {
    was: bool,
}

impl GenericKernels {
    /// Switches this thread to the generic path until the guard drops.
    pub fn on_this_thread() -> GenericKernels {
        GenericKernels { was: GENERIC_ONLY.with(|g| g.replace(true)) }
    }
}

impl Drop for GenericKernels {
    fn drop(&mut self) {
        GENERIC_ONLY.with(|g| g.set(self.was));
    }
}

/// Formats a shape as `(40,2,3,3)`, the way our error messages and the design docs write them.
pub(crate) fn shape_str(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("({})", inner.join(","))
}

/// The elements of `storage` seen through `layout`, in row-major order: borrowed when the
/// layout is already contiguous, gathered into a new buffer otherwise.
pub(crate) fn dense_f32<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<Cow<'a, [f32]>> {
    let data: &[f32] = match storage {
        CpuStorage::F32(v) => v.as_slice(),
        _ => candle_core::bail!("{what}: expected f32 storage"),
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

/// Whether this CPU can run the AVX2+FMA paths (checked once by std, then cached). A kernel
/// that spreads its planes over threads asks once, on the calling thread, and hands the
/// answer down, so [`PortableLoops`] holds for the whole call.
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(test)]
    if PORTABLE_ONLY.with(|p| p.get()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
thread_local! {
    static PORTABLE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, kernel calls made on this thread run the portable (non-AVX2) loops, so tests
/// cover them on an AVX2 machine. Per thread: tests running in parallel are unaffected.
#[cfg(test)]
pub(crate) struct PortableLoops {
    was: bool,
}

#[cfg(test)]
impl PortableLoops {
    pub(crate) fn on_this_thread() -> PortableLoops {
        PortableLoops { was: PORTABLE_ONLY.with(|p| p.replace(true)) }
    }
}

#[cfg(test)]
impl Drop for PortableLoops {
    fn drop(&mut self) {
        PORTABLE_ONLY.with(|p| p.set(self.was));
    }
}

thread_local! {
    /// Per-thread scratch that survives between calls, so the padded copies and resize row
    /// caches are not re-allocated and re-zeroed for every plane or rayon split (that showed
    /// up as ~5% memset on the small planes). It keeps the largest size seen.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f(scratch)` with this thread's scratch buffer (arbitrary stale contents), or a fresh
/// one if the thread's buffer is already borrowed further up the stack.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Runs `f(plane_index, out_plane, scratch)` over the `plane_len`-sized chunks of `out` in
/// parallel, grouping small planes so that each rayon task does at least ~256k flops of work
/// (rayon's wake-up and per-task overhead would otherwise dominate the 17x33 planes).
/// `scratch` is a thread-local buffer with arbitrary stale contents.
pub(crate) fn par_planes<T, F>(out: &mut [T], plane_len: usize, flops_per_plane: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T], &mut Vec<f32>) + Sync + Send,
{
    if plane_len == 0 || out.is_empty() {
        return;
    }
    let min_len = (262_144 / flops_per_plane.max(1)).max(1);
    out.par_chunks_mut(plane_len).with_min_len(min_len).enumerate().for_each(|(i, plane)| {
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => f(i, plane, &mut s),
            // Only if `f` itself re-entered rayon and got another of our planes.
            Err(_) => f(i, plane, &mut Vec::new()),
        })
    });
}

/// A buffer of `n` f32 that our kernels overwrite completely, so it skips the memset that
/// `vec![0.0; n]` costs (about 8% of a depthwise conv).
pub(crate) fn uninit_f32(n: usize) -> Vec<MaybeUninit<f32>> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: MaybeUninit<f32> needs no initialisation.
    unsafe { v.set_len(n) };
    v
}

/// Turns a buffer filled by a kernel into a plain `Vec<f32>`.
///
/// # Safety
/// Every element must have been written.
pub(crate) unsafe fn assume_init(v: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: same layout, all elements initialised (caller), allocation handed over.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut f32, v.len(), v.capacity()) }
}

/// Zero-fills an uninitialised plane and returns it as f32, for kernels that accumulate.
pub(crate) fn zeroed(plane: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    plane.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was just written; same layout.
    unsafe { &mut *(plane as *mut [MaybeUninit<f32>] as *mut [f32]) }
}
