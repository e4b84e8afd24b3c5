//! scripts/release, checked on its output: two checkouts of the same commit in different
//! directories give the same bytes, every checksum verifies, each of the ten binaries is a
//! static executable for its architecture, each .deb installs /usr/bin/rinit and its man page
//! for its architecture with every folder 0755 and passes lintian with no error or warning,
//! Docker loads the docker-save archive, and the multi-arch image's arm64, arm/v7 and s390x
//! variants run under podman with qemu-user. A release without a changelog entry fails.

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

/// A fresh checkout of the current commit in `dir/rinit`.
fn checkout(dir: &Scratch) -> std::path::PathBuf {
    let checkout = dir.0.join("rinit");
    let root = env!("CARGO_MANIFEST_DIR");
    run(
        "git",
        &["clone", "--quiet", root, &checkout.display().to_string()],
        &dir.0,
    );
    checkout
}

/// A fresh checkout of the current commit in `dir`, released into `dir/rinit/out`.
fn release_from_a_checkout(dir: &Scratch) -> std::path::PathBuf {
    let checkout = checkout(dir);
    run("scripts/release", &["out"], &checkout);
    checkout.join("out")
}

/// The ELF machine of an executable, and whether it asks for a program interpreter (dynamic).
/// Read in the file's own byte order: s390x is big-endian.
fn elf(path: &Path) -> (u16, bool) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{path:?}");
    let wide = bytes[4] == 2;
    let big = bytes[5] == 2;
    let number = |at: usize, size: usize| {
        let field = &bytes[at..at + size];
        let fold = |n: u64, b: &u8| n << 8 | u64::from(*b);
        match big {
            true => field.iter().fold(0, fold),
            false => field.iter().rev().fold(0, fold),
        }
    };
    let word = if wide { 8 } else { 4 };
    let (phoff, phentsize, phnum) = match wide {
        true => (number(0x20, word), number(0x36, 2), number(0x38, 2)),
        false => (number(0x1c, word), number(0x2a, 2), number(0x2c, 2)),
    };
    const PT_INTERP: u64 = 3;
    let dynamic = (0..phnum).any(|i| number((phoff + i * phentsize) as usize, 4) == PT_INTERP);
    (number(0x12, 2) as u16, dynamic)
}

#[test]
fn a_release_without_a_changelog_entry_for_its_version_fails_at_once() {
    if target() != MUSL {
        skip("the release script is tested once, in the run against the x86_64 binary");
        return;
    }
    let dir = Scratch::new("release-no-changelog");
    let checkout = checkout(&dir);
    let changelog = checkout.join("CHANGELOG.md");
    let text = fs::read_to_string(&changelog).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    fs::write(
        &changelog,
        text.replace(&format!("## [{version}]"), "## [0.0.0]"),
    )
    .unwrap();
    let out = Command::new("scripts/release")
        .arg("out")
        .current_dir(&checkout)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("release: CHANGELOG.md has no '## [{version}]' entry; add one first\n")
    );
    assert!(!checkout.join("out").exists(), "nothing was built");
}

