//! Mask hand-off to annotation tools: our COCO RLE equals pycocotools' byte for byte on a
//! committed fixture (scripts/make_coco_fixture.py), and `add infer --export` writes the CVAT
//! zip in its documented layout, COCO JSON whose segments rebuild the mask exactly, and the
//! Cityscapes files; `--unsure-below` leaves unsure pixels unlabelled.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use add_studio::export::rle;

#[test]
fn rle_matches_pycocotools_byte_for_byte() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coco/rle.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let (w, h) = (c["width"].as_u64().unwrap() as usize, c["height"].as_u64().unwrap() as usize);
        let mask: Vec<bool> = c["rows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_str().unwrap().chars().map(|ch| ch == '1'))
            .collect();
        let counts = rle::encode_counts(&mask, w, h);
        let ours = rle::counts_to_string(&counts);
        assert_eq!(ours, c["counts"].as_str().unwrap(), "case {}", c["name"]);
        assert_eq!(rle::decode_counts(&rle::string_to_counts(&ours).unwrap(), w, h).unwrap(), mask);
        let area: u64 = counts.iter().skip(1).step_by(2).sum();
        assert_eq!(area, c["area"].as_u64().unwrap(), "case {}", c["name"]);
    }
}

/// Two sample scenes in a folder of their own.
fn images(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples");
    let dst = dir.join("images");
    std::fs::create_dir_all(&dst).unwrap();
    for n in ["scene_00.png", "scene_06.png"] {
        std::fs::copy(src.join(n), dst.join(n)).unwrap();
    }
    dst
}

