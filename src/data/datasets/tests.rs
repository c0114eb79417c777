//! Loaders on tiny trees built in a temporary folder.

use std::path::Path;

use image::{DynamicImage, GrayImage, Luma, Rgb, RgbImage};

use super::*;
use crate::data::image_io::save_png_atomic;
use crate::data::synth::writer::{DatasetPlan, write_dataset};

fn png(path: &Path, img: DynamicImage) {
    save_png_atomic(&img, path).unwrap();
}

fn rgb(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 7])))
}

#[test]
fn synth_output_loads_through_the_cityscapes_loader() {
    let dir = tempfile::tempdir().unwrap();
    let plan = DatasetPlan {
        out: dir.path().into(),
        count: 8,
        width: 64,
        height: 32,
        seed: 1,
        val_fraction: 0.3,
        difficulty: (0.0, 1.0),
    };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    let mut total = 0;
    for split in ["train", "val"] {
        let Ok(ds) = cityscapes::open(dir.path(), split, OnBad::Fail) else { continue };
        assert_eq!(ds.label_kind, LabelKind::Ids);
        for d in ds.iter_decoded() {
            let d = d.unwrap();
            assert_eq!(d.image.dimensions(), (64, 32));
            assert!(d.label.unwrap().pixels().all(|l| l[0] < 19));
        }
        total += ds.len();
    }
    assert_eq!(total, 8);
}

#[test]
fn cityscapes_label_ids_are_mapped_and_unpaired_files_listed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["a_000000_000019", "a_000001_000019"] {
        png(&root.join(format!("leftImg8bit/val/a/{name}_leftImg8bit.png")), rgb(4, 2));
    }
    let ids = GrayImage::from_raw(4, 2, vec![7, 26, 0, 33, 24, 25, 9, 31]).unwrap();
    png(&root.join("gtFine/val/a/a_000000_000019_gtFine_labelIds.png"), DynamicImage::ImageLuma8(ids));
    let err = cityscapes::open(root, "val", OnBad::Fail).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("a_000001_000019_leftImg8bit.png") && msg.contains("image without label"), "{msg}");
    let ds = cityscapes::open(root, "val", OnBad::Skip).unwrap();
    assert_eq!(ds.len(), 1);
    assert!(ds.skip_report().contains("a_000001_000019"));
    assert_eq!(ds.label_kind, LabelKind::CityscapesIds);
    let l = ds.load(0).unwrap().label.unwrap();
    assert_eq!(l.as_raw(), &vec![0, 13, 255, 18, 11, 12, 255, 16]);
    assert!(matches!(cityscapes::open(root, "train", OnBad::Fail), Err(DatasetError::NotFound { .. })));
}

#[test]
fn bad_labels_and_sizes_name_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (imgs, masks) = (dir.path().join("img"), dir.path().join("mask"));
    png(&imgs.join("good.png"), rgb(6, 4));
    png(&masks.join("good.png"), DynamicImage::ImageLuma8(GrayImage::from_pixel(6, 4, Luma([3]))));
    png(&imgs.join("value.png"), rgb(6, 4));
    png(&masks.join("value.png"), DynamicImage::ImageLuma8(GrayImage::from_pixel(6, 4, Luma([40]))));
    png(&imgs.join("size.png"), rgb(6, 4));
    png(&masks.join("size.png"), DynamicImage::ImageLuma8(GrayImage::from_pixel(5, 4, Luma([1]))));
    std::fs::write(imgs.join("corrupt.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    png(&masks.join("corrupt.png"), DynamicImage::ImageLuma8(GrayImage::from_pixel(6, 4, Luma([1]))));
    let palette: Vec<[u8; 3]> = crate::network::presets::cityscapes_classes().iter().map(|c| c.color).collect();
    let mut ds = folder::open(&imgs, Some(&masks), &palette, true, OnBad::Fail).unwrap();
    assert_eq!(ds.len(), 4);
    let msg = ds.check(OnBad::Fail).unwrap_err().to_string();
    for needle in ["value.png", "40", "size.png", "corrupt.png", "3 bad sample"] {
        assert!(msg.contains(needle), "missing {needle:?} in {msg}");
    }
    ds.check(OnBad::Skip).unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds.skipped.len(), 3);
}

