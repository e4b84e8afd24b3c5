//! Nothing a caller or a log reader does can wedge rinit: a log reader that went away, a file
//! size limit on stderr, signals sent the moment it starts, and thousands of random command
//! lines and environments under every name.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

/// User plus system CPU time of `pid` so far, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_log_reader_that_went_away_neither_spins_rinit_nor_kills_the_command() {
    // -v logs every signal and reap into a pipe nobody reads: each write fails.
    let ns = Namespace::start(
        &testkit(),
        &[
            "broken-stderr",
            &rinit().display().to_string(),
            "-vv",
            "--",
            "sh",
            "-c",
            "(sleep 0.2 &); sleep 1; exit 5",
        ],
    );
    let pid1 = ns.pid1();
    std::thread::sleep(Duration::from_millis(800));
    let spent = cpu_ticks(pid1);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 5, "the command's status, unchanged: {out:?}");
    assert!(spent < 20, "rinit spun: {spent} ticks of CPU in 0.8 s");
}

#[test]
fn one_warning_into_a_broken_stderr_does_not_kill_the_command() {
    // tini's name outside PID 1 warns at the default verbosity that it is no subreaper.
    let scratch = Scratch::new("warn-broken");
    let tini = scratch.link_as("tini");
    let script = format!("{tini} -- sh -c 'sleep 0.2; exit 5'; echo code=$?");
    let out = Namespace::start(&testkit(), &["broken-stderr", "sh", "-c", &script])
        .finish(Duration::from_secs(20));
    assert_eq!(out.stdout, "code=5\n", "{out:?}");
}

#[test]
fn a_file_size_limit_on_stderr_does_not_kill_the_command() {
    // The first log line passes the limit: EFBIG, and SIGXFSZ raised on rinit itself.
    let out = Namespace::start(
        "prlimit",
        &[
            "--fsize=8",
            &rinit().display().to_string(),
            "-vv",
            "--",
            "sh",
            "-c",
            "sleep 0.2; exit 5",
        ],
    )
    .finish(Duration::from_secs(20));
    // The command's own code: rinit outlived SIGXFSZ and passed none on (the shell would have
    // died of it, 153).
    assert_eq!(out.code, 5, "{out:?}");
    // rinit did write, and the limit cut its first line ("rinit: started ...") short: the case
    // this test is about happened.
    assert_eq!(out.stderr, "rinit: s", "{out:?}");
}

#[test]
fn a_sigpipe_another_process_sends_is_still_forwarded() {
    let scratch = Scratch::new("sigpipe");
    let record = scratch.path("record");
    let ns = Namespace::rinit(&["--", &testkit(), "record", &record]);
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGPIPE);
    assert!(
        eventually(Duration::from_secs(10), || scratch
            .read("record")
            .contains("\n13\n")),
        "{}",
        scratch.read("record")
    );
    ns.signal(libc::SIGTERM);
    assert_eq!(ns.finish(Duration::from_secs(10)).code, 0);
}

#[test]
fn blocking_signals_is_the_first_thing_rinit_does() {
    let Some(trace) = strace_rinit_true(&[]) else {
        return;
    };
    // Only the C runtime's own thread set-up (TLS: arch_prctl on x86_64, set_thread_area on
    // i686) may come first; then the mask, before any
    // memory is allocated or an argument read.
    let calls: Vec<String> = trace
        .lines()
        .skip_while(|line| !line.starts_with("execve("))
        .skip(1)
        .map(|line| line.split('(').next().unwrap_or("").to_string())
        .filter(|call| {
            !["arch_prctl", "set_thread_area", "set_tid_address"].contains(&call.as_str())
        })
        .take(1)
        .collect();
    assert_eq!(calls, ["rt_sigprocmask"], "{trace}");
}

/// `rinit -- true` under strace with `options`; the trace, or None (said as a skip) under
/// qemu-user.
fn strace_rinit_true(options: &[&str]) -> Option<String> {
    if skip_under_qemu("strace would trace the emulator's own system calls, not rinit's") {
        return None;
    }
    let trace = Scratch::new("strace");
    let log = trace.path("trace");
    let out = Command::new("strace")
        .args(options)
        .args(["-o", &log, "--"])
        .arg(rinit())
        .args(["--", "true"])
        .output()
        .expect("strace is required for this test");
    assert!(out.status.success(), "{out:?}");
    Some(trace.read("trace"))
}

#[test]
fn the_child_moves_itself_into_its_own_group_before_it_execs() {
    // rinit calls setpgid on both sides of the fork: the parent's call is what usually wins,
    // but it fails (EACCES) once the child has exec'd, so only the child's own call makes sure
    // the command never runs in rinit's group. Seen in the child's system calls.
    let Some(text) = strace_rinit_true(&["-f", "-e", "trace=setpgid,execve"]) else {
        return;
    };
    // `PID call(args) = result`, one line per call; the command is the pid that execs true.
    let command = text
        .lines()
        .find(|line| line.contains("/true\", [\"true\"]"))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exec of true: {text}"));
    let calls: Vec<&str> = text
        .lines()
        .filter(|line| line.split_whitespace().next() == Some(command))
        .map(|line| {
            line.split_once(' ')
                .map_or("", |(_, call)| call)
                .trim_start()
        })
        .collect();
    let own_group = calls.iter().position(|c| c.starts_with("setpgid(0, 0"));
    let exec = calls.iter().position(|c| c.starts_with("execve("));
    assert!(
        own_group.is_some() && own_group < exec,
        "the child's calls: {calls:#?}"
    );
}

