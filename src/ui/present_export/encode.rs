//! The exported talk on disk: an animated GIF, or a folder of numbered PNGs (one per step, the
//! slides). The GIF keeps a frame only when the picture changed, and then only the rectangle
//! that changed, drawn over the last (a cell lighting up redraws a strip, not the photo): that
//! is what keeps a 10-second talk at 1024 px to a few megabytes.

use crate::fsutil;
use anyhow::Context;
use image::RgbaImage;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// NeuQuant's sampling step (1 best .. 30 fastest); 10 is gif's own default.
const QUANT_SPEED: i32 = 10;

/// A frame waiting for its delay to be known (the next frames may be the same picture).
struct Pending {
    left: u32,
    top: u32,
    part: RgbaImage,
    delay_ms: u32,
}

/// Streams frames into a GIF written beside `path`, renamed over it when finished.
pub struct GifOut {
    path: PathBuf,
    tmp: fsutil::Temp,
    enc: gif::Encoder<BufWriter<File>>,
    /// What the GIF shows after the frames written so far and the pending one.
    screen: Option<RgbaImage>,
    pending: Option<Pending>,
    /// Frames written (the last is written by `finish`), and the total delay so far.
    frames: usize,
    pub total_ms: u64,
    /// GIF delays are whole centiseconds: what rounding has not yet handed out.
    carry_ms: u32,
}

impl GifOut {
    pub fn create(path: &Path, width: u32, height: u32) -> anyhow::Result<GifOut> {
        let (w, h) = (u16::try_from(width)?, u16::try_from(height)?);
        let tmp = fsutil::temp_path(path).with_context(|| format!("{}: cannot write here", path.display()))?;
        let file = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut enc = gif::Encoder::new(BufWriter::new(file), w, h, &[])?;
        enc.set_repeat(gif::Repeat::Infinite)?;
        Ok(GifOut {
            path: path.to_path_buf(),
            tmp: fsutil::Temp::new(tmp),
            enc,
            screen: None,
            pending: None,
            frames: 0,
            total_ms: 0,
            carry_ms: 0,
        })
    }

