//! A ground-truth label and the one rule that lines it up with a prediction: nearest neighbour
//! from the prediction's grid into the label's. `add eval`, the dataset browser and the
//! inspector all count through [`LabelMap::at`], so a label never means two things.

use std::borrow::Cow;

/// The ground truth of an image: class ids (255 = ignore), row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    pub width: usize,
    pub height: usize,
    pub classes: Vec<u8>,
}

impl LabelMap {
    /// Takes a decoded label image's bytes without copying.
    pub fn from_gray(label: image::GrayImage) -> LabelMap {
        let (width, height) = (label.width() as usize, label.height() as usize);
        LabelMap { width, height, classes: label.into_raw() }
    }

    /// The label at a `w x h` prediction's pixels (itself when the sizes match).
    pub fn at(&self, w: usize, h: usize) -> Cow<'_, [u8]> {
        if (self.width, self.height) == (w, h) {
            return Cow::Borrowed(&self.classes);
        }
        let (src, dst) = ((w, h), (self.width, self.height));
        Cow::Owned((0..h).flat_map(|y| (0..w).map(move |x| self.classes[resample(x, y, src, dst)])).collect())
    }
}

/// Index into a `dst` grid of the point at (x, y) of a `src` grid (nearest; sizes are (w, h)).
#[inline]
pub fn resample(x: usize, y: usize, src: (usize, usize), dst: (usize, usize)) -> usize {
    let xx = if src.0 == dst.0 { x } else { (x * dst.0 / src.0.max(1)).min(dst.0 - 1) };
    let yy = if src.1 == dst.1 { y } else { (y * dst.1 / src.1.max(1)).min(dst.1 - 1) };
    yy * dst.0 + xx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_borrows_and_other_sizes_take_the_nearest_pixel() {
        let l = LabelMap { width: 2, height: 2, classes: vec![1, 2, 3, 4] };
        assert!(matches!(l.at(2, 2), Cow::Borrowed(_)));
        assert_eq!(&*l.at(4, 2), &[1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(&*l.at(1, 1), &[1]);
    }
}
