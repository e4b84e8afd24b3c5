//! The modules of src/ use each other in one direction only: no module reaches itself again
//! through the modules it uses (log writes lines, voice words them, reap and the rest speak
//! through voice). A cycle would mean two steps of an init's life that cannot be read apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Each module of src/ (main.rs and lib.rs aside) with the modules its non-test code names:
/// `crate::NAME`, `use crate::{NAME, ...}`, or a macro: `say!` is voice's, `text!` and `put!`
/// are log's.
fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules: BTreeSet<String> = fs::read_dir(&src)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .filter(|name| name != "main" && name != "lib")
        .collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let text = fs::read_to_string(src.join(format!("{module}.rs"))).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let mut named = BTreeSet::new();
        for line in code.lines().map(|line| line.split("//").next().unwrap()) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let words: Vec<&str> = match rest.strip_prefix('{') {
                    Some(list) => list.split(['}', ',']).collect(),
                    None => vec![rest],
                };
                for word in words {
                    let word = word.trim();
                    let end = word
                        .find(|c: char| !c.is_alphanumeric() && c != '_')
                        .unwrap_or(word.len());
                    named.insert(word[..end].to_string());
                }
            }
            if line.contains("say!(") {
                named.insert("voice".to_string());
            }
            if line.contains("text!(") || line.contains("put!(") {
                named.insert("log".to_string());
            }
        }
        named.retain(|name| name != module && modules.contains(name));
        graph.insert(module.clone(), named);
    }
    graph
}

/// The modules `start` reaches through what it uses, itself included if it comes back.
fn reached(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&String> = graph[start].iter().collect();
    while let Some(module) = stack.pop() {
        if seen.insert(module.clone()) {
            stack.extend(&graph[module]);
        }
    }
    seen
}

#[test]
fn no_module_reaches_itself_through_the_modules_it_uses() {
    let graph = uses();
    assert!(
        graph["voice"].contains("log"),
        "the reading missed a use: {graph:?}"
    );
    assert!(
        graph["reap"].contains("voice"),
        "the reading missed say!: {graph:?}"
    );
    assert!(
        graph["user"].contains("log"),
        "the reading missed put!: {graph:?}"
    );
    let circles: Vec<&String> = graph
        .keys()
        .filter(|module| reached(&graph, module).contains(*module))
        .collect();
    assert!(
        circles.is_empty(),
        "modules in a circle: {circles:?}; what each uses: {graph:?}"
    );
}
