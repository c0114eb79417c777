//! The layering of the source tree, read from its `crate::…` and `super::…` paths, so a wrong-way
//! import fails a test instead of waiting for a reviewer:
//! - nothing below the app (`ui`) imports it;
//! - nothing but `cli` (and `main.rs`) imports `cli`;
//! - the top-level folders form no cycle;
//! - the app's own parts form no cycle (panels do not reach back into the app that drives them).
//!
//! The last test plants wrong-way imports in a copy of the tree and checks each rule catches it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path (`["ui", "browser", "table"]`; `[]` for lib.rs and main.rs)
/// and its text with line comments removed.
struct Source {
    file: String,
    module: Vec<String>,
    text: String,
}

fn read_tree(root: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap();
                out.push(source(rel, &std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

fn source(rel: &Path, text: &str) -> Source {
    let mut module: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    let last = module.pop().unwrap();
    match last.as_str() {
        "mod.rs" | "lib.rs" | "main.rs" => {}
        f => module.push(f.trim_end_matches(".rs").to_string()),
    }
    let text = text.lines().map(|l| l.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    Source { file: rel.display().to_string(), module, text }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The path segments that follow `::` at `rest` (stopping at the first non-path character); a
/// brace group (`{a::b, c}`) gives one path per item.
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    let mut segs = Vec::new();
    let mut s = rest;
    loop {
        let s_trim = s.trim_start();
        if let Some(group) = s_trim.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let inner = &group[..end];
            let mut items = Vec::new();
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            return items
                .into_iter()
                .filter(|i| !i.trim().is_empty())
                .flat_map(|i| {
                    let i = i.trim();
                    if i == "self" {
                        return vec![segs.clone()];
                    }
                    paths_after(i).into_iter().map(|p| segs.iter().cloned().chain(p).collect()).collect::<Vec<_>>()
                })
                .collect();
        }
        let len = s_trim.find(|c: char| !is_ident(c)).unwrap_or(s_trim.len());
        if len == 0 {
            break;
        }
        segs.push(s_trim[..len].to_string());
        match s_trim[len..].strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    vec![segs]
}

/// Every module path a file names, made absolute (`super::` resolved against its module).
fn references(src: &Source) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let text = &src.text;
    for (i, _) in text.match_indices("crate::") {
        if text[..i].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        out.extend(paths_after(&text[i + "crate::".len()..]));
    }
    for (i, _) in text.match_indices("super::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue; // the second `super` of `super::super::` is counted from the first
        }
        let mut base = src.module.clone();
        let mut rest = &text[i..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        for p in paths_after(rest) {
            out.push(base.iter().cloned().chain(p).collect());
        }
    }
    out
}

/// Whether `module` (a path under src) is a module of the tree, not an item.
fn is_module(root: &Path, module: &[String]) -> bool {
    let p: PathBuf = module.iter().collect();
    root.join(&p).is_dir() || root.join(&p).with_extension("rs").is_file()
}

/// The first cycle found in `edges`, as its nodes in order.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, edges, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// Every broken rule, one line each (file and the path it names).
fn violations(root: &Path, tree: &[Source]) -> Vec<String> {
    let mut out = Vec::new();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ui: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for src in tree {
        let Some(from) = src.module.first() else { continue }; // lib.rs, main.rs
        for r in references(src) {
            let Some(to) = r.first() else { continue };
            if !is_module(root, &r[..1]) || to == from {
                if to == from && from == "ui" && src.module.len() >= 2 && r.len() >= 2 {
                    // inside ui: an edge between two of its parts (an item of ui itself is "ui")
                    let a = src.module[1].clone();
                    let b = if is_module(root, &r[..2]) { r[1].clone() } else { "ui".to_string() };
                    if a != b {
                        ui.entry(a).or_default().insert(b);
                    }
                }
                continue;
            }
            if to == "ui" && from != "cli" {
                out.push(format!("{}: imports the app ({}) from below it", src.file, r.join("::")));
            }
            if to == "cli" {
                out.push(format!("{}: imports the command line ({}) from outside it", src.file, r.join("::")));
            }
            top.entry(from.clone()).or_default().insert(to.clone());
        }
    }
    if let Some(c) = find_cycle(&top) {
        out.push(format!("top-level modules import each other: {}", c.join(" -> ")));
    }
    // ui/mod.rs is the facade that opens the window: it may name every part, no part names it
    ui.remove("ui");
    if let Some(c) = find_cycle(&ui) {
        out.push(format!("parts of the app import each other: {}", c.join(" -> ")));
    }
    out
}

fn src_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn imports_go_one_way() {
    let root = src_root();
    let v = violations(&root, &read_tree(&root));
    assert!(v.is_empty(), "wrong-way imports:\n{}", v.join("\n"));
}

#[test]
fn the_reader_sees_use_groups_super_paths_and_inline_paths() {
    let s = source(
        Path::new("ui/browser/table.rs"),
        "use super::super::app::StudioApp;\nuse crate::{eval::sweep, jobs::{DatasetRow, Role}};\n\
         let x = crate::data::image_io::load(p); // crate::cli::not_this\nuse super::{self, csv};",
    );
    let r: BTreeSet<String> = references(&s).into_iter().map(|p| p.join("::")).collect();
    for want in [
        "ui::app::StudioApp",
        "eval::sweep",
        "jobs::DatasetRow",
        "jobs::Role",
        "data::image_io::load",
        "ui::browser",
        "ui::browser::csv",
    ] {
        assert!(r.contains(want), "{want} missing from {r:?}");
    }
    assert!(!r.iter().any(|p| p.starts_with("cli")), "comments are not code: {r:?}");
}

#[test]
fn each_rule_fails_on_a_planted_wrong_way_import() {
    let root = src_root();
    let tree = read_tree(&root);
    assert!(tree.len() > 50, "the tree was read ({} files)", tree.len());
    let plant = |file: &str, line: &str| -> Vec<String> {
        let mut t: Vec<Source> = tree
            .iter()
            .map(|s| Source { file: s.file.clone(), module: s.module.clone(), text: s.text.clone() })
            .collect();
        let s = t.iter_mut().find(|s| s.file == file).unwrap_or_else(|| panic!("{file} is in the tree"));
        s.text.push_str(line);
        violations(&root, &t)
    };
    let below_ui = plant("eval/sweep.rs", "\nuse crate::ui::settings::Settings;\n");
    assert!(below_ui.iter().any(|v| v.contains("eval/sweep.rs: imports the app")), "{below_ui:?}");
    assert!(below_ui.iter().any(|v| v.contains("top-level modules import each other")), "{below_ui:?}");
    let cli = plant("engine/runner.rs", "\nfn f() { crate::cli::run(x) }\n");
    assert!(cli.iter().any(|v| v.contains("engine/runner.rs: imports the command line")), "{cli:?}");
    let cycle = plant("network/card/mod.rs", "\nuse crate::engine::Policy;\n");
    assert!(cycle.iter().any(|v| v.contains("top-level modules import each other")), "{cycle:?}");
    let panel = plant("ui/settings.rs", "\nuse super::app::StudioApp;\n");
    assert!(panel.iter().any(|v| v.contains("parts of the app import each other")), "{panel:?}");
}
