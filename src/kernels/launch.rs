//! Launch shapes and kernel arguments of the CUDA kernels (src/kernels/cuda/add_kernels.cu),
//! as plain numbers: compiled in every build so that the CPU tests check them without a GPU
//! (sizes, limits, the argument each kernel reads), and the `cuda` feature launches them.
#![cfg_attr(not(feature = "cuda"), allow(dead_code))]

/// Threads per block; the kernels' `BLOCK` (their shared reduction buffers are sized by it).
pub(crate) const BLOCK: u32 = 256;

/// Most blocks of an element-wise launch: enough to fill the largest GPUs (132 SMs x 16
/// resident blocks) while the grid-stride loop covers the rest.
pub(crate) const MAX_BLOCKS: u32 = 132 * 16;

/// Largest depthwise kernel the CUDA kernels take (their generic loop is unrolled up to 8).
pub(crate) const MAX_DEPTHWISE_K: usize = 8;

/// Grid and block of a launch, as `cudarc`'s LaunchConfig wants them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Launch {
    pub blocks: u32,
    pub threads: u32,
}

/// An element-wise launch over `n` items: one thread each up to [`MAX_BLOCKS`] blocks, then
/// the kernels' grid-stride loops take several. At least one block, so an empty tensor still
/// launches validly (the loop body then never runs).
pub(crate) fn elementwise(n: usize) -> Launch {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_BLOCKS as usize) as u32;
    Launch { blocks, threads: BLOCK }
}

/// One block per reduction (per channel, or per channel and kernel tap), each summing its
/// items with a block-stride loop.
pub(crate) fn per_reduction(reductions: usize) -> candle_core::Result<Launch> {
    // CUDA's grid x-dimension limit
    if reductions == 0 || reductions > i32::MAX as usize {
        candle_core::bail!("a CUDA reduction over {reductions} groups: expected 1 to {}", i32::MAX)
    }
    Ok(Launch { blocks: reductions as u32, threads: BLOCK })
}

/// Converts a size to the `int` a kernel takes, refusing what would overflow it.
pub(crate) fn int_arg(v: usize, what: &str) -> candle_core::Result<i32> {
    i32::try_from(v).map_err(|_| candle_core::Error::Msg(format!("{what} = {v} does not fit a CUDA int argument")))
}

/// The `int` arguments of the depthwise kernels, in their order after the pointers:
/// `NC or N, C, H, W, OH, OW, K, S, P, D`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DepthwiseArgs {
    pub n: i32,
    pub c: i32,
    pub h: i32,
    pub w: i32,
    pub oh: i32,
    pub ow: i32,
    pub k: i32,
    pub s: i32,
    pub p: i32,
    pub d: i32,
}

impl DepthwiseArgs {
    /// Checks every size fits an `int`, the products the kernels index with fit `size_t`
    /// (always on 64-bit), and the kernel size is one the CUDA loops take.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        n: usize,
        c: usize,
        (h, w): (usize, usize),
        (oh, ow): (usize, usize),
        k: usize,
        s: usize,
        p: usize,
        d: usize,
    ) -> candle_core::Result<DepthwiseArgs> {
        if k == 0 || k > MAX_DEPTHWISE_K {
            candle_core::bail!("depthwise_conv2d on CUDA: kernel size {k}, expected 1 to {MAX_DEPTHWISE_K}")
        }
        Ok(DepthwiseArgs {
            n: int_arg(n, "batch")?,
            c: int_arg(c, "channels")?,
            h: int_arg(h, "height")?,
            w: int_arg(w, "width")?,
            oh: int_arg(oh, "output height")?,
            ow: int_arg(ow, "output width")?,
            k: k as i32,
            s: int_arg(s, "stride")?,
            p: int_arg(p, "padding")?,
            d: int_arg(d, "dilation")?,
        })
    }

    /// Forward: one thread per output element.
    pub(crate) fn forward_launch(&self) -> Launch {
        elementwise(self.n as usize * self.c as usize * self.oh as usize * self.ow as usize)
    }

    /// Input gradient: one thread per input element.
    pub(crate) fn input_grad_launch(&self) -> Launch {
        elementwise(self.n as usize * self.c as usize * self.h as usize * self.w as usize)
    }

    /// Weight gradient: one block per (channel, tap); block `b` computes `gw[b]`, the weight
    /// layout (C,1,k,k) flattened.
    pub(crate) fn weight_grad_launch(&self) -> candle_core::Result<Launch> {
        per_reduction(self.c as usize * (self.k * self.k) as usize)
    }
}

