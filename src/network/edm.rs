//! Earlier decision makers: they look at an exit cell's feature and predict, before the exit
//! head is paid for, how unsure that head would be (its mean normalised entropy).
//!
//! - [`Edm`] is the reference's scalar EDM: ReLU, conv3x3 s2 -> 128, ReLU, global average pool,
//!   MLP 128-64-32-1 (`conv.weight`, `edm.{0,2,4}.{weight,bias}`).
//! - [`EdmMap`] is ours: ReLU, conv3x3 -> 64 (+bias), ReLU, conv1x1 -> 1 (+bias), sigmoid: a
//!   per-pixel predicted entropy whose mean is the decision, so the app can show where the
//!   decision maker is unsure (`conv1.*`, `conv2.*`).

use candle_core::{D, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::card::EdmSettings;
use super::layers::{Conv, ConvSpec};

/// The reference scalar EDM.
#[derive(Debug, Clone)]
pub struct Edm {
    conv: Conv,
    mlp: Vec<Linear>,
}

impl Edm {
    /// Builds the EDM for an exit feature of `cin` channels.
    pub fn load(cin: usize, s: &EdmSettings, vb: &VarBuilder) -> Result<Edm> {
        let conv = Conv::load(ConvSpec::new(cin, s.channels, 3).stride(2), false, &vb.pp("conv"))?;
        let mut widths = vec![s.channels];
        widths.extend(&s.hidden);
        widths.push(1);
        let mlp = widths
            .windows(2)
            .enumerate()
            .map(|(i, io)| candle_nn::linear(io[0], io[1], vb.pp("edm").pp(2 * i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Edm { conv, mlp })
    }

    /// The predicted mean normalised entropy, one value per image (N,).
    pub fn forward(&self, feature: &Tensor) -> Result<Tensor> {
        let x = self.conv.forward(&feature.relu()?)?.relu()?;
        let mut x = x.mean(D::Minus1)?.mean(D::Minus1)?;
        let batch = x.dim(0)? as u64;
        for (i, layer) in self.mlp.iter().enumerate() {
            super::cost::add(batch * layer.weight().elem_count() as u64);
            x = layer.forward(&x)?;
            if i + 1 < self.mlp.len() {
                x = x.relu()?;
            }
        }
        x.squeeze(D::Minus1)
    }

    /// Multi-Adds for an exit feature of `h x w`.
    pub fn madds(&self, h: usize, w: usize) -> u64 {
        let mlp: u64 = self.mlp.iter().map(|l| l.weight().elem_count() as u64).sum();
        self.conv.spec.madds(h, w) + mlp
    }
}

/// The per-pixel EDM-map.
#[derive(Debug, Clone)]
pub struct EdmMap {
    conv1: Conv,
    conv2: Conv,
}

impl EdmMap {
    pub fn load(cin: usize, s: &EdmSettings, vb: &VarBuilder) -> Result<EdmMap> {
        Ok(EdmMap {
            conv1: Conv::load(ConvSpec::new(cin, s.map_channels, 3), true, &vb.pp("conv1"))?,
            conv2: Conv::load(ConvSpec::pointwise(s.map_channels, 1), true, &vb.pp("conv2"))?,
        })
    }

    /// Predicted per-pixel normalised entropy at the feature's resolution, (N,1,h,w) in [0,1].
    pub fn forward(&self, feature: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward(&feature.relu()?)?.relu()?;
        candle_nn::ops::sigmoid(&self.conv2.forward(&x)?)
    }

    /// Multi-Adds for an exit feature of `h x w`.
    pub fn madds(&self, h: usize, w: usize) -> u64 {
        self.conv1.spec.madds(h, w) + self.conv2.spec.madds(h, w)
    }
}