    /// Adds `img` shown for `delay_ms`; the same picture as the last only lengthens it.
    pub fn push(&mut self, img: &RgbaImage, delay_ms: u32) -> anyhow::Result<()> {
        self.total_ms += u64::from(delay_ms);
        let changed = match &self.screen {
            None => Some((0, 0, img.width(), img.height())),
            Some(prev) => changed_rect(prev, img),
        };
        match (changed, self.pending.as_mut()) {
            (None, Some(p)) => p.delay_ms += delay_ms,
            (None, None) => unreachable!("a screen always has a pending frame"),
            (Some((x, y, w, h)), _) => {
                self.flush()?;
                let part = image::imageops::crop_imm(img, x, y, w, h).to_image();
                self.pending = Some(Pending { left: x, top: y, part, delay_ms });
                self.screen = Some(img.clone());
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let Some(mut p) = self.pending.take() else { return Ok(()) };
        let (w, h) = (p.part.width() as u16, p.part.height() as u16);
        let mut frame = gif::Frame::from_rgba_speed(w, h, p.part.as_mut(), QUANT_SPEED);
        (frame.left, frame.top) = (p.left as u16, p.top as u16);
        let ms = p.delay_ms + self.carry_ms;
        frame.delay = u16::try_from(ms / 10).unwrap_or(u16::MAX);
        self.carry_ms = ms % 10;
        frame.dispose = gif::DisposalMethod::Keep;
        self.enc.write_frame(&frame)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the last frame and puts the GIF in place; returns its frames and size in bytes.
    pub fn finish(mut self) -> anyhow::Result<(usize, u64)> {
        self.flush()?;
        let file = self.enc.into_inner()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        // a failed rename leaves the temp to the guard, which removes it
        std::fs::rename(self.tmp.path(), &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.tmp.keep();
        Ok((self.frames, std::fs::metadata(&self.path)?.len()))
    }
}

/// The smallest rectangle (x, y, w, h) outside which `a` and `b` agree; None when equal.
pub fn changed_rect(a: &RgbaImage, b: &RgbaImage) -> Option<(u32, u32, u32, u32)> {
    if a.dimensions() != b.dimensions() {
        return Some((0, 0, b.width(), b.height()));
    }
    let (w, row) = (a.width(), a.width() as usize * 4);
    let rows = |y: u32| (&a.as_raw()[y as usize * row..][..row], &b.as_raw()[y as usize * row..][..row]);
    let top = (0..a.height()).find(|&y| rows(y).0 != rows(y).1)?;
    let bottom = (top..a.height()).rev().find(|&y| rows(y).0 != rows(y).1)?;
    let (mut left, mut right) = (w, 0);
    for y in top..=bottom {
        let (ra, rb) = rows(y);
        if let Some(x) = (0..w).find(|&x| ra[x as usize * 4..][..4] != rb[x as usize * 4..][..4]) {
            left = left.min(x);
            let last = (x..w).rev().find(|&x| ra[x as usize * 4..][..4] != rb[x as usize * 4..][..4]).unwrap_or(x);
            right = right.max(last);
        }
    }
    Some((left, top, right - left + 1, bottom - top + 1))
}

/// The slides: each step's settled picture as `0001.png`, `0002.png`... in a folder that is
/// filled under a temporary name and renamed into place when complete.
pub struct PngSlides {
    dir: PathBuf,
    tmp: fsutil::Temp,
    pub count: usize,
}

impl PngSlides {
    pub fn create(dir: &Path) -> anyhow::Result<PngSlides> {
        let tmp = fsutil::temp_path(dir).with_context(|| format!("{}: cannot write here", dir.display()))?;
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(PngSlides { dir: dir.to_path_buf(), tmp: fsutil::Temp::new(tmp), count: 0 })
    }

    pub fn push(&mut self, img: &RgbaImage) -> anyhow::Result<()> {
        self.count += 1;
        let file = self.tmp.path().join(format!("{:04}.png", self.count));
        img.save(&file).with_context(|| format!("cannot write {}", file.display()))
    }

    /// Puts the folder in place (an old one given with --force goes only once the new is whole).
    /// On failure the old folder is back in place and the new slides are removed.
    pub fn finish(self) -> anyhow::Result<u64> {
        let old = if self.dir.exists() { Some(fsutil::temp_path(&self.dir)?) } else { None };
        if let Some(old) = &old {
            std::fs::rename(&self.dir, old).with_context(|| format!("cannot replace {}", self.dir.display()))?;
        }
        if let Err(e) = std::fs::rename(self.tmp.path(), &self.dir) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.dir);
            }
            return Err(e).with_context(|| format!("cannot write {}", self.dir.display()));
        }
        self.tmp.keep();
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        let bytes = std::fs::read_dir(&self.dir)?.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changed_rectangle_is_tight() {
        let a = RgbaImage::from_pixel(40, 30, image::Rgba([0, 0, 0, 255]));
        let mut b = a.clone();
        assert_eq!(changed_rect(&a, &b), None);
        b.put_pixel(5, 7, image::Rgba([255, 0, 0, 255]));
        b.put_pixel(12, 20, image::Rgba([0, 255, 0, 255]));
        assert_eq!(changed_rect(&a, &b), Some((5, 7, 8, 14)));
    }

    #[test]
    fn repeated_pictures_lengthen_one_frame_and_parts_decode_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gif");
        let black = RgbaImage::from_pixel(32, 16, image::Rgba([0, 0, 0, 255]));
        let mut lit = black.clone();
        for x in 8..12 {
            lit.put_pixel(x, 4, image::Rgba([255, 255, 255, 255]));
        }
        let mut out = GifOut::create(&path, 32, 16).unwrap();
        out.push(&black, 100).unwrap();
        out.push(&black, 100).unwrap();
        out.push(&lit, 250).unwrap();
        let (frames, _) = out.finish().unwrap();
        assert_eq!(frames, 2);
        let mut dec = gif::DecodeOptions::new();
        dec.set_color_output(gif::ColorOutput::RGBA);
        let mut dec = dec.read_info(std::fs::File::open(&path).unwrap()).unwrap();
        let f1 = dec.read_next_frame().unwrap().unwrap();
        assert_eq!((f1.width, f1.height, f1.delay), (32, 16, 20), "two shows of the same picture: one frame");
        let f2 = dec.read_next_frame().unwrap().unwrap();
        assert_eq!((f2.left, f2.top, f2.width, f2.height, f2.delay), (8, 4, 4, 1, 25), "only what changed");
        assert!(f2.buffer.chunks(4).all(|p| p[0] > 200), "and it is the white strip");
        assert!(dec.read_next_frame().unwrap().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
    }
}
