//! The exit head shared by every exit: a level adapter per early exit (`conv_aspp.{m}`), one
//! ASPP (`aspp`) and one DeepLabv3+ decoder (`decoder`) fed by the low-level branch
//! (`low_level_conv`). Only the adapters are per exit; the rest is the same weights.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::card::ArchCard;
use super::layers::{BuildMode, ConvBn, ConvSpec, FactorizedReduce, ReluConvBn, resize};

/// Brings an early exit's feature to the head's level and channels.
#[derive(Debug, Clone)]
pub enum Adapter {
    /// Exit already at the head's level.
    None,
    /// One (stride 2) or two (stride 4) levels finer: (Double)FactorizedReduce.
    Reduce(FactorizedReduce),
    /// Coarser: the feature is first upsampled to the ASPP size, then ReLU-1x1-BN.
    Project(ReluConvBn),
}

/// ASPP: 1x1, three 3x3 atrous convs and image pooling, concatenated, 1x1, BN.
#[derive(Debug, Clone)]
pub struct Aspp {
    depth: usize,
    branches: Vec<ConvBn>,
    pool: ConvBn,
    project: ConvBn,
}

impl Aspp {
    /// `mult` scales the reference rates 6/12/18 (2, 1, 0.5 for a head at level 1, 2, 3).
    fn load(cin: usize, d: usize, mult: f64, vb: &VarBuilder, mode: BuildMode) -> Result<Aspp> {
        let mut branches = vec![ConvBn::load(ConvSpec::pointwise(cin, d), &vb.pp("aspp1"), vb.pp("aspp1_bn"), mode)?];
        for (i, rate) in [6.0, 12.0, 18.0].iter().enumerate() {
            let r = (rate * mult) as usize;
            let spec = ConvSpec::new(cin, d, 3).pad(r).dil(r);
            let name = format!("aspp{}", i + 2);
            branches.push(ConvBn::load(spec, &vb.pp(&name), vb.pp(format!("{name}_bn")), mode)?);
        }
        Ok(Aspp {
            depth: d,
            branches,
            pool: ConvBn::load(ConvSpec::pointwise(cin, d), &vb.pp("aspp5"), vb.pp("aspp5_bn"), mode)?,
            project: ConvBn::load(ConvSpec::pointwise(5 * d, d), &vb.pp("conv1"), vb.pp("bn1"), mode)?,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = x.relu()?;
        let (n, _, h, w) = x.dims4()?;
        let mut parts = self.branches.iter().map(|b| b.forward_t(&x, train)?.relu()).collect::<Result<Vec<_>>>()?;
        let pooled = x.mean_keepdim(3)?.mean_keepdim(2)?;
        let pooled = self.pool.forward_t(&pooled, train)?.relu()?;
        parts.push(pooled.broadcast_as((n, self.depth, h, w))?.contiguous()?);
        self.project.forward_t(&Tensor::cat(&parts, 1)?, train)
    }

    fn madds(&self, h: usize, w: usize) -> u64 {
        self.branches.iter().map(|b| b.spec().madds(h, w)).sum::<u64>()
            + self.pool.spec().madds(1, 1)
            + self.project.spec().madds(h, w)
    }
}

/// DeepLabv3+ decoder: ASPP output upsampled to the low-level feature, concatenated with it,
/// two 3x3 convs, a 1x1 classifier, bilinear to the input size (`decoder._conv.*`).
#[derive(Debug, Clone)]
pub struct Decoder {
    conv1: ConvBn,
    conv2: ConvBn,
    classify: super::layers::Conv,
}

impl Decoder {
    fn load(card: &ArchCard, vb: &VarBuilder, mode: BuildMode) -> Result<Decoder> {
        let c = vb.pp("_conv");
        let (w, cin) = (card.head.width, card.head.width + card.head.low_level_width);
        Ok(Decoder {
            conv1: ConvBn::load(ConvSpec::new(cin, w, 3), &c.pp("1"), c.pp("2"), mode)?,
            conv2: ConvBn::load(ConvSpec::new(w, w, 3), &c.pp("4"), c.pp("5"), mode)?,
            classify: super::layers::Conv::load(ConvSpec::pointwise(w, card.classes.len()), true, &c.pp("7"))?,
        })
    }

    fn forward_t(&self, x: &Tensor, low_level: &Tensor, size: (usize, usize), train: bool) -> Result<Tensor> {
        use candle_core::Module;
        let (_, _, lh, lw) = low_level.dims4()?;
        // the reference resizes only when the heights differ
        let x = if x.dim(2)? != lh { resize(x, lh, lw)? } else { x.clone() };
        let x = Tensor::cat(&[&x, low_level], 1)?.relu()?;
        let x = self.conv1.forward_t(&x, train)?.relu()?;
        let x = self.conv2.forward_t(&x, train)?.relu()?;
        resize(&self.classify.forward(&x)?, size.0, size.1)
    }

    fn madds(&self, lh: usize, lw: usize) -> u64 {
        self.conv1.spec().madds(lh, lw) + self.conv2.spec().madds(lh, lw) + self.classify.spec.madds(lh, lw)
    }
}

/// Everything after the exit cells: adapters, ASPP, decoder and the low-level branch.
#[derive(Debug, Clone)]
pub struct Head {
    /// One per exit (the last exit's is always [`Adapter::None`]).
    pub adapters: Vec<Adapter>,
    aspp: Aspp,
    decoder: Decoder,
    low_level: ReluConvBn,
    head_level: u8,
}

impl Head {
    pub fn load(card: &ArchCard, vb: &VarBuilder, mode: BuildMode) -> Result<Head> {
        let head_level = card.head_level();
        let cin = card.cell_channels(head_level);
        let mut adapters = Vec::new();
        let mut m = 0;
        for &cell in &card.exit_cells() {
            let level = card.path[cell];
            let vb_m = vb.pp("conv_aspp").pp(m);
            let c = card.cell_channels(level);
            let adapter = match level as i32 - head_level as i32 {
                0 => Adapter::None,
                -1 => Adapter::Reduce(FactorizedReduce::load(c, cin, 2, &vb_m, mode)?),
                -2 => Adapter::Reduce(FactorizedReduce::load(c, cin, 4, &vb_m, mode)?),
                d if d > 0 => Adapter::Project(ReluConvBn::load(ConvSpec::pointwise(c, cin), &vb_m, mode)?),
                d => candle_core::bail!("exit at cell {cell} is {} levels below the head", -d),
            };
            if !matches!(adapter, Adapter::None) {
                m += 1;
            }
            adapters.push(adapter);
        }
        let mult = match head_level {
            1 => 2.0,
            2 => 1.0,
            _ => 0.5,
        };
        let low_c = card.cell_channels(card.path[card.low_level_cell]);
        Ok(Head {
            adapters,
            aspp: Aspp::load(cin, card.head.width, mult, &vb.pp("aspp"), mode)?,
            decoder: Decoder::load(card, &vb.pp("decoder"), mode)?,
            low_level: ReluConvBn::load_named(
                ConvSpec::pointwise(low_c, card.head.low_level_width),
                &vb.pp("low_level_conv"),
                mode,
            )?,
            head_level,
        })
    }

    /// The ASPP input size for an input image of `h x w` (training-time rule, 2^-(level+2)).
    pub fn aspp_size(&self, h: usize, w: usize) -> (usize, usize) {
        let s = 0.5f64.powi(self.head_level as i32 + 2);
        (super::layers::scale_dim(h, s), super::layers::scale_dim(w, s))
    }

    /// The decoder's low-level branch on the low-level cell's output.
    pub fn low_level(&self, cell_out: &Tensor, train: bool) -> Result<Tensor> {
        self.low_level.forward_t(cell_out, train)
    }

    /// Logits at input size for exit `exit` from its cell's output `y`.
    pub fn forward_t(
        &self,
        exit: usize,
        y: &Tensor,
        low_level: &Tensor,
        size: (usize, usize),
        train: bool,
    ) -> Result<Tensor> {
        let (ah, aw) = self.aspp_size(size.0, size.1);
        let (_, _, h, w) = y.dims4()?;
        let mut y = if h < ah || w < aw { resize(y, ah, aw)? } else { y.clone() };
        y = match &self.adapters[exit] {
            Adapter::None => y,
            Adapter::Reduce(fr) => fr.forward_t(&y, train)?,
            Adapter::Project(p) => p.forward_t(&y, train)?,
        };
        let y = self.aspp.forward_t(&y, train)?;
        self.decoder.forward_t(&y, low_level, size, train)
    }

    /// Multi-Adds of exit `exit`'s head (adapter, ASPP, decoder) for an exit feature of
    /// `feat` size, an image of `size`, and a low-level feature of `low` size.
    pub fn madds(&self, exit: usize, feat: (usize, usize), size: (usize, usize), low: (usize, usize)) -> u64 {
        let (ah, aw) = self.aspp_size(size.0, size.1);
        let (mut h, mut w) = feat;
        if h < ah || w < aw {
            (h, w) = (ah, aw);
        }
        let (adapt, h, w) = match &self.adapters[exit] {
            Adapter::None => (0, h, w),
            Adapter::Reduce(fr) => fr.madds(h, w),
            Adapter::Project(p) => p.madds(h, w),
        };
        adapt + self.aspp.madds(h, w) + self.decoder.madds(low.0, low.1)
    }

    /// Multi-Adds of the low-level branch on a feature of `low` size.
    pub fn low_level_madds(&self, low: (usize, usize)) -> u64 {
        self.low_level.madds(low.0, low.1).0
    }
}
