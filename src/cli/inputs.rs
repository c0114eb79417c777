//! The image arguments of `add infer`, `add present` and `add bench-app`: files as given, and
//! folders as the images in them.

use std::path::PathBuf;

/// Files as given, and each folder as its images in name order, without the `_label` files
/// that sit beside them in a generated gallery (as the app lists a folder). A folder with no
/// image is an error that names it.
pub fn expand_images(given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for p in given {
        if p.is_dir() {
            let found = crate::ui::files::list_folder(p);
            anyhow::ensure!(!found.is_empty(), "{}: no images in this folder", p.display());
            images.extend(found);
        } else {
            images.push(p.clone());
        }
    }
    Ok(images)
}
