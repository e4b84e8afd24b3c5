//! Every documented RINIT_* variable, and the options no other file names, run through the
//! real binary: each does what its option does.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// rinit as PID 1 with `args` and the variables `env`.
fn with_env(args: &[&str], env: &[(&str, &str)]) -> Namespace {
    let mut command = namespace_command(&rinit().display().to_string(), args);
    command.envs(env.iter().copied()).stdin(Stdio::null());
    Namespace::start_command(command)
}

#[test]
fn rinit_rewrite_forwards_sigterm_as_sigusr1() {
    let scratch = Scratch::new("var-rewrite");
    let record = scratch.path("record");
    let kit = testkit();
    let ns = with_env(
        &["--", &kit, "record", &record],
        &[("RINIT_REWRITE", "TERM:USR1")],
    );
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGTERM);
    scratch.wait_for("record", "\n10\n");
    assert_eq!(scratch.read("record"), "ready\n10\n", "not as SIGTERM");
    ns.kill();
}

#[test]
fn rinit_remap_exit_reports_listed_codes_as_0() {
    for (code, reported) in [(3, 0), (4, 0), (5, 5)] {
        let script = format!("exit {code}");
        let out = with_env(&["sh", "-c", &script], &[("RINIT_REMAP_EXIT", "3 4")])
            .finish(Duration::from_secs(20));
        assert_eq!(out.code, reported, "exit {code}: {out:?}");
    }
}

#[test]
fn warn_on_reap_and_its_variable_log_each_reaped_orphan_in_rinits_words() {
    let script = format!("{} orphans 2; sleep 0.3", testkit());
    for (args, env) in [
        (&["-w", "--"][..], &[][..]),
        (&[][..], &[("RINIT_WARN_ON_REAP", "yes")][..]),
    ] {
        let mut full = args.to_vec();
        full.extend(["sh", "-c", &script]);
        let out = with_env(&full, env).finish(Duration::from_secs(20));
        assert_eq!(out.code, 0, "{out:?}");
        let reaped = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("rinit: reaped process "))
            .count();
        assert_eq!(reaped, 2, "{args:?} {env:?}: {}", out.stderr);
        assert!(
            !out.stderr.contains("Reaped zombie"),
            "tini's words: {}",
            out.stderr
        );
    }
}

#[test]
fn rinit_pause_runs_no_command_and_exits_0_on_sigterm() {
    let ns = with_env(&[], &[("RINIT_PAUSE", "1")]);
    let pid = ns.pid1();
    assert!(
        eventually(Duration::from_secs(10), || state(pid) == 'S'),
        "rinit waits"
    );
    assert!(children(pid).is_empty(), "no command was started");
    ns.signal(libc::SIGTERM);
    assert_eq!(ns.finish(Duration::from_secs(10)).code, 0);
}

#[test]
fn rinit_pdeathsig_delivers_a_signal_when_the_parent_dies() {
    let scratch = Scratch::new("var-pdeathsig");
    let record = scratch.path("record");
    // PID 1 stays up; an intermediate shell starts rinit and then exits.
    let script = format!(
        "sh -c 'RINIT_PDEATHSIG=USR1 {} -- {} record {record} & \
         until [ -s {record} ]; do sleep 0.01; done'; sleep 30",
        rinit().display(),
        testkit()
    );
    let ns = Namespace::start("sh", &["-c", &script]);
    let delivered = eventually(Duration::from_secs(10), || {
        scratch.read("record").contains("\n10\n")
    });
    ns.kill();
    assert!(delivered, "{}", scratch.read("record"));
}

#[test]
fn subreaper_required_registers_or_fails_and_license_prints() {
    if skip_without_subreaper() {
        return;
    }
    // Not PID 1: "--subreaper" (and RINIT_SUBREAPER) must register, and orphans come to rinit.
    for (args, env) in [
        (&["--subreaper", "--"][..], None),
        (&["--"][..], Some(("RINIT_SUBREAPER", "on"))),
    ] {
        let mut script = String::new();
        if let Some((name, value)) = env {
            script.push_str(&format!("{name}={value} "));
        }
        script.push_str(&format!(
            "{} {} {} adopted",
            rinit().display(),
            args.join(" "),
            testkit()
        ));
        let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
        let words: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(words.len(), 2, "{out:?}");
        let init = words[0].strip_prefix("init=").unwrap();
        assert_eq!(words[1], format!("adopter={init}"), "{args:?} {env:?}");
    }
    let out = Command::new(rinit()).arg("--license").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("MIT License"));
}
