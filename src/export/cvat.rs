//! CVAT's "Segmentation mask 1.1" archive, as CVAT's documentation lays it out:
//! `labelmap.txt` (`name:r,g,b::` per label, background first), `ImageSets/Segmentation/default.txt`
//! (the image names without extension), `SegmentationClass/<name>.png` (each pixel in its
//! label's colour, unlabelled pixels background) and `SegmentationObject/<name>.png` (one
//! object per class present, coloured by the Pascal VOC palette index of the object).
//! Members are stored, not deflated: PNGs are compressed already.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::{DynamicImage, RgbImage};
use zip::write::SimpleFileOptions;

use super::{Mask, UNLABELLED};
use crate::data::image_io::{PngSpeed, encode_png};
use crate::network::card::ClassInfo;

/// Background's colour in CVAT (unlabelled pixels).
const BACKGROUND: [u8; 3] = [0, 0, 0];

/// A CVAT zip being written into a temp file beside its final name.
pub struct CvatZip {
    path: PathBuf,
    tmp: PathBuf,
    zip: zip::ZipWriter<std::fs::File>,
    colors: Vec<[u8; 3]>,
    names: Vec<String>,
}

/// The label map: background, then the card's classes with their colours.
pub fn labelmap(classes: &[ClassInfo]) -> String {
    let mut s = String::from("# label:color_rgb:parts:actions\nbackground:0,0,0::\n");
    for c in classes {
        let [r, g, b] = c.color;
        s.push_str(&format!("{}:{r},{g},{b}::\n", c.name));
    }
    s
}

/// Colour of Pascal VOC palette index `i` (the colours CVAT gives objects).
pub fn voc_color(mut i: usize) -> [u8; 3] {
    let mut c = [0u8; 3];
    for shift in (0..8).rev() {
        for (ch, v) in c.iter_mut().enumerate() {
            *v |= (((i >> ch) & 1) as u8) << shift;
        }
        i >>= 3;
    }
    c
}

impl CvatZip {
    pub fn new(path: &Path, classes: &[ClassInfo]) -> anyhow::Result<CvatZip> {
        let taken = classes.iter().find(|c| c.color == BACKGROUND);
        anyhow::ensure!(taken.is_none(), "class `{}` has the background's colour 0,0,0", taken.map_or("", |c| &c.name));
        let tmp = crate::fsutil::temp_path(path)?;
        let file = std::fs::File::create(&tmp).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
        let mut zip = zip::ZipWriter::new(file);
        zip.start_file("labelmap.txt", options())?;
        zip.write_all(labelmap(classes).as_bytes())?;
        let colors = classes.iter().map(|c| c.color).collect();
        Ok(CvatZip { path: path.to_path_buf(), tmp, zip, colors, names: Vec::new() })
    }

    pub fn add(&mut self, m: &Mask) -> anyhow::Result<()> {
        let (w, h) = (m.width as u32, m.height as u32);
        let at = |x: u32, y: u32| m.classes[y as usize * m.width + x as usize];
        let class_png = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb(self.colors.get(usize::from(at(x, y))).copied().unwrap_or(BACKGROUND))
        });
        // objects numbered from 1 in the order of their class
        let mut object = [0usize; 256];
        let mut next = 1;
        for &c in m.classes {
            if c != UNLABELLED && object[usize::from(c)] == 0 {
                object[usize::from(c)] = usize::MAX; // seen
            }
        }
        for slot in object.iter_mut() {
            if *slot == usize::MAX {
                *slot = next;
                next += 1;
            }
        }
        let object_png = RgbImage::from_fn(w, h, |x, y| {
            let c = at(x, y);
            image::Rgb(if c == UNLABELLED { BACKGROUND } else { voc_color(object[usize::from(c)]) })
        });
        for (folder, img) in [("SegmentationClass", class_png), ("SegmentationObject", object_png)] {
            let name = format!("{folder}/{}.png", m.name);
            let bytes = encode_png(&DynamicImage::ImageRgb8(img), PngSpeed::Fast, Path::new(&name))?;
            self.zip.start_file(name, options())?;
            self.zip.write_all(&bytes)?;
        }
        self.names.push(m.name.to_string());
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        self.zip.start_file("ImageSets/Segmentation/default.txt", options())?;
        let list: String = self.names.iter().map(|n| format!("{n}\n")).collect();
        self.zip.write_all(list.as_bytes())?;
        let file = self.zip.finish()?;
        file.sync_all()?;
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", self.path.display()))?;
        Ok(self.path)
    }
}

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voc_palette_starts_as_pascal_voc() {
        assert_eq!(voc_color(0), [0, 0, 0]);
        assert_eq!(voc_color(1), [128, 0, 0]);
        assert_eq!(voc_color(2), [0, 128, 0]);
        assert_eq!(voc_color(3), [128, 128, 0]);
        assert_eq!(voc_color(15), [192, 128, 128]);
    }
}