#[test]
fn three_hundred_sigterms_right_after_start_always_reach_the_command() {
    if skip_under_qemu("qemu-user blocks host signals during its own start-up, so /proc shows SIGTERM blocked before the emulated rinit has blocked it") {
        return;
    }
    let out = Namespace::start(
        &testkit(),
        &[
            "starts",
            "300",
            &rinit().display().to_string(),
            "--",
            "sleep",
            "5",
        ],
    )
    .finish(Duration::from_secs(60));
    assert_eq!(out.stdout, "runs=300 killed=0 codes=143:300\n", "{out:?}");
}

#[test]
fn thousands_of_random_command_lines_and_environments_never_wedge_rinit() {
    let seed = std::env::var("RINIT_FUZZ_SEED").unwrap_or_else(|_| "20261123".into());
    let cases = std::env::var("RINIT_FUZZ_CASES").unwrap_or_else(|_| "3000".into());
    let dir = Scratch::new("fuzz");
    for name in [
        "tini",
        "tini-static",
        "docker-init",
        "dumb-init",
        "catatonit",
    ] {
        dir.link_as(name);
    }
    std::os::unix::fs::symlink(rinit(), dir.0.join("rinit")).unwrap();
    let start = Instant::now();
    let out = Namespace::start(
        &testkit(),
        &[
            "fuzz",
            "--seed",
            &seed,
            "--cases",
            &cases,
            "--dir",
            &dir.0.display().to_string(),
        ],
    )
    .finish(Duration::from_secs(3600));
    assert_eq!(
        out.stdout,
        format!("cases={cases} seed={seed}\n"),
        "{out:?} after {:?}",
        start.elapsed()
    );
}

/// The files rinit itself opens (not its command) as PID 1 of a new PID namespace running
/// `sh -c SCRIPT`, as strace shows them; None (said as a skip) under qemu-user.
fn files_rinit_opens(script: &str) -> Option<Vec<String>> {
    if skip_under_qemu("strace would trace the emulator's own system calls, not rinit's") {
        return None;
    }
    let trace = Scratch::new("strace");
    let log = trace.path("trace");
    let rinit = rinit().display().to_string();
    let out = Command::new("strace")
        .args(["-f", "-e", "trace=execve,open,openat", "-o", &log, "--"])
        .args(["unshare", "--pid", "--fork", "--mount-proc", &rinit, "--"])
        .args(["/bin/sh", "-c", script])
        .output()
        .expect("strace is required for this test");
    assert!(out.status.code().is_some(), "{out:?}");
    let text = trace.read("trace");
    // `PID execve("RINIT", ...)`: from there on, that pid's lines are rinit's.
    let pid = text
        .lines()
        .find(|line| line.contains(&format!("execve(\"{rinit}\"")))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exec of rinit: {text}"))
        .to_string();
    Some(
        text.lines()
            .filter(|line| line.split_whitespace().next() == Some(pid.as_str()))
            .filter(|line| line.contains("open"))
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn only_a_death_by_sigkill_makes_rinit_read_its_cgroup() {
    // Whether the container's memory cgroup counted an OOM kill is read when something died
    // of SIGKILL, and never on the normal path (as PID 1 the shutdown reads no cgroup).
    let Some(normal) = files_rinit_opens("exit 3") else {
        return;
    };
    let cgroup: Vec<&String> = normal.iter().filter(|l| l.contains("cgroup")).collect();
    assert!(cgroup.is_empty(), "{cgroup:?}");
    let Some(killed) = files_rinit_opens("kill -9 $$") else {
        return;
    };
    assert!(
        killed.iter().any(|l| l.contains("\"/proc/self/cgroup\"")),
        "{killed:?}"
    );
}

/// When memory runs out (an address-space limit just above what rinit needs to start), the
/// failed allocation ends rinit through its panic handler: one fixed line, exit code 1 as PID 1
/// (abort's SIGABRT cannot end PID 1), SIGABRT elsewhere, for a core dump. The limits are tried
/// in steps, since where the first allocation fails depends on the kernel's layout.
#[test]
fn a_failed_allocation_is_one_line_and_exit_1_as_pid_1_and_an_abort_elsewhere() {
    if skip_under_qemu("qemu-user's own memory counts against the address-space limit") {
        return;
    }
    let rinit = rinit().display().to_string();
    let mut seen = Vec::new();
    let (mut as_pid1, mut elsewhere) = (false, false);
    for kib in (128..=1024).step_by(16) {
        let limit = format!("--as={}", kib * 1024);
        let args = [limit.as_str(), rinit.as_str(), "--", "true"];
        let out = Namespace::start("prlimit", &args).finish(Duration::from_secs(20));
        if out.stderr.contains("internal error") {
            assert_eq!(
                out.stderr, "rinit: internal error\n",
                "as PID 1 under {limit}"
            );
            assert_eq!(out.code, 1, "as PID 1 under {limit}");
            as_pid1 = true;
        }
        let out = Command::new("prlimit").args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("internal error") {
            assert_eq!(stderr, "rinit: internal error\n", "under {limit}");
            assert_eq!(out.status.signal(), Some(libc::SIGABRT), "under {limit}");
            elsewhere = true;
        }
        seen.push((kib, out.status, stderr.into_owned()));
    }
    assert!(
        as_pid1 && elsewhere,
        "no limit made an allocation fail: {seen:?}"
    );
}
