//! Records the git commit for `rinit --version` (docker info parses `... version X - git.HASH`),
//! and, where ld.lld links the static binary, drops the unwind tables (link/no-unwind-tables.ld)
//! and, with rust-lld, folds identical functions.
use std::path::Path;
use std::process::Command;

fn main() {
    let hash = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=RINIT_GIT_HASH={hash}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    link_small();
}

/// Link arguments for the linkers that read the script's `INSERT` (GNU ld's implicit scripts
/// cannot): rust-lld, named in .cargo/config.toml, takes them as they are; zig's cc wrapper
/// (scripts/build-cross) passes `-Wl,` ones on to its ld.lld. Any other linker (the host's cc for
/// a glibc build) links as it always did.
fn link_small() {
    println!("cargo:rerun-if-changed=link/no-unwind-tables.ld");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/no-unwind-tables.ld");
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_default();
    let name = Path::new(&linker)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    let args: Vec<String> = if name == "rust-lld" || name == "ld.lld" {
        vec![
            format!("-T{}", script.display()),
            "--icf=all".into(),
            "-zpack-relative-relocs".into(),
        ]
    } else if name.starts_with("zigcc") {
        // zig's cc takes neither --icf nor -z pack-relative-relocs.
        vec![format!("-Wl,-T,{}", script.display())]
    } else {
        return;
    };
    for arg in args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
