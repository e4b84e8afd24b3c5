//! What rinit says and accepts agrees with itself: options take the values their variables
//! take, contradictions are refused, each message names what is wrong in the peer's own words
//! under a peer's name, and no program name reaches the terminal raw.

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// rinit (or a link to it named `name`) run directly with `args` and `env`: code and stderr.
fn says(scratch: &Scratch, name: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(scratch.link_as(name))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run rinit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_variables_say_which_values_are_accepted() {
    let scratch = Scratch::new("messages-vars");
    for (name, value, expected) in [
        (
            "RINIT_SUBREAPER",
            "maybe",
            "rinit: RINIT_SUBREAPER=maybe: expected 1/0, true/false, yes/no or on/off (see 'rinit --help')\n",
        ),
        (
            "RINIT_VERBOSE",
            "yes",
            "rinit: RINIT_VERBOSE=yes: expected a whole number from 0 to 3 (more counts as 3) (see 'rinit --help')\n",
        ),
    ] {
        let said = says(&scratch, "rinit", &["true"], &[(name, value)]);
        assert_eq!(said, (2, expected.to_string()), "{name}={value}");
    }
}

#[test]
fn options_take_lists_as_their_variables_do() {
    let scratch = Scratch::new("messages-lists");
    for (code, reported) in [(3, 0), (4, 0), (5, 5)] {
        let script = format!("exit {code}");
        let out = run(&["-e", "3,4", "--", "sh", "-c", &script]);
        assert_eq!(out.code, reported, "exit {code} under -e 3,4: {out:?}");
    }
    // -r TERM:USR1,INT:0: SIGINT is dropped, SIGTERM arrives as SIGUSR1.
    let record = scratch.path("record");
    let ns = Namespace::rinit(&["-r", "TERM:USR1,INT:0", "--", &testkit(), "record", &record]);
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGINT);
    ns.signal(libc::SIGTERM);
    scratch.wait_for("record", "\n10\n");
    // SIGHUP, not rewritten, marks the end: a forwarded SIGINT (2) would have come before it.
    ns.signal(libc::SIGHUP);
    scratch.wait_for("record", "\n1\n");
    assert_eq!(scratch.read("record"), "ready\n10\n1\n");
    ns.kill();
}

#[test]
fn contradictory_settings_are_refused() {
    let scratch = Scratch::new("messages-contradict");
    let said = says(&scratch, "rinit", &["-c", "-g", "true"], &[]);
    assert_eq!(
        said,
        (
            2,
            "rinit: -c (--single-child) and -g (--group) contradict each other: give one (see 'rinit --help')\n"
                .to_string()
        )
    );
    let said = says(
        &scratch,
        "rinit",
        &["true"],
        &[("RINIT_SINGLE_CHILD", "1"), ("RINIT_GROUP", "1")],
    );
    assert_eq!(
        said,
        (
            2,
            "rinit: RINIT_GROUP=1 and RINIT_SINGLE_CHILD=1 contradict each other: set one (see 'rinit --help')\n"
                .to_string()
        )
    );
}

#[test]
fn a_missing_value_is_reported_as_getopt_words_it_under_a_peers_name() {
    let scratch = Scratch::new("messages-missing");
    let tini = scratch.link_as("tini");
    let (code, stderr) = says(&scratch, "tini", &["-e"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.lines().next(),
        Some(format!("{tini}: option requires an argument -- 'e'").as_str()),
        "{stderr}"
    );
    assert!(
        stderr.contains("Usage: tini [OPTIONS] PROGRAM -- [ARGS]"),
        "{stderr}"
    );
    let (_, stderr) = says(&scratch, "tini", &["--remap-exit"], &[]);
    assert_eq!(
        stderr.lines().next(),
        Some(format!("{tini}: option '--remap-exit' requires an argument").as_str())
    );
    let said = says(&scratch, "rinit", &["--grace"], &[]);
    assert_eq!(
        said,
        (
            2,
            "rinit: --grace needs a value (see 'rinit --help')\n".to_string()
        )
    );
}

#[test]
fn no_program_name_reaches_the_terminal_raw() {
    // dumb-init's usage text names the program as it was called, path and all.
    let scratch = Scratch::new("messages-escape");
    let out = Command::new(scratch.link_as("dumb-init"))
        .arg0("/weird\x1b[31m\nname/dumb-init")
        .stdin(Stdio::null())
        .output()
        .expect("run rinit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr.contains('\x1b'), "raw escape in {stderr:?}");
    assert_eq!(
        stderr,
        "Usage: /weird\\x1b[31m\\nname/dumb-init [option] program [args]\n\
         Try /weird\\x1b[31m\\nname/dumb-init --help for full usage.\n"
    );
}

#[test]
fn a_parent_death_signal_that_would_end_rinit_is_refused_but_tinis_habit_is_kept() {
    let scratch = Scratch::new("messages-pdeathsig");
    let refused = |signal: &str, verb: &str| {
        format!(
            "rinit: --pdeathsig (RINIT_PDEATHSIG): {signal} would {verb} rinit itself and leave \
             the command without its init; name a signal rinit forwards, e.g. TERM (see 'rinit --help')\n"
        )
    };
    assert_eq!(
        says(&scratch, "rinit", &["-p", "KILL", "true"], &[]),
        (2, refused("SIGKILL", "kill"))
    );
    assert_eq!(
        says(
            &scratch,
            "rinit",
            &["true"],
            &[("RINIT_PDEATHSIG", "SIGSTOP")]
        ),
        (2, refused("SIGSTOP", "stop"))
    );
    // `tini -p SIGKILL` is how tini's users run it: accepted, and the command runs (not PID 1
    // and no -s: tini's warning that zombies go elsewhere, and no subreaper to ask qemu for).
    let (code, stderr) = says(&scratch, "tini", &["-p", "SIGKILL", "--", "true"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("pdeathsig"), "{stderr}");
}

#[test]
fn tini_h_prints_tinis_usage_under_the_name_called() {
    let scratch = Scratch::new("messages-tini-help");
    for name in ["tini", "docker-init"] {
        for flag in ["-h", "--help"] {
            let out = Command::new(scratch.link_as(name))
                .arg(flag)
                .output()
                .expect("run rinit");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{name} {flag}");
            assert!(
                stdout.starts_with(&format!(
                    "Usage: {name} [OPTIONS] PROGRAM -- [ARGS] | --version\n"
                )),
                "{name} {flag}: {stdout}"
            );
            assert!(stdout.contains("\n  -s "), "{name} {flag}: {stdout}");
            assert!(out.stderr.is_empty(), "{name} {flag}");
        }
    }
}
