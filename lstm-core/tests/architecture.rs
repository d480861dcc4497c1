//! The crate's map (lib.rs) holds:
//! - each tier uses only the tiers above it (engine ← math ← layers ← training ← support), and
//!   the base modules (error, check, display) use no tier;
//! - no module imports one that imports it back, directly or around a longer circle, inside a
//!   tier too;
//! - no module reaches anything through the crate's root re-exports (`crate::Lstm`): imports
//!   name the module that defines what they use;
//! - no shared file of the recurrent layers names a concrete cell: each cell is its own file,
//!   and the registry is the one table that lists them.
//!
//! Imports are read from the code (tests, comments and strings left out); a path through a
//! folder's `mod.rs`, which only lists and re-exports, is followed to the file that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const TIERS: [&str; 5] = ["engine", "math", "layers", "training", "support"];
const BASE: [&str; 3] = ["error", "check", "display"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module, comments and string literals.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let mut out = String::new();
    for line in text.lines() {
        let mut kept = String::new();
        let mut in_string = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_string {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_string = false;
                }
                continue;
            }
            if c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c == '"' {
                in_string = true;
                kept.push_str("\"\"");
                continue;
            }
            kept.push(c);
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// A module's path from the crate root, e.g. `["layers", "recurrent", "cell"]`; `[]` is lib.rs.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The file of a module, if it exists.
fn file_of(module: &[String]) -> Option<PathBuf> {
    if module.is_empty() {
        return Some(src().join("lib.rs"));
    }
    let base = module.iter().fold(src(), |p, m| p.join(m));
    let file = base.with_extension("rs");
    if file.exists() {
        return Some(file);
    }
    let folder = base.join("mod.rs");
    folder.exists().then_some(folder)
}

/// Whether a module is a folder's list of modules (`mod.rs`) or the crate root.
fn is_hub(module: &[String]) -> bool {
    file_of(module).is_some_and(|f| f.ends_with("mod.rs") || f.ends_with("lib.rs"))
}

/// Every `use` tree of some code, expanded into full paths (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn use_paths(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut out = vec![];
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let is_start = i == 0
            || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
        let public = rest[..i].trim_end().ends_with("pub") || rest[..i].trim_end().ends_with(')');
        rest = &rest[i + 4..];
        if !is_start {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        let tree: String = rest[..end]
            .replace(" as ", "@")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for path in expand(&tree) {
            out.push((public, path));
        }
        rest = &rest[end..];
    }
    out
}

fn expand(tree: &str) -> Vec<Vec<String>> {
    let Some(open) = tree.find('{') else {
        let path: Vec<String> = tree
            .split("::")
            .map(|s| s.split('@').next().unwrap().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        return vec![path];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut parts = vec![];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            if p == "self" {
                expand(prefix.trim_end_matches("::"))
            } else {
                expand(&format!("{prefix}{p}"))
            }
        })
        .collect()
}

/// Paths written inline in code: `crate::a::b`, `super::a`, `self::a`.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            if at > 0 {
                let before = code.as_bytes()[at - 1];
                if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                    continue;
                }
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
    }
    out
}

/// The module a path names from `module`, following re-exports through hubs. `None` for paths
/// outside the crate.
fn resolve(module: &[String], path: &[String], depth: usize) -> Option<(Vec<String>, Vec<String>)> {
    match path.first()?.as_str() {
        "crate" => descend(vec![], &path[1..], depth),
        "super" | "self" => {
            // `self::` stays in the module; each `super::` goes up one.
            let mut module = module.to_vec();
            let mut i = usize::from(path[0] == "self");
            while path.get(i).is_some_and(|p| p == "super") {
                module.pop();
                i += 1;
            }
            descend(module, &path[i..], depth)
        }
        _ => None,
    }
}

fn descend(
    mut at: Vec<String>,
    rest: &[String],
    depth: usize,
) -> Option<(Vec<String>, Vec<String>)> {
    let mut i = 0;
    while i < rest.len() {
        let mut next = at.clone();
        next.push(rest[i].clone());
        if file_of(&next).is_none() {
            break;
        }
        at = next;
        i += 1;
    }
    let items = rest[i..].to_vec();
    // Through a hub's re-export to the module that defines the item.
    if is_hub(&at) && !items.is_empty() && depth < 8 {
        let code = code_of(&file_of(&at).unwrap());
        for (public, path) in use_paths(&code) {
            if public && path.last() == Some(&items[0]) {
                let relative: Vec<String> =
                    if ["crate", "super", "self"].contains(&path[0].as_str()) {
                        path.clone()
                    } else {
                        std::iter::once("self".to_string())
                            .chain(path.iter().cloned())
                            .collect()
                    };
                if let Some(found) = resolve(&at, &relative, depth + 1) {
                    return Some(found);
                }
            }
        }
    }
    Some((at, items))
}

