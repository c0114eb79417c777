//! Weights files: damaged safetensors, lying headers, wrong dtypes and shapes, bad embedded
//! cards, random bytes named `.pth`, and PyTorch zips built here the way `torch.save` lays them
//! out (protocol-2 pickle, stored entries), with their pickles damaged by rule.

use super::{Corpus, Expect, noise};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// One tensor of a hand-built `.pth`: name, storage class, shape, bytes in its storage.
pub struct PthTensor<'a> {
    pub name: &'a str,
    pub storage: &'a str,
    pub shape: &'a [u32],
    pub storage_bytes: usize,
}

fn unicode(p: &mut Vec<u8>, s: &str) {
    p.push(b'X');
    p.extend_from_slice(&(s.len() as u32).to_le_bytes());
    p.extend_from_slice(s.as_bytes());
}

fn int(p: &mut Vec<u8>, v: u32) {
    p.push(b'J');
    p.extend_from_slice(&v.to_le_bytes());
}

fn int_tuple(p: &mut Vec<u8>, v: &[u32]) {
    p.push(b'(');
    for &x in v {
        int(p, x);
    }
    p.push(b't');
}

/// A protocol-2 pickle of a state dict as `torch.save` writes it, optionally under `key` of an
/// outer dict; `args` limits how many of `_rebuild_tensor_v2`'s arguments are written.
pub fn state_dict_pickle(tensors: &[PthTensor], key: Option<&str>, args: usize) -> Vec<u8> {
    let mut p = b"\x80\x02".to_vec();
    if let Some(k) = key {
        p.push(b'}');
        unicode(&mut p, k);
    }
    p.extend_from_slice(b"ccollections\nOrderedDict\n)R(");
    for (i, t) in tensors.iter().enumerate() {
        unicode(&mut p, t.name);
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        let all = [0, 1, 2, 3, 4, 5];
        for a in &all[..args] {
            match a {
                0 => {
                    p.push(b'(');
                    unicode(&mut p, "storage");
                    p.extend_from_slice(format!("ctorch\n{}\n", t.storage).as_bytes());
                    unicode(&mut p, &i.to_string());
                    unicode(&mut p, "cpu");
                    int(&mut p, (t.storage_bytes / 4) as u32);
                    p.extend_from_slice(b"tQ");
                }
                1 => int(&mut p, 0),
                2 => int_tuple(&mut p, t.shape),
                3 => {
                    let strides: Vec<u32> = (0..t.shape.len()).map(|d| t.shape[d + 1..].iter().product()).collect();
                    int_tuple(&mut p, &strides);
                }
                4 => p.push(0x89),
                _ => p.extend_from_slice(b"ccollections\nOrderedDict\n)R"),
            }
        }
        p.extend_from_slice(b"tR");
    }
    p.push(b'u');
    if key.is_some() {
        p.push(b's');
    }
    p.push(b'.');
    p
}

/// A zip laid out as `torch.save` does: `archive/data.pkl`, `archive/data/<i>`, stored.
pub fn pth_zip(pickle: &[u8], storages: &[Vec<u8>]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("archive/data.pkl", opts).unwrap();
    z.write_all(pickle).unwrap();
    for (i, s) in storages.iter().enumerate() {
        z.start_file(format!("archive/data/{i}"), opts).unwrap();
        z.write_all(s).unwrap();
    }
    z.start_file("archive/version", opts).unwrap();
    z.write_all(b"3\n").unwrap();
    z.finish().unwrap().into_inner()
}

/// A `.pth` holding `tensors` with storages of the stated sizes (values 0.5).
pub fn pth(tensors: &[PthTensor], key: Option<&str>) -> Vec<u8> {
    let storages: Vec<Vec<u8>> =
        tensors.iter().map(|t| 0.5f32.to_le_bytes().iter().copied().cycle().take(t.storage_bytes).collect()).collect();
    pth_zip(&state_dict_pickle(tensors, key, 6), &storages)
}

fn safetensors_bytes(
    tensors: &[(&str, safetensors::Dtype, Vec<usize>, Vec<u8>)],
    meta: HashMap<String, String>,
) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::tensor::serialize(views, Some(meta)).unwrap()
}

/// A raw safetensors file from a header text and data bytes.
fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

