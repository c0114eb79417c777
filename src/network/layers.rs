//! The building blocks every part of the network is made of: a convolution that counts its
//! Multi-Adds, a convolution followed by BatchNorm (folded at load time for inference), the
//! reference's `ReLUConvBN`, and the two factorised reductions.

use candle_core::{D, Module, ModuleT, Result, Tensor};
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder};

use super::cost;

/// How the network is built from its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMode {
    /// Inference with BatchNorm folded into the preceding convolution (the fast default).
    Folded,
    /// Inference or training with BatchNorm kept as a separate layer (training, and the
    /// check that folding changes nothing).
    Unfolded,
}

/// The reference's BatchNorm epsilon.
pub const BN_EPS: f64 = 1e-5;

/// Shape of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub dil: usize,
    pub groups: usize,
}

impl ConvSpec {
    /// A plain kxk convolution with "same" padding for stride 1.
    pub fn new(cin: usize, cout: usize, k: usize) -> Self {
        ConvSpec { cin, cout, k, stride: 1, pad: k / 2, dil: 1, groups: 1 }
    }
    /// A 1x1 convolution.
    pub fn pointwise(cin: usize, cout: usize) -> Self {
        ConvSpec::new(cin, cout, 1)
    }
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = s;
        self
    }
    pub fn pad(mut self, p: usize) -> Self {
        self.pad = p;
        self
    }
    pub fn dil(mut self, d: usize) -> Self {
        self.dil = d;
        self
    }
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// Output size along one axis.
    pub fn out_dim(&self, d: usize) -> usize {
        (d + 2 * self.pad - self.dil * (self.k - 1) - 1) / self.stride + 1
    }

    /// Multi-Adds for an input of `h x w`.
    pub fn madds(&self, h: usize, w: usize) -> u64 {
        let per_out = (self.k * self.k * self.cin / self.groups) as u64;
        per_out * self.cout as u64 * self.out_dim(h) as u64 * self.out_dim(w) as u64
    }
}

/// A convolution (weight `weight`, optional `bias`) that adds its Multi-Adds to the run's
/// counter when it executes.
#[derive(Debug, Clone)]
pub struct Conv {
    pub spec: ConvSpec,
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Conv {
    /// Loads `weight` (and `bias` when `bias` is true) under `vb`.
    pub fn load(spec: ConvSpec, bias: bool, vb: &VarBuilder) -> Result<Self> {
        let shape = (spec.cout, spec.cin / spec.groups, spec.k, spec.k);
        let weight = vb.get_with_hints(shape, "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bias = if bias { Some(vb.get_with_hints(spec.cout, "bias", candle_nn::Init::Const(0.))?) } else { None };
        Ok(Conv { spec, weight, bias })
    }

    /// The convolution's weight.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Folds an inference-mode BatchNorm that follows this convolution into it.
    fn fold(self, bn: &BnParams) -> Result<Conv> {
        let scale = (&bn.gamma / (bn.var.affine(1.0, BN_EPS)?.sqrt()?))?;
        let weight = self.weight.broadcast_mul(&scale.reshape((self.spec.cout, 1, 1, 1))?)?;
        let shift = (&bn.beta - (&bn.mean * &scale)?)?;
        let bias = match &self.bias {
            Some(b) => ((b * &scale)? + shift)?,
            None => shift,
        };
        Ok(Conv { spec: self.spec, weight, bias: Some(bias) })
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        cost::add(self.spec.madds(h, w) * x.dim(0)? as u64);
        let s = &self.spec;
        let y = if s.groups == s.cin && s.groups == s.cout && s.groups > 1 {
            crate::kernels::depthwise_conv2d(x, &self.weight, s.stride, s.pad, s.dil)?
        } else if s.k == 1 && s.stride == 1 && s.pad == 0 && s.groups == 1 {
            return crate::kernels::conv1x1(x, &self.weight, self.bias.as_ref());
        } else if s.groups == 1 {
            // Dense kxk (and strided 1x1): im2col + GEMM with a GEMM backward, bias fused.
            return crate::kernels::conv2d(x, &self.weight, self.bias.as_ref(), s.stride, s.pad, s.dil);
        } else {
            x.conv2d(&self.weight, s.pad, s.stride, s.dil, s.groups)?
        };
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, s.cout, 1, 1))?),
            None => Ok(y),
        }
    }
}

/// BatchNorm statistics and affine parameters read from a checkpoint.
struct BnParams {
    gamma: Tensor,
    beta: Tensor,
    mean: Tensor,
    var: Tensor,
}

impl BnParams {
    fn load(c: usize, vb: &VarBuilder) -> Result<Self> {
        Ok(BnParams {
            gamma: vb.get_with_hints(c, "weight", candle_nn::Init::Const(1.))?,
            beta: vb.get_with_hints(c, "bias", candle_nn::Init::Const(0.))?,
            mean: vb.get_with_hints(c, "running_mean", candle_nn::Init::Const(0.))?,
            var: vb.get_with_hints(c, "running_var", candle_nn::Init::Const(1.))?,
        })
    }

    fn narrow(&self, start: usize, len: usize) -> Result<BnParams> {
        Ok(BnParams {
            gamma: self.gamma.narrow(0, start, len)?,
            beta: self.beta.narrow(0, start, len)?,
            mean: self.mean.narrow(0, start, len)?,
            var: self.var.narrow(0, start, len)?,
        })
    }
}

/// BatchNorm in training mode through our fused kernel (batch statistics, PyTorch's running
/// statistics update), in inference mode through candle_nn.
fn bn_forward_t(bn: &BatchNorm, y: &Tensor, train: bool) -> Result<Tensor> {
    if train { crate::kernels::batch_norm_train(y, bn) } else { bn.forward_t(y, false) }
}