/// Every module and the modules it imports.
fn import_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut files = vec![];
    rust_files(&src(), &mut files);
    let mut graph = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        let code = code_of(&file);
        let hub = is_hub(&module);
        let mut paths: Vec<Vec<String>> = use_paths(&code)
            .into_iter()
            // A hub's re-exports are its interface, not imports.
            .filter(|(public, _)| !(hub && *public))
            .map(|(_, p)| p)
            .collect();
        paths.extend(inline_paths(&code).into_iter().filter(|_| !hub));
        let mut targets = BTreeSet::new();
        for path in paths {
            // A path that stops at a folder (`super::recurrent::{..}`, read inline) names no item.
            if let Some((target, items)) = resolve(&module, &path, 0)
                && target != module
                && !target.is_empty()
                && !(items.is_empty() && is_hub(&target))
            {
                targets.insert(target);
            }
        }
        graph.insert(module, targets);
    }
    graph
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

#[test]
fn each_tier_uses_only_the_tiers_above_it() {
    let mut violations = vec![];
    for (module, targets) in import_graph() {
        let Some(rank) = module
            .first()
            .and_then(|t| TIERS.iter().position(|x| x == t))
        else {
            continue;
        };
        for target in targets {
            let Some(first) = target.first() else {
                continue;
            };
            if let Some(r) = TIERS.iter().position(|x| x == first)
                && r > rank
            {
                violations.push(format!(
                    "{} ({}) uses {} ({})",
                    show(&module),
                    TIERS[rank],
                    show(&target),
                    TIERS[r]
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_base_modules_use_no_tier() {
    for base in BASE {
        let code = code_of(&src().join(format!("{base}.rs")));
        for tier in TIERS {
            assert!(
                !code.contains(&format!("crate::{tier}")),
                "{base} uses {tier}"
            );
        }
    }
}

/// The circles of the import graph: the strongly connected components of two or more modules.
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        seen: &mut BTreeSet<Vec<String>>,
        order: &mut Vec<Vec<String>>,
    ) {
        if !seen.insert(node.clone()) {
            return;
        }
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, seen, order);
        }
        order.push(node.clone());
    }
    let mut seen = BTreeSet::new();
    let mut order = vec![];
    for node in graph.keys() {
        visit(node, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (from, targets) in graph {
        for to in targets {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = vec![];
    for node in order.iter().rev() {
        let mut component = vec![];
        visit(node, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            let mut names: Vec<String> = component.iter().map(|m| show(m)).collect();
            names.sort();
            found.push(names);
        }
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = import_graph();
    assert!(graph.len() > 40, "the graph holds the crate's modules");
    assert!(
        graph[&vec!["layers".to_string(), "lstm".to_string()]].contains(&vec![
            "layers".to_string(),
            "recurrent".to_string(),
            "cell".to_string()
        ]),
        "the reader follows imports through a folder's re-exports"
    );
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "modules that import each other: {found:?}"
    );
}

/// The search for circles finds one where there is one.
#[test]
fn a_circle_is_found() {
    let m = |s: &str| vec![s.to_string()];
    let mut graph = BTreeMap::new();
    graph.insert(m("a"), BTreeSet::from([m("b")]));
    graph.insert(m("b"), BTreeSet::from([m("c")]));
    graph.insert(m("c"), BTreeSet::from([m("a")]));
    graph.insert(m("d"), BTreeSet::from([m("a")]));
    assert_eq!(circles(&graph), vec![vec!["a", "b", "c"]]);
}

#[test]
fn nothing_is_reached_through_the_root() {
    let allowed: Vec<&str> = TIERS.iter().chain(BASE.iter()).copied().collect();
    let mut files = vec![];
    rust_files(&src(), &mut files);
    let mut violations = vec![];
    for file in files.iter().filter(|f| !f.ends_with("lib.rs")) {
        for path in inline_paths(&code_of(file))
            .into_iter()
            .chain(use_paths(&code_of(file)).into_iter().map(|(_, p)| p))
        {
            if path.first().is_some_and(|p| p == "crate")
                && path.get(1).is_some_and(|p| !allowed.contains(&p.as_str()))
            {
                violations.push(format!(
                    "{}: {}",
                    file.strip_prefix(src()).unwrap().display(),
                    path.join("::")
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn no_shared_file_names_a_concrete_cell() {
    let cells = [
        "LstmCell",
        "GruCell",
        "SimpleRnnCell",
        "Lstm",
        "Gru",
        "SimpleRnn",
    ];
    // The cells' own files, and the one table that lists them.
    let own = ["lstm.rs", "gru.rs", "simple_rnn.rs", "registry.rs"];
    let mut files = vec![];
    rust_files(&src().join("layers"), &mut files);
    files.push(src().join("training/io.rs"));
    files.push(src().join("training/summary.rs"));
    let mut violations = vec![];
    for file in files {
        let own_file =
            file.parent() == Some(&src().join("layers")) && own.iter().any(|o| file.ends_with(o));
        // A folder's list of modules re-exports them; that is its interface, not a use.
        if own_file || file.ends_with("mod.rs") {
            continue;
        }
        let code = code_of(&file);
        let words: BTreeSet<&str> = code
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        for cell in cells {
            if words.contains(cell) {
                violations.push(format!(
                    "{} names {cell}",
                    file.strip_prefix(src()).unwrap().display()
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
#[ignore = "prints the import graph"]
fn print_graph() {
    for (module, targets) in import_graph() {
        let targets: Vec<String> = targets.iter().map(|t| show(t)).collect();
        println!("{} -> {}", show(&module), targets.join(", "));
    }
}
