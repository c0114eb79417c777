//! Depthwise conv on CUDA: the forward, input-gradient and weight-gradient kernels behind
//! `kernels::depthwise_conv2d`'s custom ops (the CPU kernels' GPU side).

use super::{dense, launch};
use crate::kernels::launch::{DepthwiseArgs, int_arg};
use candle_core::{CudaStorage, Layout, Result};

/// y (N,C,OH,OW) from x (N,C,H,W) and w (C,1,k,k).
pub(crate) fn forward(
    a: &DepthwiseArgs,
    x: &CudaStorage,
    lx: &Layout,
    w: &CudaStorage,
    lw: &Layout,
) -> Result<CudaStorage> {
    let dev = x.device.clone();
    let (xv, wv) = (dense(x, lx, "depthwise_conv2d x")?, dense(w, lw, "depthwise_conv2d w")?);
    let nc = int_arg(a.n as usize * a.c as usize, "batch x channels")?;
    // SAFETY: dw_fwd writes every output element.
    let y = unsafe { dev.alloc::<f32>(nc as usize * a.oh as usize * a.ow as usize)? };
    launch!(dev, "dw_fwd", a.forward_launch(); &xv, &wv, &y, &nc, &a.c, &a.h, &a.w, &a.oh, &a.ow, &a.k, &a.s, &a.p, &a.d);
    Ok(CudaStorage::wrap_cuda_slice(y, dev))
}

/// dL/dx (N,C,H,W) from gy (N,C,OH,OW) and w.
pub(crate) fn input_grad(
    a: &DepthwiseArgs,
    gy: &CudaStorage,
    lg: &Layout,
    w: &CudaStorage,
    lw: &Layout,
) -> Result<CudaStorage> {
    let dev = gy.device.clone();
    let (gv, wv) = (dense(gy, lg, "depthwise_conv2d grad")?, dense(w, lw, "depthwise_conv2d w")?);
    let nc = int_arg(a.n as usize * a.c as usize, "batch x channels")?;
    // SAFETY: dw_bwd_input writes every element.
    let gx = unsafe { dev.alloc::<f32>(nc as usize * a.h as usize * a.w as usize)? };
    launch!(dev, "dw_bwd_input", a.input_grad_launch(); &gv, &wv, &gx, &nc, &a.c, &a.h, &a.w, &a.oh, &a.ow, &a.k, &a.s, &a.p, &a.d);
    Ok(CudaStorage::wrap_cuda_slice(gx, dev))
}

/// dL/dw (C,1,k,k) from x and gy.
pub(crate) fn weight_grad(
    a: &DepthwiseArgs,
    x: &CudaStorage,
    lx: &Layout,
    gy: &CudaStorage,
    lg: &Layout,
) -> Result<CudaStorage> {
    let dev = x.device.clone();
    let (xv, gv) = (dense(x, lx, "depthwise_conv2d x")?, dense(gy, lg, "depthwise_conv2d grad")?);
    let launch = a.weight_grad_launch()?;
    // SAFETY: block b of dw_bwd_weight writes gw[b], one block per element.
    let gw = unsafe { dev.alloc::<f32>(launch.blocks as usize)? };
    launch!(dev, "dw_bwd_weight", launch; &xv, &gv, &gw, &a.n, &a.c, &a.h, &a.w, &a.oh, &a.ow, &a.k, &a.s, &a.p, &a.d);
    Ok(CudaStorage::wrap_cuda_slice(gw, dev))
}
