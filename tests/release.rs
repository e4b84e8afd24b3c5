//! scripts/release, checked on its output: two checkouts of the same commit in different
//! directories give the same bytes, every checksum verifies, each binary is a static
//! executable for its architecture, each .deb installs /usr/bin/rinit for its architecture,
//! and the multi-arch image's arm64 variant runs under podman with qemu-user.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh checkout of the current commit in `dir`, released into `dir/out`.
fn release_from_a_checkout(dir: &Scratch) -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let checkout = dir.0.join("rinit");
    run(
        "git",
        &["clone", "--quiet", root, &checkout.display().to_string()],
        &dir.0,
    );
    run("scripts/release", &["out"], &checkout);
    checkout.join("out")
}

/// The ELF machine of an executable, and whether it asks for a program interpreter (dynamic).
fn elf(path: &Path) -> (u16, bool) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{path:?}");
    let wide = bytes[4] == 2;
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let word_at = |at: usize| match wide {
        true => u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize,
        false => u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize,
    };
    let (phoff, phentsize, phnum) = match wide {
        true => (word_at(0x20), u16_at(0x36), u16_at(0x38)),
        false => (word_at(0x1c), u16_at(0x2a), u16_at(0x2c)),
    };
    const PT_INTERP: u32 = 3;
    let dynamic = (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == PT_INTERP
    });
    (u16_at(0x12) as u16, dynamic)
}

#[test]
fn a_release_is_reproducible_verified_static_per_architecture_and_its_arm64_image_runs() {
    if target() != MUSL {
        eprintln!("the release script is tested once, in the run against the x86_64 binary");
        return;
    }
    let (one, two) = (Scratch::new("release-one"), Scratch::new("release-two"));
    let first = release_from_a_checkout(&one);
    let second = release_from_a_checkout(&two);
    let sums = fs::read_to_string(first.join("SHA256SUMS")).unwrap();
    assert_eq!(
        sums,
        fs::read_to_string(second.join("SHA256SUMS")).unwrap(),
        "two checkouts in different directories gave different bytes"
    );
    run("sha256sum", &["--check", "--quiet", "SHA256SUMS"], &first);
    for line in sums.lines() {
        let file = line.split_whitespace().nth(1).unwrap();
        run(
            "sha256sum",
            &["--check", "--quiet", &format!("{file}.sha256")],
            &first,
        );
    }

    let version = env!("CARGO_PKG_VERSION");
    // (uname -m, Docker's name, Debian's, ELF machine)
    for (arch, docker, debian, machine) in [
        ("x86_64", "amd64", "amd64", 62),
        ("aarch64", "arm64", "arm64", 183),
        ("i686", "386", "i386", 3),
    ] {
        let binary = first.join(format!("rinit-{version}-{arch}"));
        assert_eq!(
            elf(&binary),
            (machine, false),
            "{arch}: static, for its machine"
        );
        assert_eq!(
            fs::read(&binary).unwrap(),
            fs::read(first.join(format!("rinit-{docker}"))).unwrap()
        );
        let deb = format!("rinit_{version}_{debian}.deb");
        let info = run("dpkg-deb", &["--field", &deb, "Architecture"], &first);
        assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), debian);
        let listing = run("dpkg-deb", &["--contents", &deb], &first);
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.contains("./usr/bin/rinit"), "{listing}");
        assert!(
            listing.contains("./usr/share/doc/rinit/help.txt"),
            "{listing}"
        );
    }

    // The arm64 variant of the image, under podman with qemu-user: /rinit is the aarch64 one.
    let image = format!(
        "oci-archive:{}:localhost/rinit:{version}",
        first.join(format!("rinit-{version}-image.tar")).display()
    );
    let pulled = run(
        "podman",
        &["pull", "--quiet", "--platform", "linux/arm64", &image],
        &first,
    );
    let id = String::from_utf8_lossy(&pulled.stdout).trim().to_string();
    let out = Command::new("podman")
        .args(["run", "--rm", "--network=none", "--platform", "linux/arm64"])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(["--runtime", "runc", &id, "/rinit", "--version"])
        .output()
        .expect("podman");
    let arch = Command::new("podman")
        .args(["image", "inspect", "--format", "{{.Architecture}}", &id])
        .output()
        .expect("podman");
    let _ = Command::new("podman")
        .args(["rmi", "--force", &id])
        .output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("rinit version "),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&arch.stdout).trim(), "arm64");
}