fn batch_norm(c: usize, vb: VarBuilder) -> Result<BatchNorm> {
    let cfg = BatchNormConfig { eps: BN_EPS, remove_mean: true, affine: true, momentum: 0.1 };
    candle_nn::batch_norm(c, cfg, vb)
}

/// A convolution followed by BatchNorm; in [`BuildMode::Folded`] the BatchNorm is folded in.
#[derive(Debug, Clone)]
pub struct ConvBn {
    conv: Conv,
    bn: Option<BatchNorm>,
}

impl ConvBn {
    /// Loads the conv under `conv_vb` and its BatchNorm under `bn_vb`.
    pub fn load(spec: ConvSpec, conv_vb: &VarBuilder, bn_vb: VarBuilder, mode: BuildMode) -> Result<Self> {
        let conv = Conv::load(spec, false, conv_vb)?;
        Ok(match mode {
            BuildMode::Folded => ConvBn { conv: conv.fold(&BnParams::load(spec.cout, &bn_vb)?)?, bn: None },
            BuildMode::Unfolded => ConvBn { conv, bn: Some(batch_norm(spec.cout, bn_vb)?) },
        })
    }

    /// The convolution's shape.
    pub fn spec(&self) -> ConvSpec {
        self.conv.spec
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.conv.forward(x)?;
        match &self.bn {
            Some(bn) => bn_forward_t(bn, &y, train),
            None => Ok(y),
        }
    }
}

/// The reference's `ReLUConvBN`: ReLU, conv, BN (`op.1`, `op.2`).
#[derive(Debug, Clone)]
pub struct ReluConvBn(ConvBn);

impl ReluConvBn {
    pub fn load(spec: ConvSpec, vb: &VarBuilder, mode: BuildMode) -> Result<Self> {
        Self::load_named(spec, &vb.pp("op"), mode)
    }

    /// Loads from a bare `nn.Sequential(ReLU, Conv2d, BN)` (`1.weight`, `2.*` under `vb`).
    pub fn load_named(spec: ConvSpec, vb: &VarBuilder, mode: BuildMode) -> Result<Self> {
        Ok(ReluConvBn(ConvBn::load(spec, &vb.pp("1"), vb.pp("2"), mode)?))
    }

    pub fn spec(&self) -> ConvSpec {
        self.0.spec()
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.0.forward_t(&x.relu()?, train)
    }

    /// Multi-Adds for an input of `h x w`, with the output size.
    pub fn madds(&self, h: usize, w: usize) -> (u64, usize, usize) {
        let s = self.spec();
        (s.madds(h, w), s.out_dim(h), s.out_dim(w))
    }
}

/// The reference's `FactorizedReduce` (stride 2) and `DoubleFactorizedReduce` (stride 4):
/// ReLU, two strided 1x1 convs on the input and on the input shifted by `stride/2`... (the
/// reference pads right/bottom then drops the first `stride/2` rows and columns), concat, BN.
#[derive(Debug, Clone)]
pub struct FactorizedReduce {
    conv_1: Conv,
    conv_2: Conv,
    bn: Option<BatchNorm>,
    stride: usize,
}

impl FactorizedReduce {
    /// `stride` 2 is `FactorizedReduce`, 4 is `DoubleFactorizedReduce`.
    pub fn load(cin: usize, cout: usize, stride: usize, vb: &VarBuilder, mode: BuildMode) -> Result<Self> {
        let spec = ConvSpec::pointwise(cin, cout / 2).stride(stride);
        let conv_1 = Conv::load(spec, false, &vb.pp("conv_1"))?;
        let conv_2 = Conv::load(spec, false, &vb.pp("conv_2"))?;
        Ok(match mode {
            BuildMode::Folded => {
                let bn = BnParams::load(cout, &vb.pp("bn"))?;
                FactorizedReduce {
                    conv_1: conv_1.fold(&bn.narrow(0, cout / 2)?)?,
                    conv_2: conv_2.fold(&bn.narrow(cout / 2, cout / 2)?)?,
                    bn: None,
                    stride,
                }
            }
            BuildMode::Unfolded => {
                FactorizedReduce { conv_1, conv_2, bn: Some(batch_norm(cout, vb.pp("bn"))?), stride }
            }
        })
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = x.relu()?;
        let shift = self.stride / 2;
        let (_, _, h, w) = x.dims4()?;
        // pad (0, shift) right/bottom then drop the first `shift` rows/cols
        let shifted = x
            .pad_with_zeros(D::Minus1, 0, shift)?
            .pad_with_zeros(D::Minus2, 0, shift)?
            .narrow(D::Minus2, shift, h)?
            .narrow(D::Minus1, shift, w)?;
        let y = Tensor::cat(&[self.conv_1.forward(&x)?, self.conv_2.forward(&shifted)?], 1)?;
        match &self.bn {
            Some(bn) => bn_forward_t(bn, &y, train),
            None => Ok(y),
        }
    }

    /// Multi-Adds for an input of `h x w`, with the output size.
    pub fn madds(&self, h: usize, w: usize) -> (u64, usize, usize) {
        let s = self.conv_1.spec;
        (2 * s.madds(h, w), s.out_dim(h), s.out_dim(w))
    }
}

/// Bilinear resize with PyTorch's `align_corners=False` semantics; a no-op at the same size.
pub fn resize(x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let (_, _, xh, xw) = x.dims4()?;
    if (xh, xw) == (h, w) {
        return Ok(x.clone());
    }
    crate::kernels::resize_bilinear(x, h, w, false)
}

/// The reference's `scale_dimension`: (d - 1) * scale + 1, truncated.
pub fn scale_dim(d: usize, scale: f64) -> usize {
    ((d as f64 - 1.0) * scale + 1.0) as usize
}