#[test]
fn voc_palette_masks_become_class_ids() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("JPEGImages")).unwrap();
    DynamicImage::ImageRgb8(RgbImage::from_pixel(3, 2, Rgb([9, 9, 9])))
        .save_with_format(root.join("JPEGImages/2007_000032.jpg"), image::ImageFormat::Jpeg)
        .unwrap();
    let colors = [
        voc::voc_color(0),
        voc::voc_color(15),
        voc::voc_color(255),
        voc::voc_color(1),
        voc::voc_color(20),
        voc::voc_color(15),
    ];
    let mask = RgbImage::from_fn(3, 2, |x, y| Rgb(colors[(y * 3 + x) as usize]));
    png(&root.join("SegmentationClass/2007_000032.png"), DynamicImage::ImageRgb8(mask));
    std::fs::create_dir_all(root.join("ImageSets/Segmentation")).unwrap();
    std::fs::write(root.join("ImageSets/Segmentation/val.txt"), "2007_000032\n").unwrap();
    assert_eq!(voc::voc_color(255), [224, 224, 192]);
    assert_eq!(voc::voc_color(15), [192, 128, 128]);
    let ds = voc::open(root, Some("val"), OnBad::Fail).unwrap();
    let l = ds.load(0).unwrap().label.unwrap();
    assert_eq!(l.as_raw(), &vec![0, 15, 255, 1, 20, 15]);
    std::fs::write(root.join("ImageSets/Segmentation/train.txt"), "missing_id\n").unwrap();
    let msg = voc::open(root, Some("train"), OnBad::Fail).unwrap_err().to_string();
    assert!(msg.contains("missing_id"), "{msg}");
}

#[test]
fn folder_pairs_by_stem_in_one_or_two_folders() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    png(&one.join("scene_00.png"), rgb(4, 4));
    // class ids: wall (3)
    png(&one.join("scene_00_label.png"), DynamicImage::ImageLuma8(GrayImage::from_pixel(4, 4, Luma([3]))));
    png(&one.join("scene_01.png"), rgb(4, 4));
    // A colour mask in the Cityscapes palette: sky (10).
    png(&one.join("scene_01_mask.png"), DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, Rgb([70, 130, 180]))));
    let palette: Vec<[u8; 3]> = crate::network::presets::cityscapes_classes().iter().map(|c| c.color).collect();
    let ds = folder::open(&one, None, &palette, true, OnBad::Fail).unwrap();
    assert_eq!(ds.len(), 2);
    let order: Vec<usize> = ds.iter_decoded().map(|d| d.unwrap().index).collect();
    assert_eq!(order, vec![0, 1]);
    let class = |i: usize| ds.load(i).unwrap().label.unwrap().get_pixel(0, 0)[0];
    assert_eq!((class(0), class(1)), (3, 10), "scene_00 has the id label, scene_01 the colour mask");

    png(&one.join("odd.png"), rgb(4, 4));
    png(&one.join("odd_label.png"), DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, Rgb([1, 2, 3]))));
    let ds = folder::open(&one, None, &palette, true, OnBad::Fail).unwrap();
    let e = ds.load(ds.samples.iter().position(|s| s.image.ends_with("odd.png")).unwrap()).unwrap_err();
    assert!(matches!(e, crate::data::DataError::LabelColor { color: [1, 2, 3], count: 16, .. }), "{e}");
    std::fs::remove_file(one.join("odd.png")).unwrap();
    std::fs::remove_file(one.join("odd_label.png")).unwrap();

    png(&one.join("scene_02.png"), rgb(4, 4));
    let msg = folder::open(&one, None, &palette, true, OnBad::Fail).unwrap_err().to_string();
    assert!(msg.contains("scene_02.png"), "{msg}");
    let ds = folder::open(&one, None, &palette, false, OnBad::Fail).unwrap();
    assert_eq!(ds.len(), 3);
    assert!(ds.samples.iter().any(|s| s.label.is_none()));
}
