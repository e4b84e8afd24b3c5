//! The static x86_64 binary, built the README's way, stays within its budget, so that the next
//! feature pays for itself, and keeps the hardening the README promises while it shrinks. The
//! budget and the reason for each kilobyte of it are in bench/sizes.md, which this test reads.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `budget (x86_64): N bytes` from bench/sizes.md.
fn budget() -> u64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/sizes.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("budget (x86_64): "))
        .expect("bench/sizes.md names no `budget (x86_64): N bytes` line");
    line.trim_end_matches(" bytes")
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("bench/sizes.md: unreadable budget {line:?}"))
}

/// `cargo build --release --target x86_64-unknown-linux-musl`, as the README says, into a
/// folder of its own: the suite's binary is built with the whole workspace, whose test helpers
/// turn on more of libc's features, and need not be the same bytes.
fn built_the_readme_way() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let folder = root.join("target/footprint");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            MUSL,
            "--target-dir",
        ])
        .arg(&folder)
        .current_dir(root)
        .status()
        .unwrap();
    assert!(status.success(), "the README's build failed");
    folder.join(MUSL).join("release/rinit")
}

/// The names of the file's sections, from its section header table (kept by strip).
fn section_names(elf: &[u8]) -> Vec<String> {
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let (table, size, count, names) = (u64_at(40), u16_at(58), u16_at(60), u16_at(62));
    let strings = u64_at(table + names * size + 24);
    (0..count)
        .map(|i| {
            let start = strings + u32_at(table + i * size);
            let end = start + elf[start..].iter().position(|b| *b == 0).unwrap();
            String::from_utf8_lossy(&elf[start..end]).into_owned()
        })
        .collect()
}

/// The ELF segment types and flags this test looks at.
const PT_INTERP: u32 = 3;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const PF_X: u32 = 1;
const ET_DYN: u16 = 3;

/// The ELF file type and each program header's (type, flags), of a 64-bit little-endian file.
fn segments(elf: &[u8]) -> (u16, Vec<(u32, u32)>) {
    assert_eq!(
        &elf[..6],
        b"\x7fELF\x02\x01",
        "not a 64-bit little-endian ELF file"
    );
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let table = u64::from_le_bytes(elf[32..40].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(54) as usize, u16_at(56) as usize);
    let headers = (0..count)
        .map(|i| table + i * size)
        .map(|at| (u32_at(at), u32_at(at + 4)))
        .collect();
    (u16_at(16), headers)
}

#[test]
fn the_static_binary_fits_its_budget_and_keeps_its_hardening() {
    if target() != MUSL {
        skip("the budget is the x86_64 musl binary's; RINIT_TARGET names another");
        return;
    }
    let binary = std::fs::read(built_the_readme_way()).unwrap();
    let (budget, size) = (budget(), binary.len() as u64);
    assert!(
        size <= budget,
        "rinit is {size} bytes, over its budget of {budget} (bench/sizes.md): make room, or \
         raise the budget there with the reason"
    );
    let (kind, segments) = segments(&binary);
    let has = |wanted: u32| segments.iter().any(|(kind, _)| *kind == wanted);
    // Position-independent (its code's address is random), static (no interpreter), with
    // read-only relocations, a stack that cannot run code, and no unwind tables.
    assert_eq!(kind, ET_DYN, "not position-independent");
    assert!(!has(PT_INTERP), "not static: it names a dynamic loader");
    assert!(has(PT_GNU_RELRO), "no RELRO segment");
    let stack = segments.iter().find(|(kind, _)| *kind == PT_GNU_STACK);
    assert!(
        matches!(stack, Some((_, flags)) if flags & PF_X == 0),
        "the stack may be executable: {stack:?}"
    );
    assert!(!has(PT_GNU_EH_FRAME), "the unwind tables are back");
    let sections = section_names(&binary);
    assert!(sections.iter().any(|name| name == ".text"), "{sections:?}");
    let unwind = [".eh_frame", ".eh_frame_hdr", ".gcc_except_table"];
    assert!(
        !sections.iter().any(|name| unwind.contains(&name.as_str())),
        "the unwind tables are back: {sections:?}"
    );
}
