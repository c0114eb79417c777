//! The eight candidate ops of the Auto-DeepLab cell search space, as the reference builds them
//! (stride 1 inside cells; parameter names `op.1`, `op.2`, ... as in its `nn.Sequential`s).

use candle_core::{D, Result, Tensor};
use candle_nn::VarBuilder;

use super::card::OP_NAMES;
use super::layers::{BuildMode, Conv, ConvBn, ConvSpec};

/// One op applied to one branch of a block.
#[derive(Debug, Clone)]
pub enum Op {
    /// `none`: zeros of the input's shape.
    Zero,
    MaxPool3,
    /// `avg_pool_3x3` with `count_include_pad=False`.
    AvgPool3,
    Skip,
    /// `sep_conv_kxk`: [ReLU, depthwise kxk, 1x1, BN] twice.
    SepConv {
        dw1: Conv,
        pw1: ConvBn,
        dw2: Conv,
        pw2: ConvBn,
    },
    /// `dil_conv_kxk`: ReLU, full kxk conv with dilation 2, BN.
    DilConv(ConvBn),
}

impl Op {
    /// Builds op number `index` (0..=7, see [`OP_NAMES`]) on `c` channels.
    pub fn load(index: usize, c: usize, vb: &VarBuilder, mode: BuildMode) -> Result<Op> {
        let op = vb.pp("op");
        Ok(match OP_NAMES[index] {
            "none" => Op::Zero,
            "max_pool_3x3" => Op::MaxPool3,
            "avg_pool_3x3" => Op::AvgPool3,
            "skip_connect" => Op::Skip,
            name @ ("sep_conv_3x3" | "sep_conv_5x5") => {
                let k = if name.ends_with("3x3") { 3 } else { 5 };
                let dw = ConvSpec::new(c, c, k).groups(c);
                let pw = ConvSpec::pointwise(c, c);
                Op::SepConv {
                    dw1: Conv::load(dw, false, &op.pp("1"))?,
                    pw1: ConvBn::load(pw, &op.pp("2"), op.pp("3"), mode)?,
                    dw2: Conv::load(dw, false, &op.pp("5"))?,
                    pw2: ConvBn::load(pw, &op.pp("6"), op.pp("7"), mode)?,
                }
            }
            name @ ("dil_conv_3x3" | "dil_conv_5x5") => {
                let k = if name.ends_with("3x3") { 3 } else { 5 };
                let spec = ConvSpec::new(c, c, k).pad(k - 1).dil(2);
                Op::DilConv(ConvBn::load(spec, &op.pp("1"), op.pp("2"), mode)?)
            }
            other => unreachable!("OP_NAMES holds {other}"),
        })
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        use candle_core::Module;
        match self {
            Op::Zero => x.zeros_like(),
            Op::Skip => Ok(x.clone()),
            // training takes the differentiable forms: candle's pool2d has no backward when
            // windows overlap
            Op::MaxPool3 if train => pool3_shifted(x, f32::NEG_INFINITY, |a, b| a.maximum(b)),
            Op::MaxPool3 => {
                let (_, _, h, w) = x.dims4()?;
                let padded = pad_hw_with(x, f32::NEG_INFINITY, h, w)?;
                padded.max_pool2d_with_stride(3, 1)
            }
            Op::AvgPool3 if train => pool3_shifted(x, 0.0, |a, b| a + b)?.broadcast_div(&real_pixels(x)?),
            Op::AvgPool3 => avg_pool3_exclude_pad(x),
            Op::SepConv { dw1, pw1, dw2, pw2 } => {
                let y = pw1.forward_t(&dw1.forward(&x.relu()?)?, train)?;
                pw2.forward_t(&dw2.forward(&y.relu()?)?, train)
            }
            Op::DilConv(cb) => cb.forward_t(&x.relu()?, train),
        }
    }

