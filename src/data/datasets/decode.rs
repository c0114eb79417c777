//! Decoding samples: label files of every supported kind become one class-id mask, checked
//! against the image, and an ordered iterator decodes ahead in parallel.

use std::collections::VecDeque;
use std::path::Path;

use image::{DynamicImage, GrayImage, RgbImage};
use rayon::prelude::*;

use super::{Dataset, LabelKind};
use crate::data::image_io::{DataError, check_label_values, load_dynamic, load_rgb};

/// The official Cityscapes `labelIds` -> `trainIds` table (ids 0..=33; anything else is 255).
pub const CITYSCAPES_ID_TO_TRAIN: [u8; 34] = [
    255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 255, 255, 16, 17, 18,
];

/// A decoded sample.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub index: usize,
    pub image: RgbImage,
    pub label: Option<GrayImage>,
}

fn grey_or_err(img: DynamicImage, path: &Path) -> Result<GrayImage, DataError> {
    match img {
        DynamicImage::ImageLuma8(g) => Ok(g),
        other => Err(DataError::LabelNotGrey { path: path.into(), found: format!("{:?}", other.color()) }),
    }
}

fn map_colors(img: DynamicImage, table: &[([u8; 3], u8)], path: &Path) -> Result<GrayImage, DataError> {
    let rgb = img.into_rgb8();
    let mut out = GrayImage::new(rgb.width(), rgb.height());
    let mut unknown: Option<([u8; 3], u64)> = None;
    let mut last = (table.first().map(|t| t.0), table.first().map_or(255, |t| t.1));
    for (o, p) in out.pixels_mut().zip(rgb.pixels()) {
        if Some(p.0) == last.0 {
            o.0[0] = last.1;
            continue;
        }
        match table.iter().find(|(c, _)| *c == p.0) {
            Some(&(c, id)) => {
                last = (Some(c), id);
                o.0[0] = id;
            }
            None => {
                let e = unknown.get_or_insert((p.0, 0));
                e.1 += 1;
                o.0[0] = 255;
            }
        }
    }
    if let Some((color, count)) = unknown {
        return Err(DataError::LabelColor { path: path.into(), color, count });
    }
    Ok(out)
}

/// Reads a label file of the given kind as class ids and checks its values.
pub fn load_label_as(path: &Path, kind: &LabelKind, num_classes: u32) -> Result<GrayImage, DataError> {
    let img = load_dynamic(path)?;
    let ids = match kind {
        LabelKind::Ids => grey_or_err(img, path)?,
        LabelKind::CityscapesIds => {
            let mut g = grey_or_err(img, path)?;
            for p in g.pixels_mut() {
                p.0[0] = CITYSCAPES_ID_TO_TRAIN.get(usize::from(p.0[0])).copied().unwrap_or(255);
            }
            g
        }
        LabelKind::Colors(table) => map_colors(img, table, path)?,
        LabelKind::IdsOrColors(table) => match img {
            DynamicImage::ImageLuma8(g) => g,
            other => map_colors(other, table, path)?,
        },
    };
    check_label_values(&ids, num_classes, path)?;
    Ok(ids)
}

/// Decodes sample `i` of `ds`.
pub fn load_sample(ds: &Dataset, i: usize) -> Result<Decoded, DataError> {
    let s = &ds.samples[i];
    let image = load_rgb(&s.image)?;
    let label = match &s.label {
        None => None,
        Some(lp) => {
            let l = load_label_as(lp, &ds.label_kind, ds.num_classes)?;
            if l.dimensions() != image.dimensions() {
                return Err(DataError::SizeMismatch {
                    image: s.image.clone(),
                    label: lp.clone(),
                    image_size: image.dimensions(),
                    label_size: l.dimensions(),
                });
            }
            Some(l)
        }
    };
    Ok(Decoded { index: i, image, label })
}

/// Yields samples in order while decoding the next `ahead` ones in parallel.
pub struct DecodeIter<'a> {
    ds: &'a Dataset,
    order: Vec<usize>,
    next: usize,
    ahead: usize,
    ready: VecDeque<Result<Decoded, DataError>>,
}

impl<'a> DecodeIter<'a> {
    /// Iterates over `order` (sample indices, e.g. a shuffled epoch), `ahead` at a time.
    pub fn new(ds: &'a Dataset, order: Vec<usize>, ahead: usize) -> Self {
        DecodeIter { ds, order, next: 0, ahead: ahead.max(1), ready: VecDeque::new() }
    }
}

impl Iterator for DecodeIter<'_> {
    type Item = Result<Decoded, DataError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.next < self.order.len() {
            let end = (self.next + self.ahead).min(self.order.len());
            let batch: Vec<_> = self.order[self.next..end].par_iter().map(|&i| load_sample(self.ds, i)).collect();
            self.ready.extend(batch);
            self.next = end;
        }
        self.ready.pop_front()
    }
}

impl Dataset {
    /// Decodes all samples in order, a few in parallel at a time.
    pub fn iter_decoded(&self) -> DecodeIter<'_> {
        DecodeIter::new(self, (0..self.len()).collect(), 2 * rayon::current_num_threads())
    }
}
