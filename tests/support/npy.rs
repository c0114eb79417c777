//! The bad-input corpus of `.npy` files (what the reference search writes): made here by
//! rule from a header and data, each with what must happen. Included by tests/bad_npy.rs
//! (`#[path]`), beside the shared corpus in tests/support.
//!
//! The file name says which reader takes it: `betas_*` (12x4x3 floats), `path_*` (12
//! levels), `genotype_*` (rows of [branch, op]), anything else the plain array reader.

use std::path::Path;

use crate::support::{Corpus, Expect, noise};

/// A version-1 `.npy` file with this header dictionary and data, padded as numpy pads it.
pub fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

fn dict(descr: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}")
}

fn f32s(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn i64s(v: impl IntoIterator<Item = i64>) -> Vec<u8> {
    v.into_iter().flat_map(i64::to_le_bytes).collect()
}

/// Good betas: 144 small floats.
pub fn good_betas() -> Vec<u8> {
    npy(&dict("<f4", "(12, 4, 3)"), &f32s((0..144).map(|k| (k % 7) as f32 * 0.1 - 0.3)))
}

pub fn corpus(dir: &Path) -> Corpus {
    let mut c = Corpus::new(dir);
    let betas = good_betas();
    c.add("betas_ok.npy", &betas, Expect::Loads(144, 0));
    c.add("path_ok.npy", &npy(&dict("|u1", "(12,)"), &[0, 1, 2, 2, 3, 2, 2, 1, 2, 1, 1, 2]), Expect::Loads(12, 0));
    let adl = [0, 7, 1, 4, 2, 4, 3, 6, 5, 4, 8, 4, 11, 5, 13, 5, 19, 7, 18, 5];
    c.add("genotype_ok.npy", &npy(&dict("<i8", "(10, 2)"), &i64s(adl)), Expect::Loads(10, 0));
    c.add("path_int64_ok.npy", &npy(&dict("<i8", "(12,)"), &i64s([1; 12])), Expect::Loads(12, 0));

    // not numpy at all, or damaged
    c.add("empty.npy", &[], Expect::Fails("no \\x93NUMPY magic"));
    c.add("noise.npy", &noise(700, 21), Expect::Fails("no \\x93NUMPY magic"));
    c.add("text.npy", "[[0.1, 0.2]]\n".repeat(20).as_bytes(), Expect::Fails("no \\x93NUMPY magic"));
    c.add("betas_cut.npy", &betas[..betas.len() - 100], Expect::Fails("needs 576 bytes of data, the file has 476"));
    c.add("betas_header_only.npy", &betas[..128], Expect::Fails("the file has 0"));
    c.add("betas_cut_in_header.npy", &betas[..40], Expect::Fails("the header claims 118 bytes"));
    let mut v9 = betas.clone();
    v9[6] = 9;
    c.add("version9.npy", &v9, Expect::Fails("version 9"));
    let mut long = betas.clone();
    long.extend_from_slice(&[0; 8]);
    c.add("betas_trailing_bytes.npy", &long, Expect::Fails("needs 576 bytes of data, the file has 584"));
    c.add("big.npy", &npy(&dict("<f4", "(300000,)"), &vec![0; 1_200_000]), Expect::Fails("limit 1048576"));

    // headers that lie
    let lie = |shape: &str| npy(&dict("<f4", shape), &f32s([0.0; 4]));
    c.add("shape_2e40.npy", &lie("(1099511627776,)"), Expect::Fails("needs 4398046511104 bytes"));
    c.add("shape_overflow.npy", &lie("(4294967296, 4294967296, 16)"), Expect::Fails("too large"));
    c.add("shape_negative.npy", &lie("(-4,)"), Expect::Fails("no readable shape"));
    c.add(
        "shape_missing.npy",
        &npy("{'descr': '<f4', 'fortran_order': False, }", &f32s([0.0; 4])),
        Expect::Fails("no readable shape"),
    );
    c.add("shape_words.npy", &lie("(four,)"), Expect::Fails("no readable shape"));
    c.add("descr_object.npy", &npy(&dict("|O", "(4,)"), &[0; 32]), Expect::Fails("no readable dtype"));
    c.add("descr_complex.npy", &npy(&dict("<c8", "(4,)"), &[0; 32]), Expect::Fails("not a readable numpy array"));
    c.add("descr_big_endian.npy", &npy(&dict(">f4", "(4,)"), &[0; 16]), Expect::Fails("not a readable numpy array"));
    let fortran = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }";
    c.add("fortran.npy", &npy(fortran, &[0; 16]), Expect::Fails("fortran"));
    let mut latin = npy(&dict("<f4", "(4,)"), &[0; 16]);
    latin[12] = 0xff;
    c.add("header_not_utf8.npy", &latin, Expect::Fails("not text"));

    // arrays of the wrong kind for what reads them
    c.add("betas_12x4x2.npy", &npy(&dict("<f4", "(12, 4, 2)"), &f32s([0.0; 96])), Expect::Fails("got [12, 4, 2]"));
    c.add(
        "betas_flat.npy",
        &npy(&dict("<f4", "(144,)"), &f32s([0.0; 144])),
        Expect::Fails("12 layers, 4 levels, 3 rates"),
    );
    let mut nan = vec![0.0f32; 144];
    nan[50] = f32::NAN;
    c.add("betas_nan.npy", &npy(&dict("<f4", "(12, 4, 3)"), &f32s(nan)), Expect::Fails("betas[4][0][2] is NaN"));
    c.add(
        "path_level7.npy",
        &npy(&dict("|u1", "(12,)"), &[0, 1, 2, 7, 3, 2, 2, 1, 2, 1, 1, 2]),
        Expect::Fails("path[3] = 7"),
    );
    c.add("path_half.npy", &npy(&dict("<f4", "(12,)"), &f32s([1.5; 12])), Expect::Fails("path[0] = 1.5"));
    c.add("path_11.npy", &npy(&dict("|u1", "(11,)"), &[0; 11]), Expect::Fails("shape [12]"));
    c.add("genotype_3cols.npy", &npy(&dict("<i8", "(10, 3)"), &i64s([0; 30])), Expect::Fails("[rows, 2]"));
    c.add(
        "genotype_negative.npy",
        &npy(&dict("<i8", "(2, 2)"), &i64s([0, 4, -1, 7])),
        Expect::Fails("genotype[1][0] = -1"),
    );
    c.add("genotype_empty.npy", &npy(&dict("<i8", "(0, 2)"), &[]), Expect::Fails("[rows, 2]"));
    c
}