#[test]
fn a_release_is_reproducible_verified_static_per_architecture_and_its_images_run() {
    if target() != MUSL {
        skip("the release script is tested once, in the run against the x86_64 binary");
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
    // (uname -m, Docker's name, Debian's, ELF machine): every line of scripts/targets.
    for (arch, docker, debian, machine) in [
        ("x86_64", "amd64", Some("amd64"), 62),
        ("i686", "386", Some("i386"), 3),
        ("aarch64", "arm64", Some("arm64"), 183),
        ("armv7l", "armv7", Some("armhf"), 40),
        ("armv6l", "armv6", None, 40),
        ("armv5tel", "armv5", Some("armel"), 40),
        ("ppc64le", "ppc64le", Some("ppc64el"), 21),
        ("s390x", "s390x", Some("s390x"), 22),
        ("riscv64", "riscv64", Some("riscv64"), 243),
        ("mips64", "mips64le", Some("mips64el"), 8),
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
        supply_chain_of(&first, &binary, &format!("rinit-{version}-{arch}.cdx.json"));
        let docker_archive = first.join(format!("rinit-{version}-docker-{docker}.tar"));
        // Its config names its own platform (podman 4.3 alone would say arm/v7 for every ARM).
        let platform = Command::new("python3")
            .arg("-c")
            .arg(DOCKER_ARCHIVE_PLATFORM)
            .arg(&docker_archive)
            .output()
            .expect("python3");
        let expected = match docker.strip_prefix("arm") {
            Some(variant @ ("v7" | "v6" | "v5")) => format!("arm {variant}"),
            _ => String::new(),
        };
        if !expected.is_empty() {
            assert_eq!(
                String::from_utf8_lossy(&platform.stdout).trim(),
                expected,
                "{docker_archive:?}: {}",
                String::from_utf8_lossy(&platform.stderr)
            );
        }
        let Some(debian) = debian else { continue };
        let deb = format!("rinit_{version}_{debian}.deb");
        let info = run("dpkg-deb", &["--field", &deb, "Architecture"], &first);
        assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), debian);
        let listing = run("dpkg-deb", &["--contents", &deb], &first);
        let listing = String::from_utf8_lossy(&listing.stdout);
        for file in [
            "./usr/bin/rinit",
            "./usr/share/man/man1/rinit.1.gz",
            "./usr/share/doc/rinit/copyright",
            "./usr/share/doc/rinit/changelog.Debian.gz",
            "./usr/share/doc/rinit/changelog.gz",
        ] {
            assert!(listing.contains(file), "{deb}: no {file} in {listing}");
        }
        // lintian: no error and no warning (informational notes are allowed). Its temporary
        // files (which it leaves behind) go to the scratch folder, removed with it.
        let lintian_tmp = one.0.join("lintian-tmp");
        fs::create_dir_all(&lintian_tmp).unwrap();
        let lint = Command::new("lintian")
            .args(["--tag-display-limit", "0", &deb])
            .env("TMPDIR", &lintian_tmp)
            .current_dir(&first)
            .output()
            .expect("lintian (Debian's package)");
        let report = String::from_utf8_lossy(&lint.stdout);
        assert!(
            lint.status.success()
                && !report
                    .lines()
                    .any(|l| l.starts_with("E:") || l.starts_with("W:")),
            "lintian {deb}: {report}{}",
            String::from_utf8_lossy(&lint.stderr)
        );
        // Every folder, the root included, is readable by all: `dpkg-deb -x x.deb /` in an
        // image must not leave / closed to other users.
        for line in listing.lines().filter(|l| l.starts_with('d')) {
            assert!(line.starts_with("drwxr-xr-x "), "{deb}: {line}");
        }
    }

    // Docker 20.10 cannot `docker load` the OCI archive: the docker-save archive of the
    // host's platform loads, and an image built from it with the classic builder runs.
    docker_loads_and_copies_from_the_release(&first, version);

    // Variants of the image under podman with qemu-user: each /rinit is its platform's
    // (arm64, each 32-bit ARM variant, and big-endian s390x), found by its index entry.
    for (platform, architecture, machine) in [
        ("linux/arm64", "arm64", "aarch64"),
        ("linux/arm/v7", "arm", "armv7l"),
        ("linux/arm/v6", "arm", "armv6l"),
        ("linux/arm/v5", "arm", "armv5tel"),
        ("linux/s390x", "s390x", "s390x"),
    ] {
        run_image_variant(&first, version, platform, architecture, machine);
    }
}

