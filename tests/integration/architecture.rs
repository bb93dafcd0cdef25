//! The layering of `src/` (ARCHITECTURE.md): every top-level module imports only from
//! its own layer or the layers below, and no two top-level modules import each other,
//! directly or round a longer cycle. The layer list is read from ARCHITECTURE.md, so
//! the map and the check cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from ARCHITECTURE.md's fenced `layers` block: `N module module ...` lines.
fn layers(doc: &str) -> BTreeMap<String, u32> {
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    let mut out = BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let layer: u32 = words
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("a layer line starts with its number: {line}"));
        for module in words {
            assert!(
                out.insert(module.to_string(), layer).is_none(),
                "{module} is listed twice"
            );
        }
    }
    out
}

/// Top-level modules that `source`, a file of module `own`, names: every `crate::x`
/// path and, in a file directly under src/, every `super::x` (the crate root). The
/// crate-root macros `usage!` belongs to `error`, `out!`, `outln!` and `errln!` to `console`.
fn imports(own: &str, top_level_file: bool, source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut prefixes = vec!["crate::"];
    if top_level_file {
        prefixes.push("super::");
    }
    for prefix in prefixes {
        for (at, _) in source.match_indices(prefix) {
            let before = source[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let name: String = source[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let name = match name.as_str() {
                "usage" => "error".to_string(),
                "out" | "outln" | "errln" => "console".to_string(),
                _ => name,
            };
            if !name.is_empty() && name != own && name != "self" {
                out.insert(name);
            }
        }
    }
    out
}

/// The imports of every top-level module of the tree at `src`: module -> modules.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top_level_file = rel.components().count() == 1;
        let module = first.trim_end_matches(".rs").to_string();
        if top_level_file && (module == "lib" || module == "main") {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let found = imports(&module, top_level_file, &source);
        out.entry(module).or_default().extend(found);
    }
    out
}

/// Every import that goes up a layer, every module missing from the list, and every
/// cycle, in words; empty when the tree keeps its layers.
fn violations(
    layers: &BTreeMap<String, u32>,
    graph: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (module, uses) in graph {
        let Some(&own) = layers.get(module) else {
            out.push(format!("src/{module} is in no layer of ARCHITECTURE.md"));
            continue;
        };
        for used in uses {
            match layers.get(used) {
                Some(&theirs) if theirs > own => out.push(format!(
                    "{module} (layer {own}) imports {used} (layer {theirs}): an upward import"
                )),
                Some(_) => {}
                None if graph.contains_key(used) => {
                    out.push(format!("src/{used} is in no layer of ARCHITECTURE.md"))
                }
                // Not a module of this crate (a local variable named `crate::x` does
                // not exist; this is an extern path such as `crate::usage` handled above).
                None => out.push(format!("{module} names crate::{used}, which is no module")),
            }
        }
    }
    // Cycles: depth-first search over the module graph.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        out: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<&str> = path[at..].to_vec();
            cycle.push(node);
            out.push(format!("import cycle: {}", cycle.join(" -> ")));
            return;
        }
        if !done.insert(node) {
            return;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next.as_str()) {
                visit(next, graph, path, done, out);
            }
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, graph, &mut Vec::new(), &mut done, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_import_stays_in_its_layer_or_goes_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let layers = layers(&doc);
    let graph = graph(&root.join("src"));
    let found = violations(&layers, &graph);
    assert!(
        found.is_empty(),
        "the layering is broken:\n{}",
        found.join("\n")
    );
    // Every module the list names exists, so the list is the tree's.
    for module in layers.keys() {
        assert!(
            graph.contains_key(module),
            "ARCHITECTURE.md lists {module}, which src/ does not have"
        );
    }
}

/// The check itself, on a small tree: it must see an upward import, one hidden in a
/// macro path or a `super::` from a top-level file, and a cycle inside one layer.
#[test]
fn the_check_catches_upward_imports_and_cycles() {
    let layers = layers("```layers\n1 error units\n2 core\n3 app cli\n```\n");
    let tree = tempfile::tempdir().unwrap();
    let src = tree.path();
    std::fs::create_dir_all(src.join("core")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod core;").unwrap();
    std::fs::write(src.join("error.rs"), "//! fine\n").unwrap();
    std::fs::write(src.join("units.rs"), "use crate::error::E;").unwrap();
    std::fs::write(
        src.join("core/mod.rs"),
        "use crate::error::E;\nfn f() { crate::cli::parse(); }",
    )
    .unwrap();
    std::fs::write(
        src.join("cli.rs"),
        "use super::app::run;\nuse crate::units::X;",
    )
    .unwrap();
    std::fs::write(src.join("app.rs"), "use crate::cli::Args;").unwrap();
    let found = violations(&layers, &graph(src));
    assert_eq!(
        found,
        [
            "core (layer 2) imports cli (layer 3): an upward import",
            "import cycle: app -> cli -> app",
        ],
        "{found:#?}"
    );
    // A module the list forgets is reported too.
    std::fs::write(src.join("extra.rs"), "//! new\n").unwrap();
    let found = violations(&layers, &graph(src));
    assert!(found.contains(&"src/extra is in no layer of ARCHITECTURE.md".to_string()));
}
