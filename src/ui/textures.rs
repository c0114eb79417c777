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
}

/// Named texture slots keyed by content.
pub struct Textures<K: PartialEq + Clone> {
    slots: HashMap<String, Slot<K>>,
}

impl<K: PartialEq + Clone> Default for Textures<K> {
    fn default() -> Self {
        Textures { slots: HashMap::new() }
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
            return Some((slot.handle.id(), slot.size));
        }
        let Some(image) = make() else {
            self.slots.remove(name);
            return None;
        };
        let size = image.size;
        match self.slots.get_mut(name) {
            Some(slot) => {
                slot.handle.set(image, options);
                slot.key = key.clone();
                slot.size = size;
            }
            None => {
                let handle = ctx.load_texture(name, image, options);
                self.slots.insert(name.to_string(), Slot { key: key.clone(), handle, size });
            }
        }
        self.slots.get(name).map(|s| (s.handle.id(), s.size))
    }

    /// Drops slots whose name starts with `prefix` (e.g. thumbnails of a previous image).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.slots.retain(|k, _| !k.starts_with(prefix));
    }
}
