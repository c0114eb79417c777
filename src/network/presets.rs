//! Built-in cards for the reference variants: ADD with 2, 3 and 4 exits, Auto-DeepLab, and the
//! dense Auto-DeepLab baseline (reference `train.py`).

use super::card::{
    ArchCard, CardError, ClassInfo, EdmKind, EdmSettings, HeadSettings, ModelKind, Normalization, StemSettings,
};

/// The searched Auto-DeepLab cell used by ADD (`searched_arch/autodeeplab/genotype.npy`).
pub const AUTODEEPLAB_GENOTYPE: [[usize; 2]; 10] =
    [[0, 7], [1, 4], [2, 4], [3, 6], [5, 4], [8, 4], [11, 5], [13, 5], [19, 7], [18, 5]];

/// Auto-DeepLab's own decoded network path.
pub const AUTODEEPLAB_PATH: [u8; 12] = [0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1];

/// The 19 Cityscapes train classes with the official palette.
pub fn cityscapes_classes() -> Vec<ClassInfo> {
    const C: [(&str, [u8; 3]); 19] = [
        ("road", [128, 64, 128]),
        ("sidewalk", [244, 35, 232]),
        ("building", [70, 70, 70]),
        ("wall", [102, 102, 156]),
        ("fence", [190, 153, 153]),
        ("pole", [153, 153, 153]),
        ("traffic light", [250, 170, 30]),
        ("traffic sign", [220, 220, 0]),
        ("vegetation", [107, 142, 35]),
        ("terrain", [152, 251, 152]),
        ("sky", [70, 130, 180]),
        ("person", [220, 20, 60]),
        ("rider", [255, 0, 0]),
        ("car", [0, 0, 142]),
        ("truck", [0, 0, 70]),
        ("bus", [0, 60, 100]),
        ("train", [0, 80, 100]),
        ("motorcycle", [0, 0, 230]),
        ("bicycle", [119, 11, 32]),
    ];
    C.iter().map(|(n, c)| ClassInfo { name: n.to_string(), color: *c }).collect()
}

/// Names accepted by [`ArchCard::preset`].
pub const PRESET_NAMES: [&str; 5] = ["add-2", "add-3", "add-4", "autodeeplab", "autodeeplab-dense"];

impl ArchCard {
    /// A built-in card by name (see [`PRESET_NAMES`]), at filter multiplier `f` (reference: 20).
    pub fn preset(name: &str, f: usize) -> Result<ArchCard, CardError> {
        let (kind, path, exits, low_level_cell, edm): (ModelKind, [u8; 12], Vec<usize>, usize, EdmKind) = match name {
            "add-2" => (ModelKind::Add, [1, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2], vec![5], 0, EdmKind::Scalar),
            "add-3" => (ModelKind::Add, [1, 2, 3, 2, 2, 3, 2, 3, 2, 3, 2, 3], vec![3, 7], 0, EdmKind::Scalar),
            "add-4" => (ModelKind::Add, [1, 2, 3, 3, 2, 3, 3, 3, 3, 3, 2, 2], vec![2, 5, 8], 0, EdmKind::Scalar),
            "autodeeplab" => (ModelKind::Autodeeplab, AUTODEEPLAB_PATH, vec![], 2, EdmKind::None),
            "autodeeplab-dense" => (ModelKind::Add, AUTODEEPLAB_PATH, vec![5], 2, EdmKind::Scalar),
            other => return Err(CardError::UnknownPreset(other.to_string())),
        };
        let card = ArchCard {
            name: format!("{name} (F={f})"),
            kind,
            f,
            b: 5,
            classes: cityscapes_classes(),
            path: path.to_vec(),
            exits,
            genotype: AUTODEEPLAB_GENOTYPE.to_vec(),
            low_level_cell,
            stem: StemSettings::default(),
            head: HeadSettings::default(),
            edm: EdmSettings { kind: edm, ..EdmSettings::default() },
            normalization: Normalization::default(),
            presets: Default::default(),
        };
        card.validate()?;
        Ok(card)
    }
}
