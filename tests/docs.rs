//! The options have three readers that must agree: `rinit --help`, the man page
//! (doc/rinit.1) and the README's option table, compared here long name by long name and
//! variable by variable; and every option and variable the README documents is named by some
//! test that runs the real binary.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Long option names (`--grace`) and variable names (`RINIT_GRACE`) in `text`.
fn names(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let word = |start: usize| -> String {
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    };
    let options = text
        .match_indices("--")
        .map(|(at, _)| word(at + 2))
        .filter(|name| name.len() > 1 && !name.starts_with('-'))
        .map(|name| format!("--{name}"))
        .collect();
    let variables = text
        .match_indices("RINIT_")
        .map(|(at, _)| word(at))
        .collect();
    (options, variables)
}

/// The README's option table, as text.
fn readme_table() -> String {
    let readme = repo_file("README.md");
    let start = readme
        .find("| option | environment | meaning |")
        .expect("the README's option table");
    readme[start..]
        .lines()
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.split('|').take(3).collect::<Vec<_>>().join("|") + "\n")
        .collect()
}

/// The man page's OPTIONS section, with roff's `\-` as plain dashes.
fn man_options() -> String {
    let man = repo_file("doc/rinit.1").replace("\\-", "-");
    let start = man.find(".SH OPTIONS").expect("an OPTIONS section");
    let end = man[start + 1..]
        .find(".SH ")
        .map_or(man.len(), |at| start + 1 + at);
    man[start..end].to_string()
}

fn help() -> String {
    let out = std::process::Command::new(rinit())
        .arg("--help")
        .output()
        .expect("rinit --help");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // Only the option lines: the usage line and the closing notes name no option.
    let start = text.find("Options").expect("an options list");
    let end = text.find("Exit status").expect("the exit status");
    text[start..end].to_string()
}

#[test]
fn help_man_page_and_readme_list_the_same_options_and_variables() {
    let help = names(&help());
    let man = names(&man_options());
    let readme = names(&readme_table());
    assert_eq!(help.0, readme.0, "options: --help against the README");
    assert_eq!(man.0, readme.0, "options: the man page against the README");
    assert_eq!(help.1, readme.1, "variables: --help against the README");
    assert_eq!(
        man.1, readme.1,
        "variables: the man page against the README"
    );
    assert!(readme.0.len() >= 16 && readme.1.len() >= 13, "{readme:?}");
}

#[test]
fn the_man_page_renders_without_a_warning() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/rinit.1");
    let out = std::process::Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .output()
        .expect("man (Debian's man-db)");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "warnings");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--stop-timeout"));
}

#[test]
fn every_documented_option_and_variable_is_named_by_a_test() {
    let tests: String = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"))
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name() != "docs.rs")
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    let table = readme_table();
    let mut untested = Vec::new();
    for row in table.lines().skip(2) {
        let (options, variables) = names(row);
        // A row's option counts as named by its long or its short form.
        let short = row
            .split('`')
            .find(|part| part.len() == 2 && part.starts_with('-'))
            .map(|s| format!("\"{s}\""));
        let named = options
            .iter()
            .any(|long| tests.contains(&format!("\"{long}")))
            || short.is_some_and(|short| tests.contains(&short));
        if !named {
            untested.push(format!("{options:?}"));
        }
        for variable in variables {
            if !tests.contains(&variable) {
                untested.push(variable);
            }
        }
    }
    assert!(untested.is_empty(), "no test names: {untested:?}");
}
