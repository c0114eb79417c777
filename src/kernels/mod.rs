//! Our own CPU kernels for the ops that dominate Auto-DeepLab, because candle 0.11's are slow
//! there (grouped conv2d runs one conv per channel) or lack a backward (bilinear resize).
//!
//! Every kernel is a candle custom op on CPU/f32 with a backward pass. With `--features cuda`
//! depthwise conv, bilinear resize, training BatchNorm and the exit maps also run our CUDA
//! kernels on f32 GPU tensors (`cuda`, launch shapes in [`launch`]). Other devices and dtypes
//! (Metal, f64, CUDA without the feature's kernels for that op) fall back to candle ops with
//! the same semantics and a backward: candle's own op where that is fast there, [`fallback`]
//! where candle's is slow (grouped conv) or has no backward (bilinear resize).
//! - [`depthwise_conv2d`]: depthwise kxk conv with stride, padding and dilation.
//! - [`resize_bilinear`]: PyTorch `F.interpolate(mode='bilinear')` in size mode.
//! - [`conv1x1`]: pointwise conv as one GEMM per image, no im2col.
//! - [`batch_norm_train`]: training-mode BatchNorm (fused statistics, normalisation, backward).
//! - [`conv2d`]: dense kxk conv (any stride/padding/dilation) as im2col + GEMM, GEMM backward.
//! - [`class_stats`]: per-pixel arg-max, max probability and entropy over the classes (the
//!   maps every answer shows), with a vectorised exp and log.

mod batchnorm;
pub mod class_stats;
mod conv1x1;
mod conv2d;
#[cfg(feature = "cuda")]
mod cuda;
mod depthwise;
mod depthwise_cpu;
mod fallback;
mod launch;
mod resize;
mod resize_cpu;
mod util;

#[cfg(test)]
mod test_util;

pub use batchnorm::{batch_norm_stats_apply, batch_norm_train};
pub use conv1x1::{conv1x1, conv1x1_matmul};
pub use conv2d::conv2d;
pub use depthwise::depthwise_conv2d;
pub use resize::resize_bilinear;
pub use util::GenericKernels;

/// The exit maps of (1,K,H,W) f32 CUDA logits on the GPU: (3,H,W) class, max probability and
/// normalised entropy (see `engine::maps`).
#[cfg(feature = "cuda")]
pub(crate) fn exit_maps_cuda(logits: &candle_core::Tensor) -> candle_core::Result<Option<candle_core::Tensor>> {
    if !util::use_cuda_kernel(logits) {
        return Ok(None);
    }
    cuda::exit_maps::exit_maps(logits).map(Some)
}
