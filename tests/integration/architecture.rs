//! The house's shape, enforced: imports between the top of `src/` (its
//! files and folders) run one way, with no circle, and the top holds fewer
//! than a dozen files. See: issue 19.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::repo;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The code of a file without its tests and comments (doc links name
/// modules without depending on them).
fn code(text: &str) -> String {
    let without_tests = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    without_tests
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module names `text` reaches through `prefix` (`crate::`).
fn reached<'t>(text: &'t str, prefix: &str) -> impl Iterator<Item = &'t str> {
    text.match_indices(prefix).filter_map(move |(at, _)| {
        let rest = &text[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(rest.len());
        (end > 0).then(|| &rest[..end])
    })
}

/// The top of `src/` each file belongs to, and what each reaches outside
/// itself: (from, to) → the files that make the edge.
fn edges() -> BTreeMap<(String, String), BTreeSet<String>> {
    let src = repo().join("src");
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src) {
        let relative = file.strip_prefix(&src).expect("under src");
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts == ["lib.rs"] || parts == ["main.rs"] {
            continue;
        }
        let unit = parts[0].trim_end_matches(".rs").to_string();
        let text = code(&std::fs::read_to_string(&file).expect("read"));
        let mut targets: Vec<&str> = reached(&text, "crate::").collect();
        // At the top (`src/x.rs`, `src/x/mod.rs`), `super::` is the crate.
        if parts.len() == 1 || (parts.len() == 2 && parts[1] == "mod.rs") {
            targets.extend(reached(&text, "super::"));
        }
        for target in targets {
            if target != unit {
                edges
                    .entry((unit.clone(), target.to_string()))
                    .or_default()
                    .insert(relative.display().to_string());
            }
        }
    }
    edges
}

/// A circle through `start` in `graph`, if there is one.
fn circle_from(start: &str, graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    fn walk(
        at: &str,
        start: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(next, start, graph, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(start, start, graph, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_import_circle_crosses_the_top_of_src() {
    let edges = edges();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from.clone()).or_default().insert(to.clone());
    }
    for start in graph.keys() {
        if let Some(circle) = circle_from(start, &graph) {
            let mut report = format!("an import circle: {} -> {start}\n", circle.join(" -> "));
            for pair in circle.iter().zip(circle.iter().skip(1).chain([start])) {
                let files = &edges[&(pair.0.clone(), pair.1.clone())];
                report.push_str(&format!("  {} -> {} in {files:?}\n", pair.0, pair.1));
            }
            panic!("{report}");
        }
    }
}

#[test]
fn the_boundary_error_knows_no_stage() {
    let edges = edges();
    let from_error: Vec<&(String, String)> = edges
        .keys()
        .filter(|(from, to)| from == "error" && to != "exit")
        .collect();
    assert!(from_error.is_empty(), "{from_error:?}");
}

#[test]
fn the_top_of_src_holds_fewer_than_a_dozen_files() {
    let files: Vec<String> = std::fs::read_dir(repo().join("src"))
        .expect("src")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() < 12, "{} files: {files:?}", files.len());
}
