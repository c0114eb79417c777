//! Built-in cards for the reference variants: ADD with 2, 3 and 4 exits, Auto-DeepLab, and the
//! dense Auto-DeepLab baseline (reference `train.py`).

use super::card::{
    ArchCard, CardError, ClassInfo, EdmKind, EdmSettings, HeadSettings, ModelKind, Normalization, StemSettings,
};

/// The searched Auto-DeepLab cell used by ADD (`searched_arch/autodeeplab/genotype.npy`).
pub const AUTODEEPLAB_GENOTYPE: [[usize; 2]; 10] =
    [[0, 7], [1, 4], [2, 4], [3, 6], [5, 4], [8, 4], [11, 5], [13, 5], [19, 7], [18, 5]];

/// The reference's `searched_arch/searched_baseline/network_path.npy`.
pub const SEARCHED_BASELINE_PATH: [u8; 12] = [0, 1, 2, 2, 3, 2, 2, 1, 2, 1, 1, 2];
/// `searched_arch/searched_baseline/genotype_1.npy` (four blocks) and `genotype_2.npy`.
pub const SEARCHED_BASELINE_GENOTYPES: [&[[usize; 2]]; 2] = [
    &[[0, 4], [1, 7], [2, 5], [4, 5], [5, 4], [8, 6], [13, 7], [12, 7]],
    &[[0, 7], [1, 4], [2, 6], [4, 4], [8, 6], [5, 4], [9, 6], [11, 7], [14, 7], [16, 5]],
];
/// `searched_arch/40_5e_38_lr/genotype_1.npy` and `genotype_2.npy` (the folder has no path).
pub const LR_40_5E_38_GENOTYPES: [&[[usize; 2]]; 2] = [
    &[[1, 5], [0, 4], [2, 4], [4, 4], [5, 4], [8, 5], [13, 5], [12, 4], [18, 5], [14, 4]],
    &[[1, 7], [0, 7], [2, 5], [4, 7], [8, 5], [5, 5], [9, 7], [13, 5], [16, 5], [14, 5]],
];

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
///
/// The reference's other searched architectures are dense ADD cards with 2 exits, one per
/// genotype file (`-1`, `-2`): `searched-baseline-*` on its searched path, `40-5e-38-lr-*`
/// (whose folder ships no path) on add-2's path, the path the reference trains 2 exits on.
pub const PRESET_NAMES: [&str; 9] = [
    "add-2",
    "add-3",
    "add-4",
    "autodeeplab",
    "autodeeplab-dense",
    "searched-baseline-1",
    "searched-baseline-2",
    "40-5e-38-lr-1",
    "40-5e-38-lr-2",
];

/// add-2's path (reference `train.py`, 2 exits).
const ADD2_PATH: [u8; 12] = [1, 2, 2, 2, 3, 2, 2, 1, 1, 1, 1, 2];

impl ArchCard {
    /// A built-in card by name (see [`PRESET_NAMES`]), at filter multiplier `f` (reference: 20).
    pub fn preset(name: &str, f: usize) -> Result<ArchCard, CardError> {
        let adl: &[[usize; 2]] = &AUTODEEPLAB_GENOTYPE;
        let dense2 = |path, genotype| (ModelKind::Add, path, vec![5], 0, EdmKind::Scalar, genotype);
        let (kind, path, exits, low_level_cell, edm, genotype) = match name {
            "add-2" => dense2(ADD2_PATH, adl),
            "add-3" => (ModelKind::Add, [1, 2, 3, 2, 2, 3, 2, 3, 2, 3, 2, 3], vec![3, 7], 0, EdmKind::Scalar, adl),
            "add-4" => (ModelKind::Add, [1, 2, 3, 3, 2, 3, 3, 3, 3, 3, 2, 2], vec![2, 5, 8], 0, EdmKind::Scalar, adl),
            "autodeeplab" => (ModelKind::Autodeeplab, AUTODEEPLAB_PATH, vec![], 2, EdmKind::None, adl),
            "autodeeplab-dense" => (ModelKind::Add, AUTODEEPLAB_PATH, vec![5], 2, EdmKind::Scalar, adl),
            "searched-baseline-1" => dense2(SEARCHED_BASELINE_PATH, SEARCHED_BASELINE_GENOTYPES[0]),
            "searched-baseline-2" => dense2(SEARCHED_BASELINE_PATH, SEARCHED_BASELINE_GENOTYPES[1]),
            "40-5e-38-lr-1" => dense2(ADD2_PATH, LR_40_5E_38_GENOTYPES[0]),
            "40-5e-38-lr-2" => dense2(ADD2_PATH, LR_40_5E_38_GENOTYPES[1]),
            other => return Err(CardError::UnknownPreset(other.to_string())),
        };
        let card = ArchCard {
            name: format!("{name} (F={f})"),
            kind,
            f,
            b: genotype.len() / 2,
            classes: cityscapes_classes(),
            path: path.to_vec(),
            exits,
            genotype: genotype.to_vec(),
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
