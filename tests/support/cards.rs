//! Architecture cards: not JSON, unknown fields, and valid JSON describing no network or one
//! that would take gigabytes.

use super::{Corpus, Expect};
use std::path::Path;

/// Writes the card corpus into `dir`; `Loads` cases are valid cards.
pub fn corpus(dir: &Path) -> Corpus {
    let mut c = Corpus::new(dir);
    let good: serde_json::Value =
        serde_json::from_str(&add_studio::network::ArchCard::preset("add-2", 4).unwrap().to_json()).unwrap();
    c.add("ok.json", good.to_string().as_bytes(), Expect::Loads(0, 0));
    c.add("empty.json", b"", Expect::Fails("not a valid architecture card"));
    c.add("not_json.json", b"F=4, B=5", Expect::Fails("not a valid architecture card"));
    c.add("truncated.json", &good.to_string().as_bytes()[..100], Expect::Fails("not a valid architecture card"));
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: [(&str, &dyn Fn(&mut serde_json::Value), &'static str); 10] = [
        ("unknown_field.json", &|v| v["colour"] = "red".into(), "unknown field"),
        ("huge_f.json", &|v| v["F"] = 100_000.into(), "field `F`"),
        ("negative_f.json", &|v| v["F"] = (-4).into(), "not a valid architecture card"),
        ("huge_head.json", &|v| v["head"]["width"] = 1_000_000.into(), "field `head`"),
        ("huge_stem.json", &|v| v["stem"]["width"] = 1_000_000.into(), "field `stem`"),
        ("huge_edm.json", &|v| v["edm"]["hidden"] = serde_json::json!([64, 1_000_000]), "field `edm`"),
        ("path_jump.json", &|v| v["path"][3] = 0.into(), "path[3]"),
        ("short_path.json", &|v| v["path"] = serde_json::json!([0, 1]), "field `path`"),
        ("bad_op.json", &|v| v["genotype"][0][1] = 99.into(), "genotype[0]"),
        ("nan_std.json", &|v| v["normalization"]["std"][0] = 0.into(), "normalization.std"),
    ];
    for (name, f, words) in cases {
        c.add(name, edit(f).as_bytes(), Expect::Fails(words));
    }
    let mut big = good.clone();
    big["name"] = "x".repeat(2 << 20).into();
    c.add("two_megabytes.json", big.to_string().as_bytes(), Expect::Fails("a card is a few kilobytes"));
    c
}
