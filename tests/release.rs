//! scripts/release and scripts/verify-release, checked on their output: a release rebuilt by
//! verify-release in a checkout with another folder name and path, another HOME, CARGO_HOME,
//! RUSTUP_HOME and toolchain install name, umask, locale, time zone and host name gives the same
//! bytes, file by file; every checksum verifies; the provenance's subjects are SHA256SUMS and it
//! passes in-toto's and SLSA's definitions; the minisign signatures verify and a flipped byte
//! anywhere is caught; each of the ten binaries is a static executable for its architecture,
//! each .deb installs /usr/bin/rinit and its man page for its architecture with every folder
//! 0755 and passes lintian with no error or warning, Docker loads the docker-save archive, and
//! the multi-arch image's arm64, arm/v7 and s390x variants run under podman with qemu-user.
//! What the scripts refuse (no changelog entry, a modified tree, an unusable key, an output
//! folder that is not theirs, bad arguments) fails at once with one line.

mod common;

use common::*;
use std::ffi::OsStr;
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

/// `program args` in `dir`, with `env` added: its exit code, stdout and stderr.
fn outcome(
    program: impl AsRef<OsStr>,
    args: &[&str],
    env: &[(&str, &str)],
    dir: &Path,
) -> (Option<i32>, String, String) {
    let out = Command::new(program.as_ref())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{:?}: {e}", program.as_ref()));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `scripts/release`'s own arguments, run in `checkout`: its exit code and stderr.
fn release_fails(checkout: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let (code, _, stderr) = outcome("scripts/release", args, env, checkout);
    (code, stderr)
}

/// `script` run by the Python `interpreter` with `args`, which must succeed: its stdout.
fn python(interpreter: impl AsRef<OsStr>, script: &str, args: &[&str], what: &str) -> String {
    let mut all = vec!["-c", script];
    all.extend(args);
    let (code, stdout, stderr) = outcome(interpreter, &all, &[], Path::new("."));
    assert_eq!(code, Some(0), "{what}: {stdout}{stderr}");
    stdout
}

/// A copy of the release `dist`, in the new folder `to`.
fn copy_release(dist: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(dist).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The toolchain running this test: its folder (rustc's sysroot).
fn sysroot() -> String {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `command` run as on another honest machine, in `dir`: another HOME and TMPDIR (with a space
/// in their paths), a CARGO_HOME of its own
/// (crates.io's index and downloaded crates copied, sources unpacked anew), a RUSTUP_HOME whose
/// toolchain is this one under another install name (hard links: `1.95.0-...` where this is
/// `stable-...`), umask 077, a UTF-8 locale, a time zone 5:45 ahead of UTC and another host name
/// (a UTS namespace). XDG_CACHE_HOME stays this machine's: the pinned tools of
/// scripts/cross-tools and scripts/supply-tools, and zig's cache, are not installed twice.
fn elsewhere(dir: &Scratch, command: &[&str]) -> Command {
    let home = std::env::var("HOME").unwrap();
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or(format!("{home}/.cargo"));
    // Paths with a space: the checkout verify-release makes goes under TMPDIR.
    let new_home = dir.0.join("home of mine");
    let tmp = dir.0.join("tmp dir");
    fs::create_dir_all(&tmp).unwrap();
    let new_cargo = dir.0.join("cargo");
    let toolchains = dir.0.join("rustup/toolchains");
    fs::create_dir_all(&new_home).unwrap();
    fs::create_dir_all(new_cargo.join("registry")).unwrap();
    fs::create_dir_all(&toolchains).unwrap();
    for part in ["index", "cache"] {
        let from = format!("{cargo_home}/registry/{part}");
        if Path::new(&from).exists() {
            run("cp", &["-a", &from, "registry/"], &new_cargo);
        }
    }
    let version = Command::new("rustc").arg("-vV").output().expect("rustc");
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let field = |name: &str| {
        version
            .lines()
            .find_map(|l| l.strip_prefix(name).map(str::to_string))
            .unwrap()
    };
    // Named as `rustup toolchain install 1.95.0` names it; this one is `stable-...`.
    let mut renamed = format!("{}-{}", field("release: "), field("host: "));
    if sysroot().ends_with(&renamed) {
        renamed = format!("stable-{}", field("host: "));
    }
    run("cp", &["-al", &sysroot(), &renamed], &toolchains);
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--uts",
        "sh",
        "-c",
        "hostname rinit-elsewhere && umask 077 && exec \"$@\"",
        "sh",
    ])
    .args(command)
    .env("HOME", &new_home)
    .env("CARGO_HOME", &new_cargo)
    .env("RUSTUP_HOME", dir.0.join("rustup"))
    .env("RUSTUP_TOOLCHAIN", &renamed)
    .env("XDG_CACHE_HOME", format!("{home}/.cache"))
    .env("LC_ALL", "C.UTF-8")
    .env("TZ", "Asia/Kathmandu")
    .env("SOURCE_DATE_EPOCH", "1");
    cmd
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
fn release_and_verify_release_refuse_bad_input_with_one_line_before_building() {
    if target() != MUSL {
        skip("the release script is tested once, in the run against the x86_64 binary");
        return;
    }
    let dir = Scratch::new("release-refusals");
    let checkout = checkout(&dir);
    let usage = "usage: scripts/release [-q] [--dirty] [OUTPUT_DIR]\n";
    assert_eq!(
        release_fails(&checkout, &["--bogus"], &[]),
        (Some(2), usage.to_string())
    );
    let missing = dir.0.join("no-such-key");
    let key = missing.display().to_string();
    assert_eq!(
        release_fails(&checkout, &["out"], &[("MINISIGN_KEY", &key)]),
        (
            Some(1),
            format!("release: MINISIGN_KEY names {key}, which cannot be read\n")
        )
    );
    // A key that is not one, and one whose password is not given: before any build.
    fs::write(dir.0.join("not-a-key"), "hello\n").unwrap();
    fs::write(dir.0.join("twice"), "secret\nsecret\n").unwrap();
    run(
        "sh",
        &["-c", "minisign -G -p locked.pub -s locked.key < twice"],
        &dir.0,
    );
    for key in ["not-a-key", "locked.key"] {
        let key = dir.0.join(key).display().to_string();
        assert_eq!(
            release_fails(&checkout, &["out"], &[("MINISIGN_KEY", &key)]),
            (
                Some(1),
                format!(
                    "release: MINISIGN_KEY {key} cannot be used: not a minisign secret key, or it \
                     has a password and MINISIGN_PASSWORD_FILE is unset or wrong\n"
                )
            )
        );
    }
    // The output folder is emptied first: never the checkout, nor a folder that is not a
    // release.
    let root = checkout.display().to_string();
    assert_eq!(
        release_fails(&checkout, &["."], &[]),
        (
            Some(1),
            format!("release: OUTPUT_DIR {root} holds the checkout; give a folder of its own\n")
        )
    );
    assert_eq!(
        release_fails(&checkout, &["src"], &[]),
        (
            Some(1),
            format!(
                "release: OUTPUT_DIR {root}/src exists and is not an earlier release; give a new \
                 or empty folder\n"
            )
        )
    );
    assert!(checkout.join("src/main.rs").exists() && checkout.join(".git").exists());
    let dirty = (
        Some(1),
        "release: the checkout has changes not committed (git status); commit them, or pass \
         --dirty to build a release marked dirty, which no one can rebuild\n"
            .to_string(),
    );
    // A new file not yet added is a change: the commit would not have it.
    fs::write(checkout.join("src/forgotten.rs"), "\n").unwrap();
    assert_eq!(release_fails(&checkout, &["out"], &[]), dirty);
    fs::remove_file(checkout.join("src/forgotten.rs")).unwrap();
    fs::write(checkout.join("LICENSE"), "changed\n").unwrap();
    assert_eq!(release_fails(&checkout, &["out"], &[]), dirty);
    // No release without its changelog entry (checked first of all).
    let changelog = checkout.join("CHANGELOG.md");
    let text = fs::read_to_string(&changelog).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    fs::write(
        &changelog,
        text.replace(&format!("## [{version}]"), "## [0.0.0]"),
    )
    .unwrap();
    assert_eq!(
        release_fails(&checkout, &["out"], &[]),
        (
            Some(1),
            format!("release: CHANGELOG.md has no '## [{version}]' entry; add one first\n")
        )
    );
    assert!(!checkout.join("out").exists(), "nothing was built");

    let verify = |args: &[&str]| {
        let (code, _, stderr) = outcome("scripts/verify-release", args, &[], &checkout);
        (code, stderr)
    };
    let refused = |why: &str| (Some(2), format!("verify-release: {why}\n"));
    assert_eq!(
        verify(&[]),
        refused("usage: scripts/verify-release DIR [OTHER]")
    );
    let release = dir.0.join("release");
    fs::create_dir(&release).unwrap();
    let path = release.display().to_string();
    let empty = dir.0.join("empty").display().to_string();
    fs::create_dir(&empty).unwrap();
    assert_eq!(
        verify(&[&path, &empty]),
        refused(&format!("no files in {path} nor in {empty}"))
    );
    assert_eq!(
        verify(&[&path]),
        refused(&format!(
            "no rinit-VERSION.intoto.jsonl in {path}: not a release, or one made before provenance"
        ))
    );
    let statement = |commit: &str, tree: &str| {
        format!(
            r#"{{"predicate":{{"buildDefinition":{{"externalParameters":{{"commit":"{commit}","treeState":"{tree}","repository":""}}}}}}}}"#
        )
    };
    let provenance = release.join("rinit-0.1.0.intoto.jsonl");
    fs::write(&provenance, "not json\n").unwrap();
    assert_eq!(
        verify(&[&path]),
        refused(&format!(
            "{}: not a provenance statement scripts/release wrote",
            provenance.display()
        ))
    );
    fs::write(&provenance, statement(&"0".repeat(40), "dirty")).unwrap();
    assert_eq!(
        verify(&[&path]),
        refused(&format!(
            "{path} was built from a work tree with uncommitted changes: it cannot be rebuilt"
        ))
    );
    fs::write(&provenance, statement(&"0".repeat(40), "clean")).unwrap();
    assert_eq!(
        verify(&[&path]),
        refused(&format!(
            "this repository has no commit {} (git fetch, then try again)",
            "0".repeat(40)
        ))
    );
}

#[test]
fn a_release_is_reproducible_verified_static_per_architecture_and_its_images_run() {
    if target() != MUSL {
        skip("the release script is tested once, in the run against the x86_64 binary");
        return;
    }
    let (one, two) = (Scratch::new("release-one"), Scratch::new("release-two"));
    // A throwaway key with a password, given in a file, signs the first release.
    fs::write(one.0.join("password"), "throwaway\n").unwrap();
    fs::write(one.0.join("twice"), "throwaway\nthrowaway\n").unwrap();
    run(
        "sh",
        &["-c", "minisign -G -p key.pub -s key.secret < twice"],
        &one.0,
    );
    let checkout = checkout(&one);
    let released = Command::new("scripts/release")
        .arg("out")
        .env("MINISIGN_KEY", one.0.join("key.secret"))
        .env("MINISIGN_PASSWORD_FILE", one.0.join("password"))
        .current_dir(&checkout)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&released.stdout);
    let stderr = String::from_utf8_lossy(&released.stderr);
    assert!(released.status.success(), "{said}{stderr}");
    // A line per step, counted; nothing on stderr (no warning to mistake for an error).
    let steps: Vec<&str> = said.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(steps.len(), 12, "{said}");
    assert_eq!(steps[2], "[3/12] aarch64: build, SBOM, .deb", "{said}");
    assert_eq!(steps[4], "[5/12] armv6l: build, SBOM", "{said}");
    assert!(steps[11].starts_with("[12/12] checksums"), "{said}");
    assert!(
        said.lines()
            .last()
            .unwrap()
            .contains(", signed (SHA256SUMS.minisig"),
        "{said}"
    );
    assert_eq!(stderr, "", "stderr");
    let first = checkout.join("out");
    signatures_verify_and_a_flipped_byte_fails(&first, &one.0.join("key.pub"));
    provenance_names_every_file_and_validates(&first, &checkout);
    verify_release_reports_each_difference(&first, &two);

    // The rebuild, as on another machine, from a checkout verify-release makes.
    let verify = format!("{}/scripts/verify-release", checkout.display());
    let out = elsewhere(&two, &[&verify, &first.display().to_string()])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the rebuild differs: {report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("[1/12]"),
        "verify-release's -q release: {report}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, "", "verify-release's stderr");
    let sums = fs::read_to_string(first.join("SHA256SUMS")).unwrap();
    // Each file, its .sha256, SHA256SUMS and the provenance; no signature.
    let files = 2 * sums.lines().count() + 2;
    assert!(
        report.ends_with(&format!(
            "verify-release: {files} of {files} files identical\n"
        )),
        "{report}"
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

/// The README's check: `minisign -Vm SHA256SUMS -p KEY`, then `sha256sum --check`; the
/// provenance's own signature too. Then one byte flipped, in turn, in SHA256SUMS, in the
/// provenance and in a binary: the first two fail minisign, the third sha256sum.
fn signatures_verify_and_a_flipped_byte_fails(dist: &Path, public: &Path) {
    let key = public.display().to_string();
    let provenance = format!("rinit-{}.intoto.jsonl", env!("CARGO_PKG_VERSION"));
    for file in ["SHA256SUMS", &provenance] {
        let (code, stdout, stderr) = outcome("minisign", &["-Vm", file, "-p", &key], &[], dist);
        assert_eq!(code, Some(0), "{file}: {stdout}{stderr}");
    }
    run("sha256sum", &["--check", "--quiet", "SHA256SUMS"], dist);
    let binary = format!("rinit-{}-aarch64", env!("CARGO_PKG_VERSION"));
    for file in ["SHA256SUMS", provenance.as_str(), binary.as_str()] {
        let copy = Scratch::new("flipped");
        copy_release(dist, &copy.0);
        let mut bytes = fs::read(copy.0.join(file)).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        fs::write(copy.0.join(file), bytes).unwrap();
        let signed = outcome("minisign", &["-Vm", file, "-p", &key], &[], &copy.0).0 == Some(0);
        let summed = outcome(
            "sha256sum",
            &["--check", "--quiet", "SHA256SUMS"],
            &[],
            &copy.0,
        )
        .0 == Some(0);
        match file {
            "SHA256SUMS" => assert!(!signed, "a changed SHA256SUMS verified"),
            f if f == provenance => assert!(!signed, "a changed provenance verified"),
            _ => assert!(!summed, "a changed binary passed sha256sum --check"),
        }
    }
}

/// The provenance: one line, an in-toto Statement v1 whose subjects are exactly SHA256SUMS'
/// files and digests, with a SLSA Provenance v1 predicate naming `checkout`'s commit, a clean tree,
/// Cargo.lock's digest and rustc's version; validated by in-toto-attestation (pinned in
/// scripts/supply-tools.requirements): the Statement's rules, and both the Statement and its
/// predicate parsed strictly against the published protobuf definitions (an unknown or
/// mistyped field fails).
fn provenance_names_every_file_and_validates(dist: &Path, checkout: &Path) {
    let provenance = dist.join(format!("rinit-{}.intoto.jsonl", env!("CARGO_PKG_VERSION")));
    let text = fs::read_to_string(&provenance).unwrap();
    assert_eq!(text.lines().count(), 1, "one statement, one line");
    let commit = run("git", &["rev-parse", "HEAD"], checkout).stdout;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    let lock = run("sha256sum", &["Cargo.lock"], checkout).stdout;
    let lock = String::from_utf8_lossy(&lock)[..64].to_string();
    let sums = dist.join("SHA256SUMS").display().to_string();
    let args = [&provenance.display().to_string(), &sums, &commit, &lock];
    validate(PROVENANCE, &args.map(String::as_str), "the provenance");
}

/// Runs `script` with the pinned validators' Python (scripts/supply-tools), which must succeed.
fn validate(script: &str, args: &[&str], what: &str) {
    let tools = outcome(
        "scripts/supply-tools",
        &[],
        &[],
        Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    let interpreter = Path::new(tools.1.trim()).join("validators-python3");
    python(interpreter, script, args, what);
}

/// argv: the statement, SHA256SUMS, the commit, Cargo.lock's sha256.
const PROVENANCE: &str = r#"
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
path, sums, commit, lock = sys.argv[1:]
text = open(path).read()
statement = json_format.Parse(text, statement_pb2.Statement())
Statement.copy_from_pb(statement).validate()
assert statement.predicate_type == "https://slsa.dev/provenance/v1", statement.predicate_type
predicate = json_format.Parse(json.dumps(json.loads(text)["predicate"]), provenance_pb2.Provenance())
definition = predicate.build_definition
assert definition.build_type and predicate.run_details.builder.id, "SLSA's required fields"
listed = sorted(tuple(line.split("  ", 1)[::-1]) for line in open(sums).read().splitlines())
subjects = sorted((s.name, s.digest["sha256"]) for s in statement.subject)
assert subjects == listed, (subjects, listed)
parameters = definition.external_parameters
assert parameters["commit"] == commit and parameters["treeState"] == "clean", parameters
found = {d.name: d for d in definition.resolved_dependencies}
assert found["source"].digest["gitCommit"] == commit, found["source"]
assert found["Cargo.lock"].digest["sha256"] == lock, found["Cargo.lock"]
assert found["rustc"].uri.startswith("pkg:generic/rustc@"), found["rustc"]
for tool in ["cargo", "cargo-auditable", "cargo-cyclonedx", "ziglang", "cargo-zigbuild", "podman", "dpkg"]:
    assert found[tool].annotations["version"] and found[tool].uri.startswith("pkg:"), found[tool]
# The specification's rule, which the library leaves out: a uri, a digest or a content each.
for d in definition.resolved_dependencies:
    assert d.uri or d.digest or d.content, d
internal = definition.internal_parameters
assert internal["SOURCE_DATE_EPOCH"] and "--remap-path-prefix" in internal["RUSTFLAGS"], internal
"#;

/// scripts/verify-release DIR OTHER, without a build: a copy of `dist` with one byte of a
/// binary flipped and one file gone is reported file by file, with the offset, and exits 1;
/// the copy unchanged, it exits 0.
fn verify_release_reports_each_difference(dist: &Path, scratch: &Scratch) {
    let version = env!("CARGO_PKG_VERSION");
    let copy = scratch.0.join("copy");
    copy_release(dist, &copy);
    let verify = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/verify-release");
    let (one, other) = (dist.display().to_string(), copy.display().to_string());
    let compare = || {
        let (code, stdout, _) = outcome(&verify, &[&one, &other], &[], dist);
        (code, stdout)
    };
    let (code, report) = compare();
    assert_eq!(code, Some(0), "{report}");
    let binary = copy.join(format!("rinit-{version}-s390x"));
    let mut bytes = fs::read(&binary).unwrap();
    bytes[4242] ^= 0x80;
    fs::write(&binary, bytes).unwrap();
    fs::remove_file(copy.join(format!("rinit-{version}-riscv64.cdx.json"))).unwrap();
    let (code, report) = compare();
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains(&format!(
            "different  rinit-{version}-s390x (first at byte 4242)\n"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "missing    rinit-{version}-riscv64.cdx.json (not in {})\n",
            copy.display()
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("identical  rinit-{version}-x86_64\n")),
        "{report}"
    );
}

/// The crates in `binary` three ways, which must agree: the list cargo-auditable embedded in it
/// (its .dep-v0 section), its SBOM (`sbom`, validated against the CycloneDX 1.5 schema, with the
/// binary's SHA-256), and `cargo tree -e normal` for its target (named in the SBOM).
fn supply_chain_of(dist: &Path, binary: &Path, sbom: &str) {
    let lines = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines().map(str::to_string).collect()
    };
    let sbom_path = dist.join(sbom).display().to_string();
    let binary_path = binary.display().to_string();
    let embedded = python("python3", AUDIT_DATA, &[&binary_path], sbom);
    let listed = python("python3", SBOM_CRATES, &[&sbom_path, &binary_path], sbom);
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
    validate(VALIDATE, &[&sbom_path], sbom);
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