/// The crates in `binary` three ways, which must agree: the list cargo-auditable embedded in it
/// (its .dep-v0 section), its SBOM (`sbom`, validated against the CycloneDX 1.5 schema, with the
/// binary's SHA-256), and `cargo tree -e normal` for its target (named in the SBOM).
fn supply_chain_of(dist: &Path, binary: &Path, sbom: &str) {
    let python = |script: &str, args: &[&str]| -> String {
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let lines = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines().map(str::to_string).collect()
    };
    let sbom_path = dist.join(sbom).display().to_string();
    let embedded = python(AUDIT_DATA, &[&binary.display().to_string()]);
    let listed = python(SBOM_CRATES, &[&sbom_path, &binary.display().to_string()]);
    let mut listed = listed.lines();
    let target = listed.next().expect("the SBOM's target").to_string();
    let listed: std::collections::BTreeSet<String> = listed.map(str::to_string).collect();
    assert_eq!(
        lines(&embedded),
        listed,
        "{sbom}: the binary's own list against the SBOM"
    );
    let tree = Command::new(env!("CARGO"))
        .args([
            "tree", "--quiet", "-e", "normal", "-p", "rinit", "--prefix", "none",
        ])
        .args(["--target", &target, "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    let tree: std::collections::BTreeSet<String> = String::from_utf8_lossy(&tree.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some(format!("{name} {version}"))
        })
        .collect();
    assert_eq!(
        listed, tree,
        "{sbom}: against cargo tree -e normal --target {target}"
    );
    // The schema the validator ships: nothing is downloaded.
    let tools = Command::new("scripts/supply-tools")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("scripts/supply-tools");
    let validator =
        Path::new(String::from_utf8_lossy(&tools.stdout).trim()).join("cyclonedx-python3");
    let out = Command::new(validator)
        .arg("-c")
        .arg(VALIDATE)
        .arg(&sbom_path)
        .output()
        .expect("the CycloneDX validator");
    assert!(
        out.status.success(),
        "{sbom}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prints `name version` for each crate of the .dep-v0 section (zlib-compressed JSON) of the
/// ELF file named by argv[1], in its own byte order.
const AUDIT_DATA: &str = r#"
import json, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
wide, e = data[4] == 2, ">" if data[5] == 2 else "<"
shoff = struct.unpack_from(e + ("Q" if wide else "I"), data, 0x28 if wide else 0x20)[0]
size, count, names = struct.unpack_from(e + "HHH", data, 0x3A if wide else 0x2E)
def section(i):
    fields = struct.unpack_from(e + ("IIQQQQ" if wide else "IIIIII"), data, shoff + i * size)
    return fields[0], fields[4], fields[5]
strings = section(names)[1]
for i in range(count):
    name, offset, length = section(i)
    if data[strings + name:data.index(b"\0", strings + name)] == b".dep-v0":
        for p in json.loads(zlib.decompress(data[offset:offset + length]))["packages"]:
            print(p["name"], p["version"])
"#;

/// Prints the SBOM's target, then `name version` for rinit and each component; fails unless
/// the SBOM names the SHA-256 of the binary (argv[2]) and a license for every component.
const SBOM_CRATES: &str = r#"
import hashlib, json, sys
bom = json.load(open(sys.argv[1]))
main = bom["metadata"]["component"]
digest = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert main["hashes"] == [{"alg": "SHA-256", "content": digest}], main.get("hashes")
print([p["value"] for p in main["properties"] if p["name"] == "rinit:release:target"][0])
print(main["name"], main["version"])
for c in bom["components"]:
    assert c.get("licenses"), c["name"]
    print(c["name"], c["version"])
"#;

/// Prints `architecture variant` from the config of the image in the docker-save archive
/// named by argv[1].
const DOCKER_ARCHIVE_PLATFORM: &str = r#"
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as archive:
    manifest = json.load(archive.extractfile("./manifest.json"))
    config = json.load(archive.extractfile("./" + manifest[0]["Config"]))
print(config["architecture"], config.get("variant", ""))
"#;

/// Validates the SBOM named by argv[1] against the CycloneDX 1.5 JSON schema.
const VALIDATE: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
sys.exit(f"invalid: {errors}" if errors else 0)
"#;

/// `docker load` of rinit-VERSION-docker-amd64.tar into a private dockerd, then a classic
/// `docker build` of `COPY --from=localhost/rinit:VERSION`, run.
fn docker_loads_and_copies_from_the_release(dist: &Path, version: &str) {
    let engine = common::engine::Engine::start();
    let archive = dist.join(format!("rinit-{version}-docker-amd64.tar"));
    let loaded = engine.check(&["load", "--input", &archive.display().to_string()]);
    let name = format!("localhost/rinit:{version}");
    assert!(loaded.contains(&name), "{loaded}");
    engine.made.lock().unwrap().push(("rmi", name.clone()));
    let context = Scratch::new("docker-copy-from");
    fs::write(
        context.0.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY --from={name} /rinit /rinit\nENTRYPOINT [\"/rinit\", \"--\"]\n"
        ),
    )
    .unwrap();
    let tag = format!("rinit-copy-from-{}:latest", std::process::id());
    engine.made.lock().unwrap().push(("rmi", tag.clone()));
    engine.check(&[
        "build",
        "--quiet",
        "--tag",
        &tag,
        &context.0.display().to_string(),
    ]);
    let out = engine.check(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "/rinit",
        "--version",
    ]);
    assert!(out.starts_with("rinit version "), "{out}");
}

/// Pulls `platform`'s variant of the release's image, checks its architecture, that its /rinit
/// is the same file as `rinit-VERSION-MACHINE`, and runs its /rinit --version.
fn run_image_variant(
    dist: &Path,
    version: &str,
    platform: &str,
    architecture: &str,
    machine: &str,
) {
    let image = format!(
        "oci-archive:{}:localhost/rinit:{version}",
        dist.join(format!("rinit-{version}-image.tar")).display()
    );
    let pulled = run(
        "podman",
        &["pull", "--quiet", "--platform", platform, &image],
        dist,
    );
    let id = String::from_utf8_lossy(&pulled.stdout).trim().to_string();
    let out = Command::new("podman")
        .args(["run", "--rm", "--network=none", "--platform", platform])
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
    let copy = Scratch::new("image-variant");
    let created = Command::new("podman")
        .args(["create", "--platform", platform, &id])
        .output()
        .expect("podman create");
    let container = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let copied = Command::new("podman")
        .args(["cp", &format!("{container}:/rinit"), &copy.path("rinit")])
        .status()
        .expect("podman cp");
    let _ = Command::new("podman")
        .args(["rm", "--force", &container])
        .output();
    assert!(copied.success(), "{platform}: podman cp");
    assert_eq!(
        fs::read(copy.path("rinit")).unwrap(),
        fs::read(dist.join(format!("rinit-{version}-{machine}"))).unwrap(),
        "{platform}: the image's /rinit is {machine}'s"
    );
    let _ = Command::new("podman")
        .args(["rmi", "--force", &id])
        .output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("rinit version "),
        "{platform}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&arch.stdout).trim(),
        architecture,
        "{platform}"
    );
}
