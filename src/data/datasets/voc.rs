//! PASCAL VOC segmentation (`JPEGImages/<id>.jpg`, `SegmentationClass/<id>.png` palette masks
//! with 255 on object borders, split lists in `ImageSets/Segmentation/<split>.txt`).

use std::path::Path;

use super::{Dataset, DatasetError, LabelKind, OnBad, Sample, files_with_suffix};

/// The 21 VOC classes, background first.
pub const VOC_CLASSES: [&str; 21] = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

/// The VOC palette colour of class index `i` (the devkit's bit-interleaving rule).
pub fn voc_color(i: u8) -> [u8; 3] {
    let (mut r, mut g, mut b) = (0u8, 0u8, 0u8);
    let mut c = i;
    for j in 0..8 {
        r |= ((c & 1) << (7 - j)) as u8;
        g |= (((c >> 1) & 1) << (7 - j)) as u8;
        b |= (((c >> 2) & 1) << (7 - j)) as u8;
        c >>= 3;
    }
    [r, g, b]
}

/// Colour -> id for the 21 classes and the 255 "void" border colour.
pub fn voc_table() -> Vec<([u8; 3], u8)> {
    let mut t: Vec<([u8; 3], u8)> = (0..21u8).map(|i| (voc_color(i), i)).collect();
    t.push((voc_color(255), 255));
    t
}

/// Lists a VOC tree (`root` holds JPEGImages/ and SegmentationClass/). With a split name whose
/// list file exists, only the listed ids; otherwise every mask in SegmentationClass.
pub fn open(root: &Path, split: Option<&str>, on_bad: OnBad) -> Result<Dataset, DatasetError> {
    let (img_dir, seg_dir) = (root.join("JPEGImages"), root.join("SegmentationClass"));
    for d in [&img_dir, &seg_dir] {
        if !d.is_dir() {
            return Err(DatasetError::NotFound {
                path: d.clone(),
                expected: "a PASCAL VOC folder with JPEGImages/ and SegmentationClass/".into(),
            });
        }
    }
    let ids: Vec<String> = match split {
        Some(s) => {
            let list = root.join("ImageSets/Segmentation").join(format!("{s}.txt"));
            let text = std::fs::read_to_string(&list).map_err(|_| DatasetError::NotFound {
                path: list.clone(),
                expected: format!("the split list of {s:?}, one image id a line"),
            })?;
            text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
        }
        None => files_with_suffix(&seg_dir, &[".png"])?
            .iter()
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
            .collect(),
    };
    let (mut samples, mut images_alone, mut labels_alone) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        let image = ["jpg", "jpeg", "png"].iter().map(|e| img_dir.join(format!("{id}.{e}"))).find(|p| p.is_file());
        let label = seg_dir.join(format!("{id}.png"));
        match (image, label.is_file()) {
            (Some(image), true) => samples.push(Sample { image, label: Some(label) }),
            (Some(image), false) => images_alone.push(image),
            (None, true) => labels_alone.push(label),
            (None, false) => images_alone.push(img_dir.join(format!("{id}.jpg"))),
        }
    }
    let expected = format!("{}/<id>.jpg with {}/<id>.png", img_dir.display(), seg_dir.display());
    Dataset::from_pairs(
        root,
        21,
        LabelKind::Colors(voc_table()),
        samples,
        images_alone,
        labels_alone,
        true,
        on_bad,
        &expected,
    )
}