/// Writes the weights corpus into `dir`. `Loads(n, 0)` means: read, with n tensors.
pub fn corpus(dir: &Path) -> Corpus {
    let mut c = Corpus::new(dir);
    let w = |n| PthTensor { name: "w", storage: "FloatStorage", shape: &[2, 2], storage_bytes: n };
    let good_pth = pth(&[w(16)], Some("state_dict"));
    c.add("ok.pth", &good_pth, Expect::Loads(1, 0));
    c.add("ok_bare_state_dict.pth", &pth(&[w(16)], None), Expect::Loads(1, 0));
    let f32s = |n: usize| vec![0u8; 4 * n];
    let st = safetensors_bytes(&[("w", safetensors::Dtype::F32, vec![2, 2], f32s(4))], HashMap::new());
    c.add("ok.safetensors", &st, Expect::Loads(1, 0));

    // damaged in general
    c.add("empty.safetensors", &[], Expect::Fails("an empty file"));
    c.add("five_bytes.safetensors", b"\x01\x02\x03\x04\x05", Expect::Fails("only 5 bytes"));
    c.add("noise.pth", &noise(4096, 7), Expect::Fails("not a checkpoint"));
    c.add("noise.safetensors", &noise(4096, 8), Expect::Fails("not a checkpoint"));
    c.add("text.pth", "a model, honestly\n".repeat(50).as_bytes(), Expect::Fails("not a checkpoint"));
    c.add(
        "jpeg_named.pth",
        &noise(64, 9)
            .iter()
            .enumerate()
            .map(|(i, b)| if i < 3 { [0xff, 0xd8, 0xff][i] } else { *b })
            .collect::<Vec<_>>(),
        Expect::Fails("not a checkpoint"),
    );

    // safetensors that lie
    let mut huge = (1u64 << 60).to_le_bytes().to_vec();
    huge.extend_from_slice(b"{\"w\":{}}");
    c.add("header_2e60.safetensors", &huge, Expect::Fails("1152921504606846976-byte header"));
    c.add("header_not_json.safetensors", &raw_safetensors("XXXXXXXXXX", &[]), Expect::Fails("not JSON"));
    c.add(
        "header_bad_json.safetensors",
        &raw_safetensors("{\"w\": [1, 2", &[]),
        Expect::Fails("not a safetensors file"),
    );
    c.add("cut_in_header.safetensors", &st[..12], Expect::Fails("header"));
    c.add("cut_in_data.safetensors", &st[..st.len() - 4], Expect::Fails("not a safetensors file"));
    let lie = r#"{"w":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4]}}"#;
    c.add("shape_lie.safetensors", &raw_safetensors(lie, &[0; 4]), Expect::Fails("not a safetensors file"));
    let overflow = r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#;
    c.add("shape_overflow.safetensors", &raw_safetensors(overflow, &[0; 4]), Expect::Fails("not a safetensors file"));
    let ints = safetensors_bytes(&[("w", safetensors::Dtype::I64, vec![2], vec![0; 16])], HashMap::new());
    c.add("int_tensor.safetensors", &ints, Expect::Fails("floating-point"));
    let card_key = add_studio::network::checkpoint::CARD_METADATA_KEY.to_string();
    let bad_card = HashMap::from([(card_key.clone(), "{not json".to_string())]);
    let st_bad_card = safetensors_bytes(&[("w", safetensors::Dtype::F32, vec![2, 2], f32s(4))], bad_card);
    c.add("bad_embedded_card.safetensors", &st_bad_card, Expect::Fails("(embedded card)"));
    let mut card: serde_json::Value =
        serde_json::from_str(&add_studio::network::ArchCard::preset("add-2", 4).unwrap().to_json()).unwrap();
    card["F"] = 3.into();
    let odd_card = HashMap::from([(card_key, card.to_string())]);
    let st_odd = safetensors_bytes(&[("w", safetensors::Dtype::F32, vec![2, 2], f32s(4))], odd_card);
    c.add("invalid_embedded_card.safetensors", &st_odd, Expect::Fails("field `F`"));

    // PyTorch checkpoints: the committed ones (made by torch) and damaged ones made here
    for (name, words) in [
        ("evil_reduce.pth", "`posix.system`"),
        ("whole_module.pth", "`torch.nn.modules.conv.Conv2d`"),
        ("no_state_dict.pth", "no state dict"),
        ("legacy_format.pth", "before 1.6"),
        ("int_tensor.pth", "floating-point"),
    ] {
        c.add(name, &std::fs::read(super::fixture(name)).unwrap(), Expect::Fails(words));
    }
    c.add("cut_half.pth", &good_pth[..good_pth.len() / 2], Expect::Fails("not a readable PyTorch checkpoint"));
    c.add("cut_tail.pth", &good_pth[..good_pth.len() - 10], Expect::Fails("not a readable PyTorch checkpoint"));
    let mut zip_only = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip_only.start_file("notes.txt", zip::write::SimpleFileOptions::default()).unwrap();
    zip_only.write_all(b"hello").unwrap();
    c.add("zip_without_pickle.pth", &zip_only.finish().unwrap().into_inner(), Expect::Fails("without data.pkl"));
    let big = PthTensor { name: "w", storage: "FloatStorage", shape: &[100_000, 100_000], storage_bytes: 16 };
    c.add("shape_lie.pth", &pth(&[big], None), Expect::Fails("needs more than the 16 bytes"));
    let short = state_dict_pickle(&[w(16)], None, 2);
    c.add("short_rebuild_args.pth", &pth_zip(&short, &[vec![0; 16]]), Expect::Fails("needs at least 4 arguments"));
    let mut unknown = b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.".to_vec();
    c.add("eval.pth", &pth_zip(&unknown, &[]), Expect::Fails("`builtins.eval`"));
    unknown.clear();
    unknown.extend_from_slice(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93.");
    c.add("protocol4.pth", &pth_zip(&unknown, &[]), Expect::Fails("opcode"));
    let mut laughs = b"\x80\x02]".to_vec();
    for _ in 0..12 {
        laughs.extend_from_slice(b"q\x00](");
        laughs.extend(std::iter::repeat_n(&b"h\x00"[..], 8).flatten());
        laughs.push(b'e');
    }
    laughs.push(b'.');
    c.add("memo_bomb.pth", &pth_zip(&laughs, &[]), Expect::Fails("objects"));
    let mut deep = b"\x80\x02N".to_vec();
    deep.extend(std::iter::repeat_n(0x85u8, 100_000));
    deep.push(b'.');
    c.add("deep_nesting.pth", &pth_zip(&deep, &[]), Expect::Fails("deep"));
    let mut long_string = b"\x80\x02X\xff\xff\xff\xff".to_vec();
    long_string.extend_from_slice(b"abc.");
    c.add("string_length_lie.pth", &pth_zip(&long_string, &[]), Expect::Fails("truncated pickle"));
    c
}