fn infer(images: &Path, out: &Path, extra: &[&str]) {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/add.safetensors");
    let o = Command::new(env!("CARGO_BIN_EXE_add"))
        .arg("infer")
        .arg(images)
        .arg("--model")
        .arg(&model)
        .args(["--policy", "exit:2", "--device", "cpu", "-o"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Class per pixel of a `*_labelTrainIds.png`.
fn train_ids(path: &Path) -> (usize, usize, Vec<u8>) {
    let img = image::open(path).unwrap().to_luma8();
    (img.width() as usize, img.height() as usize, img.into_raw())
}

#[test]
fn infer_exports_cvat_coco_and_cityscapes_that_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs = images(tmp.path());
    let (cs, coco, cvat, unsure) =
        (tmp.path().join("cs"), tmp.path().join("coco"), tmp.path().join("cvat"), tmp.path().join("unsure"));
    infer(&imgs, &cs, &["--export", "cityscapes"]);
    infer(&imgs, &coco, &["--export", "coco"]);
    infer(&imgs, &cvat, &["--export", "cvat"]);
    infer(&imgs, &unsure, &["--export", "cityscapes", "--unsure-below", "0.9"]);

    // Cityscapes: the three files per image; the mask is the chosen exit's (exit 2)
    let card = add_studio::network::checkpoint::TensorFile::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("models/add.safetensors"),
    )
    .unwrap()
    .card
    .unwrap();
    let mut masks = Vec::new();
    for stem in ["scene_00", "scene_06"] {
        for suffix in ["labelTrainIds", "labelIds", "color"] {
            assert!(cs.join(format!("cityscapes/{stem}_gtFine_{suffix}.png")).is_file(), "{stem} {suffix}");
        }
        let (w, h, ids) = train_ids(&cs.join(format!("cityscapes/{stem}_gtFine_labelTrainIds.png")));
        let palette = image::open(cs.join(format!("{stem}_exit2.png"))).unwrap().to_rgb8();
        for (i, p) in palette.pixels().enumerate() {
            assert_eq!(card.classes[usize::from(ids[i])].color, p.0, "{stem}: pixel {i} differs from infer's own mask");
        }
        masks.push((stem, w, h, ids));
    }

    // COCO: every image, every class a category, and the segments rebuild each mask exactly
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(coco.join("masks_coco.json")).unwrap()).unwrap();
    assert_eq!(doc["categories"].as_array().unwrap().len(), 19);
    assert_eq!(doc["categories"][0]["name"], "road");
    let imgs_json = doc["images"].as_array().unwrap();
    assert_eq!(imgs_json.len(), 2);
    for (k, (stem, w, h, ids)) in masks.iter().enumerate() {
        assert_eq!(imgs_json[k]["file_name"], format!("{stem}.png"));
        let mut rebuilt = vec![255u8; w * h];
        for a in doc["annotations"].as_array().unwrap().iter().filter(|a| a["image_id"] == k + 1) {
            assert_eq!(a["segmentation"]["size"], serde_json::json!([h, w]));
            let counts = rle::string_to_counts(a["segmentation"]["counts"].as_str().unwrap()).unwrap();
            let m = rle::decode_counts(&counts, *w, *h).unwrap();
            let class = a["category_id"].as_u64().unwrap() as u8 - 1;
            assert_eq!(a["area"].as_u64().unwrap(), m.iter().filter(|&&b| b).count() as u64);
            for (i, &b) in m.iter().enumerate() {
                if b {
                    assert_eq!(rebuilt[i], 255, "two segments claim pixel {i}");
                    rebuilt[i] = class;
                }
            }
        }
        assert_eq!(&rebuilt, ids, "{stem}: the COCO segments do not rebuild the mask");
    }

    // CVAT: exactly the documented members, background first in the label map, class colours
    let mut zip = zip::ZipArchive::new(std::fs::File::open(cvat.join("masks_cvat.zip")).unwrap()).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ImageSets/Segmentation/default.txt",
            "SegmentationClass/scene_00.png",
            "SegmentationClass/scene_06.png",
            "SegmentationObject/scene_00.png",
            "SegmentationObject/scene_06.png",
            "labelmap.txt"
        ]
    );
    let read = |zip: &mut zip::ZipArchive<std::fs::File>, n: &str| {
        let mut v = Vec::new();
        zip.by_name(n).unwrap().read_to_end(&mut v).unwrap();
        v
    };
    let labelmap = String::from_utf8(read(&mut zip, "labelmap.txt")).unwrap();
    let lines: Vec<&str> = labelmap.lines().collect();
    assert_eq!(lines[..3], ["# label:color_rgb:parts:actions", "background:0,0,0::", "road:128,64,128::"]);
    assert_eq!(lines.len(), 21);
    assert_eq!(
        String::from_utf8(read(&mut zip, "ImageSets/Segmentation/default.txt")).unwrap(),
        "scene_00\nscene_06\n"
    );
    let class_png = image::load_from_memory(&read(&mut zip, "SegmentationClass/scene_06.png")).unwrap().to_rgb8();
    for (i, p) in class_png.pixels().enumerate() {
        assert_eq!(card.classes[usize::from(masks[1].3[i])].color, p.0);
    }

    // unsure pixels become 255 (train ids) and 0 (label ids); the rest is the same mask
    let (_, _, cut) = train_ids(&unsure.join("cityscapes/scene_06_gtFine_labelTrainIds.png"));
    let dropped = cut.iter().filter(|&&c| c == 255).count();
    assert!(dropped > 0 && dropped < cut.len(), "{dropped} of {} pixels unsure", cut.len());
    assert!(cut.iter().zip(&masks[1].3).all(|(&a, &b)| a == 255 || a == b));
    let ids = image::open(unsure.join("cityscapes/scene_06_gtFine_labelIds.png")).unwrap().to_luma8().into_raw();
    assert!(cut.iter().zip(&ids).all(|(&t, &id)| (t == 255) == (id == 0)));
}

#[test]
fn a_bad_export_source_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let imgs = images(tmp.path());
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/add.safetensors");
    for (source, expected) in [
        ("exit:7", "the model's exits are 1..3"),
        ("exit:0", "exits count from 1"),
        ("last", "expected `chosen` or `exit:N`"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_add"))
            .arg("infer")
            .arg(&imgs)
            .arg("--model")
            .arg(&model)
            .args(["--export", "coco", "--export-source", source, "-o"])
            .arg(tmp.path().join("out"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(expected), "{source}: {err}");
    }
}