    /// Multi-Adds on an `h x w` input of `c` channels (pools and skips count none).
    pub fn madds(&self, h: usize, w: usize) -> u64 {
        match self {
            Op::SepConv { dw1, pw1, dw2, pw2 } => {
                dw1.spec.madds(h, w) + pw1.spec().madds(h, w) + dw2.spec.madds(h, w) + pw2.spec().madds(h, w)
            }
            Op::DilConv(cb) => cb.spec().madds(h, w),
            _ => 0,
        }
    }
}

/// Pads by one on every side with `value` (for 3x3 pooling with padding 1).
fn pad_hw_with(x: &Tensor, value: f32, h: usize, w: usize) -> Result<Tensor> {
    let (n, c, _, _) = x.dims4()?;
    let col = Tensor::full(value, (n, c, h, 1), x.device())?.to_dtype(x.dtype())?;
    let x = Tensor::cat(&[&col, x, &col], D::Minus1)?;
    let row = Tensor::full(value, (n, c, 1, w + 2), x.device())?.to_dtype(x.dtype())?;
    Tensor::cat(&[&row, &x, &row], D::Minus2)
}

/// 3x3 average pooling, stride 1, padding 1, dividing by the number of real (unpadded) pixels.
fn avg_pool3_exclude_pad(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let sum = (pad_hw_with(x, 0.0, h, w)?.avg_pool2d_with_stride(3, 1)? * 9.0)?;
    sum.broadcast_div(&real_pixels(x)?)
}

/// Real (unpadded) pixels in each 3x3 window of `x`'s plane, (h, w): 3 per axis in the
/// interior, 2 on an edge.
fn real_pixels(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let axis =
        |n: usize| -> Vec<f32> { (0..n).map(|i| 3.0 - (i == 0) as u8 as f32 - (i + 1 == n) as u8 as f32).collect() };
    let rows = Tensor::from_vec(axis(h), (h, 1), x.device())?;
    let cols = Tensor::from_vec(axis(w), (1, w), x.device())?;
    rows.broadcast_mul(&cols)?.to_dtype(x.dtype())
}

/// 3x3 stride-1 pooling with padding 1 (`pad` outside), combining the nine shifted views of
/// the padded input with `f` (max or sum), a row pass then a column pass: only narrows, cats
/// and binary ops, which all have a backward.
fn pool3_shifted(x: &Tensor, pad: f32, f: impl Fn(&Tensor, &Tensor) -> Result<Tensor>) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let p = pad_hw_with(x, pad, h, w)?;
    let rows = f(&f(&p.narrow(3, 0, w)?, &p.narrow(3, 1, w)?)?, &p.narrow(3, 2, w)?)?;
    f(&f(&rows.narrow(2, 0, h)?, &rows.narrow(2, 1, h)?)?, &rows.narrow(2, 2, h)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn avg_pool_excludes_padding() {
        let x = Tensor::ones((1, 1, 3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let y = avg_pool3_exclude_pad(&x).unwrap();
        let v: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|a| (a - 1.0).abs() < 1e-6), "{v:?}");
    }

    #[test]
    fn training_pools_match_inference_pools_and_have_gradients() {
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 6, 7), &Device::Cpu).unwrap()).unwrap();
        for op in [Op::MaxPool3, Op::AvgPool3] {
            let (a, b) = (op.forward_t(&x, true).unwrap(), op.forward_t(&x, false).unwrap());
            let d = (a.clone() - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(d < 1e-6, "training and inference pooling differ by {d}");
            let g = a.sum_all().unwrap().backward().unwrap();
            let g = g.get(x.as_tensor()).expect("pooling passes a gradient");
            // every output sends a total of 1 back to its window
            let total = g.sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!((total - 2.0 * 3.0 * 6.0 * 7.0).abs() < 1e-3, "gradient total {total}");
        }
    }

    #[test]
    fn max_pool_keeps_size_and_ignores_padding() {
        let x = (Tensor::ones((1, 2, 5, 3), candle_core::DType::F32, &Device::Cpu).unwrap() * -2.0).unwrap();
        let y = Op::MaxPool3.forward_t(&x, false).unwrap();
        assert_eq!(y.dims(), &[1, 2, 5, 3]);
        let v: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|a| *a == -2.0));
    }
}
