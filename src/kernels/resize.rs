//! Bilinear resize as a candle custom op: candle's `upsample_bilinear2d` has no backward, and
//! the network resizes features (cell inputs, dense fusion, decoder) on the training path.

use super::resize_cpu::{axis_taps, resize_plane, resize_plane_bwd};
use super::util::{dense_f32, par_planes, use_cpu_kernel};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};

/// Bilinear resize of x (N,C,H,W) to (N,C,out_h,out_w), exactly PyTorch's
/// `F.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners=...)` (no antialias),
/// with a backward pass on CPU/f32; candle's `upsample_bilinear2d` elsewhere.
pub fn resize_bilinear(x: &Tensor, out_h: usize, out_w: usize, align_corners: bool) -> Result<Tensor> {
    let Ok((_, _, h, w)) = x.dims4() else {
        bail!("resize_bilinear: input x must be (N,C,H,W), got {:?}", x.dims())
    };
    if out_h == 0 || out_w == 0 || h == 0 || w == 0 {
        bail!("resize_bilinear: sizes must be non-zero, got input (H,W)=({h},{w}) and output ({out_h},{out_w})")
    }
    if (h, w) == (out_h, out_w) {
        // Both align_corners modes are the identity here (scale 1, zero fractions).
        return Ok(x.clone());
    }
    if !use_cpu_kernel(x) {
        return x.upsample_bilinear2d(out_h, out_w, align_corners);
    }
    x.apply_op1(ResizeBilinear { out_h, out_w, align_corners })
}

/// Forward op: the target size; the input size comes from the layout.
#[derive(Clone, Copy, Debug)]
struct ResizeBilinear {
    out_h: usize,
    out_w: usize,
    align_corners: bool,
}

impl CustomOp1 for ResizeBilinear {
    fn name(&self) -> &'static str {
        "resize_bilinear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let (oh, ow) = (self.out_h, self.out_w);
        let x = dense_f32(s, l, "resize_bilinear x")?;
        let ty = axis_taps(h, oh, self.align_corners);
        let tx = axis_taps(w, ow, self.align_corners);
        let mut out = vec![0f32; n * c * oh * ow];
        par_planes(&mut out, oh * ow, 3 * (oh + h) * ow, |i, plane, scratch| {
            resize_plane(&x[i * h * w..(i + 1) * h * w], w, &ty, &tx, plane, scratch);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, oh, ow))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, gy: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = x.dims4()?;
        let op = ResizeBilinearGrad { in_h: h, in_w: w, fwd: *self };
        Ok(Some(gy.apply_op1_no_bwd(&op)?))
    }
}

/// dL/dx from dL/dy: scatter-add of each output gradient onto its four source pixels.
#[derive(Clone, Copy, Debug)]
struct ResizeBilinearGrad {
    in_h: usize,
    in_w: usize,
    fwd: ResizeBilinear,
}

impl CustomOp1 for ResizeBilinearGrad {
    fn name(&self) -> &'static str {
        "resize_bilinear_grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, oh, ow) = l.shape().dims4()?;
        if (oh, ow) != (self.fwd.out_h, self.fwd.out_w) {
            bail!(
                "resize_bilinear backward: gradient must be (N,C,{},{}), got {:?}",
                self.fwd.out_h,
                self.fwd.out_w,
                l.dims()
            )
        }
        let (h, w) = (self.in_h, self.in_w);
        let gy = dense_f32(s, l, "resize_bilinear grad")?;
        let ty = axis_taps(h, oh, self.fwd.align_corners);
        let tx = axis_taps(w, ow, self.fwd.align_corners);
        let mut out = vec![0f32; n * c * h * w];
        par_planes(&mut out, h * w, 3 * (oh + h) * ow, |i, plane, scratch| {
            resize_plane_bwd(&gy[i * oh * ow..(i + 1) * oh * ow], &ty, &tx, plane, w, scratch);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, h, w))))
    }
}