/// The `float` scale the resize kernels place source pixels with: exactly what the CPU taps
/// use (`resize_cpu::axis_scale`), so both compute the same positions in the same f32 steps.
pub(crate) fn resize_scales(in_hw: (usize, usize), out_hw: (usize, usize), align_corners: bool) -> (f32, f32) {
    use super::resize_cpu::axis_scale;
    (axis_scale(in_hw.0, out_hw.0, align_corners), axis_scale(in_hw.1, out_hw.1, align_corners))
}

/// `1 / ln K`, the exit-maps kernel's entropy normaliser (0 for one class, like the CPU's).
pub(crate) fn inv_log_classes(k: usize) -> f32 {
    if k > 1 { 1.0 / (k as f32).ln() } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elementwise_covers_every_item_once_with_the_grid_stride() {
        for n in [0usize, 1, 255, 256, 257, 131_072, 1025 * 2049 * 19, 5_000_000_000] {
            let l = elementwise(n);
            assert_eq!(l.threads, BLOCK);
            assert!(l.blocks >= 1 && l.blocks <= MAX_BLOCKS, "n={n}: {l:?}");
            let per_pass = l.blocks as usize * l.threads as usize;
            // the kernels' loop: i, i + per_pass, ... < n: every index visited exactly once
            let visits = |i: usize| (i..n).step_by(per_pass).count();
            if n > 0 {
                assert_eq!(visits(0), n.div_ceil(per_pass));
                assert!(per_pass >= n || l.blocks == MAX_BLOCKS, "n={n}: a short grid must be the largest");
            }
            if n <= per_pass {
                assert_eq!(l.blocks as usize, n.div_ceil(BLOCK as usize).max(1), "n={n}: one thread per item");
            }
        }
    }

    #[test]
    fn reductions_get_one_block_each_and_refuse_none() {
        assert_eq!(per_reduction(180).unwrap(), Launch { blocks: 180, threads: BLOCK });
        assert!(per_reduction(0).unwrap_err().to_string().contains("0 groups"));
        // the kernels' shared buffers hold one double per warp
        assert_eq!(BLOCK % 32, 0);
        assert!(BLOCK <= 1024);
    }

    #[test]
    fn depthwise_arguments_and_launches() {
        // F=20 at 1025x2049: the first cell level (1/4) has 20 * 5 channels at 257x513
        let a = DepthwiseArgs::new(1, 100, (257, 513), (257, 513), 5, 1, 4, 2).unwrap();
        assert_eq!((a.k, a.s, a.p, a.d), (5, 1, 4, 2));
        assert_eq!(a.forward_launch(), elementwise(100 * 257 * 513));
        assert_eq!(a.weight_grad_launch().unwrap().blocks, 100 * 25);
        let strided = DepthwiseArgs::new(8, 40, (129, 257), (65, 129), 3, 2, 1, 1).unwrap();
        assert_eq!(strided.input_grad_launch(), elementwise(8 * 40 * 129 * 257));
        assert_eq!(strided.forward_launch(), elementwise(8 * 40 * 65 * 129));
        let e = DepthwiseArgs::new(1, 4, (9, 9), (9, 9), 9, 1, 4, 1).unwrap_err().to_string();
        assert!(e.contains("kernel size 9, expected 1 to 8"), "{e}");
        let e = DepthwiseArgs::new(1, 4, (1 << 31, 9), (9, 9), 3, 1, 1, 1).unwrap_err().to_string();
        assert!(e.contains("height = 2147483648 does not fit"), "{e}");
    }

    #[test]
    fn resize_scales_are_the_cpu_taps_scales() {
        use crate::kernels::resize_cpu::axis_taps;
        for (i, o) in [(65usize, 129usize), (129, 257), (257, 1025), (513, 2049), (7, 3), (5, 1)] {
            for align in [false, true] {
                let (sh, sw) = resize_scales((i, 9), (o, 9), align);
                assert_eq!(sw, 1.0, "same size: scale 1");
                // position of each output pixel from the scale, in f32 as the kernel does it
                for (j, t) in axis_taps(i, o, align).iter().enumerate() {
                    let src = if align { sh * j as f32 } else { (sh * (j as f32 + 0.5) - 0.5).max(0.0) };
                    let i0 = (src.floor() as usize).min(i - 1);
                    assert_eq!(i0, t.i0, "{i}->{o} align={align} pixel {j}");
                    assert_eq!((src - i0 as f32).clamp(0.0, 1.0), t.l1, "{i}->{o} align={align} pixel {j}");
                }
            }
        }
    }

    #[test]
    fn entropy_normaliser() {
        assert_eq!(inv_log_classes(1), 0.0);
        assert!((inv_log_classes(19) - 1.0 / 19f32.ln()).abs() < 1e-7);
    }
}
