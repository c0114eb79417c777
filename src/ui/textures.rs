//! GPU textures of the views. Each slot is created once and afterwards updated in place with
//! `TextureHandle::set`, and only when its content key changes: moving the opacity slider or
//! panning never re-uploads a mask.

use eframe::egui::{self, ColorImage, TextureFilter, TextureHandle, TextureId, TextureOptions};
use std::collections::HashMap;

/// Masks: nearest both ways, so no colour between two classes is ever invented.
pub const MASK: TextureOptions = TextureOptions::NEAREST;
/// Photo: nearest when magnified (pixels stay pixels), linear when shrunk (no aliasing).
pub const PHOTO: TextureOptions = TextureOptions {
    magnification: TextureFilter::Nearest,
    minification: TextureFilter::Linear,
    ..TextureOptions::LINEAR
};

/// One texture slot and the key of what it holds.
struct Slot<K> {
    key: K,
    handle: TextureHandle,
    size: [usize; 2],
    /// The key's content was empty: the handle is kept but not drawn.
    empty: bool,
}

/// Named texture slots keyed by content.
pub struct Textures<K: PartialEq + Clone> {
    slots: HashMap<String, Slot<K>>,
    /// Uploads so far: (textures created, textures updated in place).
    pub uploads: (u64, u64),
}

impl<K: PartialEq + Clone> Default for Textures<K> {
    fn default() -> Self {
        Textures { slots: HashMap::new(), uploads: (0, 0) }
    }
}

impl<K: PartialEq + Clone> Textures<K> {
    /// The texture of slot `name` holding `key`; `make` runs only when the key changed.
    /// Returns `None` when `make` has nothing to show.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        key: &K,
        options: TextureOptions,
        make: impl FnOnce() -> Option<ColorImage>,
    ) -> Option<(TextureId, [usize; 2])> {
        if let Some(slot) = self.slots.get(name)
            && slot.key == *key
        {
            return (!slot.empty).then_some((slot.handle.id(), slot.size));
        }
        let Some(image) = make() else {
            // Nothing to show: keep the texture for later content, just don't draw it.
            if let Some(slot) = self.slots.get_mut(name) {
                slot.key = key.clone();
                slot.empty = true;
            }
            return None;
        };
        let size = image.size;
        match self.slots.get_mut(name) {
            Some(slot) => {
                slot.handle.set(image, options);
                self.uploads.1 += 1;
                slot.key = key.clone();
                slot.size = size;
                slot.empty = false;
            }
            None => {
                let handle = ctx.load_texture(name, image, options);
                self.uploads.0 += 1;
                self.slots.insert(name.to_string(), Slot { key: key.clone(), handle, size, empty: false });
            }
        }
        self.slots.get(name).map(|s| (s.handle.id(), s.size))
    }
}
