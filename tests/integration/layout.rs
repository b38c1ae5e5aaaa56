//! The shape of the source tree, checked: which top-level modules may use which,
//! no cycle between them, and no file too long to read in one sitting. Read from
//! the `crate::` paths of every file under `src/` (comments aside).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files longer than this are split by what they hold.
const MAX_LINES: usize = 600;

/// The domain speaks in its own words: these never reach the provider's markup,
/// the HTTP layer or the command line.
const DOMAIN: &[&str] = &["calls", "sms", "dispatch", "retention"];
const EDGES: &[&str] = &["telephony", "web", "cli"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The source without `//` comments (doc comments included) and string literals.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = c;
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Every `(module, path after it)` that `crate::…` names, braces expanded one
/// level: `crate::{a, b::c}` names `a` and `b` (with `c`).
fn crate_paths(code: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let item_path: String = item.split_whitespace().collect();
                        if let Some((head, tail)) = item_path.split_once("::") {
                            found.push((head.to_string(), tail.to_string()));
                        } else if !item_path.is_empty() {
                            found.push((item_path, String::new()));
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let (head, tail) = path.split_once("::").unwrap_or((&path, ""));
            found.push((head.to_string(), tail.to_string()));
        }
    }
    found
}

struct Tree {
    /// module -> modules it uses, each with one file that does (for the message).
    uses: BTreeMap<String, BTreeMap<String, String>>,
    /// `(file, module used, path)` of every use, for the finer rules.
    paths: Vec<(String, String, String)>,
    long: Vec<String>,
}

fn read_tree() -> Tree {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut tree = Tree { uses: BTreeMap::new(), paths: Vec::new(), long: Vec::new() };
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(&src).unwrap().display().to_string();
        let lines = text.lines().count();
        if lines > MAX_LINES {
            tree.long.push(format!("src/{shown} ({lines} lines)"));
        }
        let Some(module) = module_of(&src, file) else { continue };
        for (used, tail) in crate_paths(&code_only(&text)) {
            if used != module && modules.contains(&used) {
                tree.uses.entry(module.clone()).or_default().entry(used.clone()).or_insert_with(|| shown.clone());
                tree.paths.push((shown.clone(), used, tail));
            }
        }
    }
    tree
}

#[test]
fn the_domain_never_reaches_for_the_edges() {
    let tree = read_tree();
    let mut wrong = Vec::new();
    for module in DOMAIN {
        for (used, file) in tree.uses.get(*module).into_iter().flatten() {
            if EDGES.contains(&used.as_str()) {
                wrong.push(format!("{module} uses {used} (src/{file})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_edges_reach_the_database_through_the_domain() {
    let tree = read_tree();
    let wrong: Vec<String> = tree
        .paths
        .iter()
        .filter(|(file, used, tail)| {
            let edge = file.starts_with("web") || file.starts_with("telephony");
            // Telling an outage from other failures is the one exception.
            edge && used == "store" && !tail.to_lowercase().contains("outage")
        })
        .map(|(file, _, tail)| format!("src/{file} uses store::{tail}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_two_top_level_modules_use_each_other() {
    let tree = read_tree();
    // A cycle of any length: a module that reaches itself.
    let mut cycles = Vec::new();
    for start in tree.uses.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in tree.uses.get(&at).into_iter().flat_map(|m| m.keys()) {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(start.clone());
                    cycles.push(cycle.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "{cycles:#?}");
}

#[test]
fn no_source_file_is_too_long_to_read() {
    let tree = read_tree();
    assert!(tree.long.is_empty(), "split by what they hold: {:#?}", tree.long);
}

/// The graph as read, for a look at it: `cargo test layout -- --nocapture`.
#[test]
fn the_module_graph_is_read_from_every_file() {
    let tree = read_tree();
    for (module, used) in &tree.uses {
        println!("{module} -> {}", used.keys().cloned().collect::<Vec<_>>().join(" "));
    }
    // The edges use the domain: a graph read wrong would miss these.
    for (from, to) in [("telephony", "calls"), ("web", "telephony"), ("calls", "store"), ("cli", "calls")] {
        assert!(tree.uses.get(from).is_some_and(|m| m.contains_key(to)), "{from} -> {to} not found");
    }
}

#[test]
fn the_reader_of_paths_finds_what_it_should() {
    let code = code_only(
        "use crate::{a, b::{c, d}, e::f};\nlet x = crate::g::h(); // crate::comment\nlet s = \"crate::string\";\n",
    );
    let found: Vec<String> = crate_paths(&code).into_iter().map(|(m, t)| format!("{m}:{t}")).collect();
    assert_eq!(found, ["a:", "b:{c,d}", "e:f", "g:h"]);
}
