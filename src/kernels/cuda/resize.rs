//! Bilinear resize on CUDA, forward and backward, behind `kernels::resize_bilinear`'s custom
//! ops: source positions from the CPU taps' f32 scale, computed per pixel on the device.

use super::{dense, launch};
use crate::kernels::launch::{elementwise, int_arg, resize_scales};
use candle_core::{CudaStorage, Layout, Result};

/// The kernels' arguments after the two pointers: NC, H, W, OH, OW, scale_h, scale_w, align.
struct Args {
    nc: i32,
    hw: (i32, i32),
    out: (i32, i32),
    scale: (f32, f32),
    align: i32,
}

impl Args {
    fn new(nc: usize, (h, w): (usize, usize), (oh, ow): (usize, usize), align: bool) -> Result<Args> {
        Ok(Args {
            nc: int_arg(nc, "batch x channels")?,
            hw: (int_arg(h, "height")?, int_arg(w, "width")?),
            out: (int_arg(oh, "output height")?, int_arg(ow, "output width")?),
            scale: resize_scales((h, w), (oh, ow), align),
            align: align as i32,
        })
    }
}

/// y (N,C,oh,ow) from x (N,C,H,W).
pub(crate) fn forward(x: &CudaStorage, l: &Layout, out: (usize, usize), align: bool) -> Result<CudaStorage> {
    let (n, c, h, w) = l.shape().dims4()?;
    let a = Args::new(n * c, (h, w), out, align)?;
    let dev = x.device.clone();
    let xv = dense(x, l, "resize_bilinear x")?;
    let total = n * c * out.0 * out.1;
    // SAFETY: resize_fwd writes every output element.
    let y = unsafe { dev.alloc::<f32>(total)? };
    launch!(dev, "resize_fwd", elementwise(total); &xv, &y, &a.nc, &a.hw.0, &a.hw.1, &a.out.0, &a.out.1, &a.scale.0, &a.scale.1, &a.align);
    Ok(CudaStorage::wrap_cuda_slice(y, dev))
}

/// dL/dx (N,C,H,W) from gy (N,C,oh,ow): each output gradient added onto its four sources.
pub(crate) fn backward(gy: &CudaStorage, l: &Layout, input: (usize, usize), align: bool) -> Result<CudaStorage> {
    let (n, c, oh, ow) = l.shape().dims4()?;
    let a = Args::new(n * c, input, (oh, ow), align)?;
    let dev = gy.device.clone();
    let gv = dense(gy, l, "resize_bilinear grad")?;
    let gx = dev.alloc_zeros::<f32>(n * c * input.0 * input.1)?;
    launch!(dev, "resize_bwd", elementwise(n * c * oh * ow); &gv, &gx, &a.nc, &a.hw.0, &a.hw.1, &a.out.0, &a.out.1, &a.scale.0, &a.scale.1, &a.align);
    Ok(CudaStorage::wrap_cuda_slice(gx, dev))
}
