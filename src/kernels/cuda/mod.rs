//! Our CUDA kernels (`add_kernels.cu`), launched from the candle custom ops' `cuda_fwd`: the
//! ops candle runs as hundreds of small generic kernels on a GPU (depthwise conv as k² shifted
//! multiply-adds, bilinear resize as gathers and blends, training BatchNorm as a dozen
//! temporaries) and the exit maps, which otherwise copy all K logit planes to the host.
//!
//! Built by build.rs with nvcc into PTX that is embedded here, not compiled at run time with
//! NVRTC: the `cuda` build already needs nvcc (candle-kernels), a kernel that does not compile
//! fails the build instead of the first run on a borrowed GPU, and start-up compiles nothing
//! (the driver JIT-compiles the PTX for the GPU at hand on first use and caches it). The cost:
//! PTX for `CUDA_COMPUTE_CAP` runs on that GPU generation and newer only, like candle's own.
//!
//! Every kernel takes dense row-major f32; the ops make their inputs contiguous first
//! (`util::dense_on_gpu`). Launch shapes and the integer arguments come from
//! [`super::launch`], which the CPU tests check.

pub(crate) mod batchnorm;
pub(crate) mod depthwise;
pub(crate) mod exit_maps;
pub(crate) mod resize;

use super::launch::Launch;
use candle_core::cuda_backend::cudarc::driver::{CudaView, LaunchConfig};
use candle_core::{CudaStorage, Layout, Result, bail};

/// The PTX build.rs made from add_kernels.cu.
pub(crate) const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/add_kernels.ptx"));

/// The name candle caches our loaded module under, per device.
pub(crate) const MODULE: &str = "add_studio_kernels";

/// cudarc's launch configuration for `l`, without dynamic shared memory.
pub(crate) fn config(l: Launch) -> LaunchConfig {
    LaunchConfig { grid_dim: (l.blocks, 1, 1), block_dim: (l.threads, 1, 1), shared_mem_bytes: 0 }
}

/// The f32 elements of a contiguous tensor's storage, from its start offset.
pub(crate) fn dense<'a>(s: &'a CudaStorage, l: &Layout, what: &str) -> Result<CudaView<'a, f32>> {
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("{what}: the CUDA kernel needs a contiguous tensor, got strides {:?}", l.stride())
    };
    Ok(s.as_cuda_slice::<f32>()?.slice(start..end))
}

/// Launches kernel `$name` of our module on `$dev`'s stream with `$launch` and the arguments
/// (references: device buffers, then scalars in the kernel's order).
macro_rules! launch {
    ($dev:expr, $name:expr, $launch:expr; $($arg:expr),+ $(,)?) => {{
        use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
        let func = $dev.get_or_load_custom_func($name, $crate::kernels::cuda::MODULE, $crate::kernels::cuda::PTX)?;
        let mut builder = func.builder();
        $( builder.arg($arg); )+
        // SAFETY: the arguments match the kernel's signature in add_kernels.cu (types and
        // order), and every buffer holds the elements the launch shape makes it touch.
        unsafe { builder.launch($crate::kernels::cuda::config($launch)) }
            .map_err(|e| candle_core::Error::Msg(format!("CUDA kernel {}: {e}", $name)))?;
    }};
}
pub(crate) use launch;
