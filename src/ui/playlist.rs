//! What presenter mode goes through, image after image: the dataset browser's rows as filtered
//! and sorted, the folder of the image on screen, or the sample gallery. Stepping past the last
//! step of an image opens the playlist's next one; it stops at either end rather than wrapping,
//! so a talk does not start over by surprise.

use crate::data::datasets::Dataset;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One image of a playlist.
#[derive(Clone)]
pub enum Item {
    /// An image file (with its label beside it when there is one).
    File(PathBuf),
    /// Sample `.1` of a dataset the browser ran (opened with its label).
    Row(Arc<Dataset>, usize),
}

impl Item {
    /// The image file this item opens.
    pub fn path(&self) -> &Path {
        match self {
            Item::File(p) => p,
            Item::Row(ds, i) => &ds.samples[*i].image,
        }
    }
}

/// An ordered list of images and where the presenter is in it.
#[derive(Clone)]
pub struct Playlist {
    pub items: Vec<Item>,
    pub at: usize,
    /// Where the list comes from, for the presenter's hint ("the browser's rows").
    pub source: &'static str,
}

impl Playlist {
    /// Image files, `current` (when among them) first on screen.
    pub fn of_files(files: Vec<PathBuf>, current: Option<&Path>, source: &'static str) -> Playlist {
        let at = current.and_then(|c| files.iter().position(|f| f == c)).unwrap_or(0);
        Playlist { items: files.into_iter().map(Item::File).collect(), at, source }
    }

    /// Samples `indices` of `ds` in that order, sample `current` (when among them) on screen.
    pub fn of_rows(ds: Arc<Dataset>, indices: &[usize], current: Option<usize>) -> Playlist {
        let at = current.and_then(|c| indices.iter().position(|&i| i == c)).unwrap_or(0);
        let items = indices.iter().map(|&i| Item::Row(ds.clone(), i)).collect();
        Playlist { items, at, source: "the browser's rows" }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether stepping by `delta` stays inside the list.
    pub fn can_step(&self, delta: isize) -> bool {
        let to = self.at as isize + delta;
        to >= 0 && (to as usize) < self.items.len()
    }

    /// Moves by `delta` and returns the item now current; None (and no move) past either end.
    pub fn step(&mut self, delta: isize) -> Option<&Item> {
        if !self.can_step(delta) {
            return None;
        }
        self.at = (self.at as isize + delta) as usize;
        self.items.get(self.at)
    }

    pub fn current(&self) -> Option<&Item> {
        self.items.get(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_stop_at_both_ends() {
        let files: Vec<PathBuf> = ["a.png", "b.png", "c.png"].into_iter().map(PathBuf::from).collect();
        let mut p = Playlist::of_files(files, Some(Path::new("b.png")), "the folder");
        assert_eq!(p.at, 1);
        assert_eq!(p.step(1).map(|i| i.path().to_path_buf()), Some(PathBuf::from("c.png")));
        assert!(p.step(1).is_none(), "no wrapping past the last image");
        assert_eq!(p.at, 2);
        assert!(p.step(-2).is_some());
        assert!(p.step(-1).is_none(), "nor before the first");
        assert_eq!(p.current().map(|i| i.path().to_path_buf()), Some(PathBuf::from("a.png")));
    }
}
