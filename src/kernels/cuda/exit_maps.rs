//! The exit maps on the GPU: arg-max class, max probability and normalised entropy of an
//! exit's logits in one kernel pass, so that 3 planes reach the host instead of K (19 for
//! Cityscapes). `engine::maps` calls it for CUDA logits; the CPU computes the same maps with
//! `kernels::class_stats`.

use super::launch;
use crate::kernels::launch::{elementwise, int_arg, inv_log_classes};
use crate::kernels::util::shape_str;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};

/// (3,H,W) f32 on the logits' device from (1,K,H,W) f32 CUDA logits (any strides but a unit
/// column stride): plane 0 the class as a float, 1 the max probability, 2 the entropy / ln K.
pub(crate) fn exit_maps(logits: &Tensor) -> Result<Tensor> {
    match logits.dims() {
        &[1, k, _, _] if k > 0 => {}
        d => bail!("exit maps: logits must be (1,K,H,W) with K >= 1, got {}", shape_str(d)),
    }
    let logits = if logits.stride()[3] == 1 { logits.clone() } else { logits.contiguous()? };
    logits.apply_op1_no_bwd(&ExitMaps)
}

struct ExitMaps;

impl CustomOp1 for ExitMaps {
    fn name(&self) -> &'static str {
        "exit_maps"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        bail!("exit_maps is the GPU's; on the CPU engine::maps runs kernels::class_stats")
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (_, k, h, w) = l.shape().dims4()?;
        let st = l.stride();
        if st[3] != 1 {
            bail!("exit maps: logits need a unit column stride, got strides {st:?}")
        }
        let dev = s.device.clone();
        let data = s.as_cuda_slice::<f32>()?;
        let (ki, hi, wi) = (int_arg(k, "classes")?, int_arg(h, "height")?, int_arg(w, "width")?);
        let (offset, cs, rs) = (l.start_offset() as i64, st[1] as i64, st[2] as i64);
        let inv_log_k = inv_log_classes(k);
        // SAFETY: exit_maps writes all three planes of every pixel.
        let out = unsafe { dev.alloc::<f32>(3 * h * w)? };
        launch!(dev, "exit_maps", elementwise(h * w); data, &out, &ki, &hi, &wi, &offset, &cs, &rs, &inv_log_k);
        Ok((CudaStorage::wrap_cuda_slice(out, dev), Shape::from((3, h, w))))
    }
}
