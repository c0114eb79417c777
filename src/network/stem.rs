//! The stem: three 3x3 convs taking the image to stride 4 (`stem0`, `stem1`, `stem2`).
//! `stem1`'s output after ReLU (stride 2, `stem.width` channels, 64 in the reference) is cell
//! 0's h0; `stem2`'s (stride 4, `stem.out`, 128) its h1.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::card::StemSettings;
use super::layers::{BuildMode, ConvBn, ConvSpec};

/// The three stem convolutions.
#[derive(Debug, Clone)]
pub struct Stem {
    stem0: ConvBn,
    stem1: ConvBn,
    stem2: ConvBn,
}

impl Stem {
    /// Loads the stem of the widths in `widths`.
    pub fn load(widths: &StemSettings, vb: &VarBuilder, mode: BuildMode) -> Result<Stem> {
        let (s0, s1) = (vb.pp("stem0"), vb.pp("stem1"));
        let s2 = vb.pp("stem2");
        let (w, out) = (widths.width, widths.out);
        Ok(Stem {
            stem0: ConvBn::load(ConvSpec::new(3, w, 3).stride(2), &s0.pp("0"), s0.pp("1"), mode)?,
            stem1: ConvBn::load(ConvSpec::new(w, w, 3), &s1.pp("0"), s1.pp("1"), mode)?,
            stem2: ConvBn::load(ConvSpec::new(w, out, 3).stride(2), &s2.pp("1"), s2.pp("2"), mode)?,
        })
    }

    /// Returns (stride-2 output, stride-4 output).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<(Tensor, Tensor)> {
        let a = self.stem0.forward_t(x, train)?.relu()?;
        // The reference's `stem2` starts with an in-place ReLU, so cell 0 sees stem1's output
        // after that ReLU (it matters: cell 0 resizes h0 before its own ReLU).
        let b = self.stem1.forward_t(&a, train)?.relu()?;
        let c = self.stem2.forward_t(&b, train)?;
        Ok((b, c))
    }

    /// Multi-Adds for an `h x w` image, with the sizes of both outputs.
    pub fn madds(&self, h: usize, w: usize) -> (u64, (usize, usize), (usize, usize)) {
        let s = self.stem0.spec();
        let (h1, w1) = (s.out_dim(h), s.out_dim(w));
        let s2 = self.stem2.spec();
        let (h2, w2) = (s2.out_dim(h1), s2.out_dim(w1));
        (s.madds(h, w) + self.stem1.spec().madds(h1, w1) + s2.madds(h1, w1), (h1, w1), (h2, w2))
    }
}
