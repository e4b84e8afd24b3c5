//! Swapping rinit in under a peer's name, as the peers' own test suites and scripts check it:
//! every signal a process sends is forwarded, the peers' messages in their formats at each
//! verbosity, tini's subreaper check and option permutation, an init that pins no directory
//! and holds no inherited descriptor, the terminal left to a shell that started rinit in the
//! background, and execvp's edge cases.

mod common;

use common::*;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NAMES: [&str; 4] = ["rinit", "tini", "dumb-init", "catatonit"];

fn run_as(scratch: &Scratch, name: &str, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut command = namespace_command(&scratch.link_as(name), args);
    command.stdin(Stdio::null()).envs(env.iter().copied());
    Namespace::start_command(command).finish(Duration::from_secs(20))
}

/// The first line of `text` that contains `part`, for a clearer failure than `contains`.
fn line_with<'a>(text: &'a str, part: &str) -> &'a str {
    text.lines()
        .find(|line| line.contains(part))
        .unwrap_or_else(|| panic!("no line with {part:?} in:\n{text}"))
}

/// A command that leaves one orphan for the init to reap, waits for that, then exits 3.
fn orphan_then_exit_3() -> String {
    format!("{} orphans 1; sleep 0.3; exit 3", testkit())
}

#[test]
fn fault_signals_sent_by_a_process_are_forwarded_under_every_name() {
    let mut faults = vec![
        libc::SIGSYS,
        libc::SIGABRT,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGTRAP,
    ];
    // Not a skip of the test (the other three are still checked): qemu-user handles the host
    // fault signals SIGILL, SIGSEGV, SIGBUS and SIGFPE itself, and sent by a process they
    // crash it (SIGILL) or are at times lost.
    if under_qemu() {
        faults.retain(|s| ![libc::SIGILL, libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE].contains(s));
    }
    for name in NAMES {
        let scratch = Scratch::new("faults");
        let record = scratch.path("record");
        let ns = Namespace::start(
            &scratch.link_as(name),
            &["--", &testkit(), "record", &record],
        );
        scratch.wait_for("record", "ready");
        // One at a time: each must arrive before the next is sent.
        for &signal in &faults {
            ns.signal(signal);
            let arrived = eventually(Duration::from_secs(10), || {
                let seen = scratch.read("record");
                seen.lines().any(|l| l == signal.to_string())
            });
            assert!(
                arrived,
                "{name}: signal {signal}: {}",
                scratch.read("record")
            );
        }
        ns.signal(libc::SIGTERM);
        assert_eq!(ns.finish(Duration::from_secs(10)).code, 0, "{name}");
    }
}

#[test]
fn as_a_subreaper_a_sigsys_is_forwarded_and_rewritten_never_fatal() {
    let scratch = Scratch::new("sigsys");
    let record = scratch.path("record");
    // rinit is not PID 1 here: an unblocked SIGSYS would kill it.
    let script = format!(
        "{rinit} -r 31:1 -- {kit} record {record} & init=$!; \
         until [ -s {record} ]; do sleep 0.01; done; kill -SYS $init; \
         until grep -qx 1 {record}; do sleep 0.01; done; kill -TERM $init; wait $init; \
         echo rinit-exit=$?",
        rinit = rinit().display(),
        kit = testkit()
    );
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    assert_eq!(out.stdout, "rinit-exit=0\n", "{out:?}");
    assert_eq!(scratch.read("record"), "ready\n1\n15\n");
}

#[test]
fn exec_failures_are_reported_in_each_peers_words() {
    let scratch = Scratch::new("exec-words");
    for (name, pattern) in [
        ("rinit", "rinit: exec /no/such: no such file or directory"),
        ("tini", "] exec /no/such failed: No such file or directory"),
        (
            "dumb-init",
            "[dumb-init] /no/such: No such file or directory",
        ),
        (
            "catatonit",
            "): failed to exec pid1: No such file or directory",
        ),
    ] {
        let out = run_as(&scratch, name, &["--", "/no/such"], &[]);
        let line = line_with(&out.stderr, pattern);
        match name {
            "tini" => assert!(line.starts_with("[FATAL tini ("), "{line}"),
            "catatonit" => assert!(line.starts_with("ERROR (catatonit:"), "{line}"),
            _ => {}
        }
        assert_eq!(out.stderr.lines().count(), 1, "{name}: {}", out.stderr);
    }
}

#[test]
fn tini_logs_at_each_verbosity_in_its_format() {
    let scratch = Scratch::new("tini-verbose");
    let script = &orphan_then_exit_3();
    let quiet = run_as(&scratch, "tini", &["--", "sh", "-c", script], &[]);
    assert_eq!((quiet.code, quiet.stderr.as_str()), (3, ""));
    let info = run_as(&scratch, "tini", &["-v", "--", "sh", "-c", script], &[]);
    line_with(
        &info.stderr,
        "[INFO  tini (1)] Spawned child process 'sh' with pid '",
    );
    line_with(
        &info.stderr,
        "[INFO  tini (1)] Main child exited normally (with status '3')",
    );
    assert!(!info.stderr.contains("DEBUG"), "{}", info.stderr);
    let debug = run_as(&scratch, "tini", &["-vv", "--", "sh", "-c", script], &[]);
    line_with(&debug.stderr, "[DEBUG tini (1)] Received SIGCHLD");
    line_with(&debug.stderr, "[DEBUG tini (1)] Reaped child with pid: '");
    let trace = run_as(
        &scratch,
        "tini",
        &["--", "sh", "-c", script],
        &[("TINI_VERBOSITY", "4")],
    );
    line_with(&trace.stderr, "[TRACE tini (1)] Exiting: child has exited");
    // A signal passed on, in tini's words (strsignal's description).
    let scratch2 = Scratch::new("tini-pass");
    let record = scratch2.path("record");
    let ns = Namespace::start(
        &scratch2.link_as("tini"),
        &["-vv", "--", &testkit(), "record", &record],
    );
    scratch2.wait_for("record", "ready");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(10));
    line_with(&out.stderr, "[DEBUG tini (1)] Passing signal: 'Terminated'");
}

#[test]
fn tini_w_and_the_subreaper_warning_use_tinis_format() {
    let scratch = Scratch::new("tini-warn");
    let out = run_as(
        &scratch,
        "tini",
        &["-w", "--", "sh", "-c", &orphan_then_exit_3()],
        &[],
    );
    line_with(
        &out.stderr,
        "[WARN  tini (1)] Reaped zombie process with pid=",
    );
    // Not PID 1 and no subreaper: tini's three-line warning.
    let tini = scratch.link_as("tini");
    let script = format!("{tini} -- true");
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert!(lines[0].starts_with("[WARN  tini ("), "{}", lines[0]);
    assert!(lines[0]
        .ends_with("] Tini is not running as PID 1 and isn't registered as a child subreaper."));
    assert!(
        lines[1].contains("zombie reaping won't work"),
        "{}",
        lines[1]
    );
}

#[test]
fn tini_does_not_warn_when_its_parent_made_it_a_subreaper_before_exec() {
    if skip_under_qemu(
        "qemu-user 7.2 implements neither PR_SET_CHILD_SUBREAPER nor PR_GET_CHILD_SUBREAPER",
    ) {
        return;
    }
    let scratch = Scratch::new("tini-inherited-subreaper");
    let tini = scratch.link_as("tini");
    let script = format!("{} subreaper {tini} -- true; echo code=$?", testkit());
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    assert_eq!(out.stdout, "code=0\n", "{out:?}");
    assert_eq!(out.stderr, "", "no warning: it is a subreaper");
}

#[test]
fn dumb_init_logs_its_debug_lines_with_v_or_dumb_init_debug() {
    let scratch = Scratch::new("dumb-verbose");
    let script = &orphan_then_exit_3();
    for (args, env) in [
        (&["-v", "--", "sh", "-c", script][..], &[][..]),
        (
            &["--", "sh", "-c", script][..],
            &[("DUMB_INIT_DEBUG", "1")][..],
        ),
    ] {
        let out = run_as(&scratch, "dumb-init", args, env);
        assert_eq!(out.code, 3, "{out:?}");
        line_with(&out.stderr, "[dumb-init] Child spawned with PID ");
        line_with(&out.stderr, "[dumb-init] Received signal 17.");
        line_with(&out.stderr, " exited with exit status 0.");
        line_with(
            &out.stderr,
            "[dumb-init] Child exited with status 3. Goodbye.",
        );
    }
    let record = scratch.path("record");
    let ns = Namespace::start(
        &scratch.link_as("dumb-init"),
        &["-v", "-r", "1:10", "--", &testkit(), "record", &record],
    );
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || scratch
        .read("record")
        .contains("\n10\n")));
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(10));
    line_with(&out.stderr, "[dumb-init] Received signal 1.");
    line_with(&out.stderr, "[dumb-init] Translating signal 1 to 10.");
    line_with(&out.stderr, "[dumb-init] Forwarded signal 10 to children.");
}

#[test]
fn catatonit_is_quiet_unless_catatonit_debug() {
    let scratch = Scratch::new("catatonit-verbose");
    let script = &orphan_then_exit_3();
    let quiet = run_as(&scratch, "catatonit", &["--", "sh", "-c", script], &[]);
    assert_eq!((quiet.code, quiet.stderr.as_str()), (3, ""));
    let out = run_as(
        &scratch,
        "catatonit",
        &["--", "sh", "-c", script],
        &[("CATATONIT_DEBUG", "1")],
    );
    line_with(&out.stderr, "DEBUG (catatonit:1): pid1 (");
    line_with(&out.stderr, ") spawned: sh");
    line_with(&out.stderr, " exited with code 0");
    let out = run_as(&scratch, "catatonit", &["true"], &[("CATATONIT_LOG", "x")]);
    assert_eq!(out.code, 1);
    line_with(&out.stderr, "CATATONIT_LOG is reserved for future use");
}

#[test]
fn no_command_prints_a_usage_line_under_every_name() {
    let scratch = Scratch::new("usage");
    for (name, code, first, second) in [
        (
            "rinit",
            2,
            "Usage: rinit [OPTIONS] [--] COMMAND [ARG...]",
            "rinit: no command given (see 'rinit --help')",
        ),
        (
            "tini",
            1,
            "Usage: tini [OPTIONS] PROGRAM -- [ARGS] | --version",
            "Run 'tini -h' for the options.",
        ),
        ("dumb-init", 1, "Usage: ", "--help for full usage."),
        (
            "catatonit",
            1,
            "): missing program name",
            "usage: catatonit [-ghLPV] [--] <progname> [<arguments>...]",
        ),
    ] {
        let out = run_as(&scratch, name, &[], &[]);
        assert_eq!(out.code, code, "{name}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{name}: {}", out.stderr);
        assert!(lines[0].contains(first), "{name}: {}", lines[0]);
        assert!(lines[1].contains(second), "{name}: {}", lines[1]);
    }
}

#[test]
fn unknown_options_get_getopts_words_under_the_peers_names() {
    let scratch = Scratch::new("getopt");
    for name in ["tini", "dumb-init", "catatonit"] {
        let out = run_as(&scratch, name, &["-x", "true"], &[]);
        assert_eq!(out.code, 1, "{name}");
        line_with(&out.stderr, &format!("{name}: invalid option -- 'x'"));
    }
    let out = run_as(&scratch, "tini", &["-p", "NOPE", "true"], &[]);
    line_with(&out.stderr, "] Not a valid option for -p: NOPE");
}

#[test]
fn tini_permutes_only_its_own_options_after_the_command() {
    let scratch = Scratch::new("tini-permute");
    let out = run_as(&scratch, "tini", &["sh", "-c", "echo hi"], &[]);
    assert_eq!(out.code, 1, "{out:?}");
    line_with(&out.stderr, "tini: invalid option -- 'c'");
    // There tini's getopt knows no long option: `--frob` is the letters -, f, r, o, b, and the
    // first complaint is about '-' (glibc never says "unrecognized option '--'").
    let out = run_as(&scratch, "tini", &["sh", "--frob"], &[]);
    assert_eq!(out.code, 1, "{out:?}");
    line_with(&out.stderr, "tini: invalid option -- '-'");
    let out = run_as(&scratch, "tini", &["--", "sh", "-c", "echo hi"], &[]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "hi\n"));
    // Before the command, rinit's own options stay available under tini's name.
    let out = run_as(&scratch, "tini", &["-c", "--", "sh", "-c", "echo ok"], &[]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "ok\n"));
}

#[test]
fn the_init_pins_no_directory_but_the_command_starts_where_rinit_was_started() {
    let scratch = Scratch::new("cwd");
    let mut command = namespace_command(
        &rinit().display().to_string(),
        &["--", "sh", "-c", "pwd; sleep 30"],
    );
    command.current_dir(&scratch.0).stdin(Stdio::null());
    let ns = Namespace::start_command(command);
    let pid1 = ns.pid1();
    let started = eventually(Duration::from_secs(10), || !children(pid1).is_empty());
    assert!(started);
    let seen = eventually(Duration::from_secs(10), || {
        std::fs::read_link(format!("/proc/{pid1}/cwd")).is_ok_and(|p| p.as_os_str() == "/")
    });
    assert!(
        seen,
        "{:?}",
        std::fs::read_link(format!("/proc/{pid1}/cwd"))
    );
    let stdout = ns.path("stdout");
    let printed = eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&stdout).is_ok_and(|text| text.ends_with('\n'))
    });
    assert!(printed, "the command printed no directory");
    let out = ns.finish_now();
    assert_eq!(out.stdout.trim(), scratch.0.display().to_string());
}

#[test]
fn an_inherited_pipe_reaches_end_of_file_while_rinit_lives() {
    for name in NAMES {
        let scratch = Scratch::new("inherited-pipe");
        let fifo = scratch.path("fifo");
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        // rinit inherits the FIFO's write end as descriptor 3; the command closes its copy.
        let script = format!(
            "exec 3>{fifo}; exec {} -- sh -c 'exec 3>&-; sleep 30'",
            scratch.link_as(name)
        );
        let ns = Namespace::start("sh", &["-c", &script]);
        let start = Instant::now();
        // Read in a thread, so that a FIFO never opened or never closed fails the test
        // instead of hanging it.
        let (done, ended) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let mut rest = Vec::new();
            let read = std::fs::File::open(&path).and_then(|mut r| r.read_to_end(&mut rest));
            let _ = done.send(read.map(|_| ()));
        });
        let read = ended.recv_timeout(Duration::from_secs(20));
        assert!(
            matches!(read, Ok(Ok(()))),
            "{name}: no end-of-file in 20 s: {read:?}"
        );
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(10),
            "{name}: EOF only after {took:?}"
        );
        ns.kill();
    }
}

#[test]
fn started_in_the_background_rinit_leaves_the_terminal_to_the_shell() {
    // An interactive shell with job control starts rinit as a background job.
    let script = format!(
        "set -m; {} -- {} show & wait; echo done",
        rinit().display(),
        testkit()
    );
    // setsid -c: the shell leads a session inside the namespace with the terminal as its own.
    let mut pty = Pty::spawn(namespace_command("setsid", &["-c", "sh", "-c", &script]));
    assert_eq!(pty.finish(Duration::from_secs(20)), 0, "{}", pty.screen());
    let screen = pty.screen();
    let show = line_with(&screen, "pgid=");
    let field = |name: &str| {
        show.split_whitespace()
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_default()
            .to_string()
    };
    assert_ne!(
        field("fg="),
        field("pgid="),
        "the job took the terminal: {show}"
    );
}

#[test]
fn as_pid_1_of_a_new_namespace_in_the_background_rinit_leaves_the_terminal_alone() {
    // `unshare --pid --fork --mount-proc rinit cmd &` from a shell with job control: the
    // terminal's foreground group and rinit's own both lie outside rinit's namespace, and both
    // read as 0 there. rinit cannot tell that it is in the foreground, so it must not take it.
    let script = format!(
        "set -m; unshare --pid --fork --mount-proc --kill-child {} -- {} show & wait; echo done",
        rinit().display(),
        testkit()
    );
    let mut pty = Pty::spawn(namespace_command("setsid", &["-c", "sh", "-c", &script]));
    assert_eq!(pty.finish(Duration::from_secs(20)), 0, "{}", pty.screen());
    let child = shown(&pty.screen());
    // fg=0: the foreground group is still the shell's, outside the namespace (-1 would mean
    // tcgetpgrp failed and proves nothing).
    assert_eq!(child["fg"], "0", "the command took the terminal: {child:?}");
}

#[test]
fn as_pid_1_of_a_new_namespace_in_the_foreground_rinit_gives_the_command_the_terminal() {
    // `unshare --pid --fork --mount-proc rinit cmd` typed at a shell: both groups read as 0
    // again, but rinit is in the foreground, which the terminal itself tells it; the command
    // must get the terminal, or it would stop on its first read.
    let mut pty = Pty::spawn(namespace_command(
        &rinit().display().to_string(),
        &["--", &testkit(), "show"],
    ));
    assert_eq!(pty.finish(Duration::from_secs(20)), 0, "{}", pty.screen());
    let child = shown(&pty.screen());
    assert_eq!(
        (&child["pgid"], &child["fg"]),
        (&child["pid"], &child["pid"]),
        "{child:?}"
    );
}

#[test]
fn execvp_edge_cases() {
    let scratch = Scratch::new("execvp");
    // A script without "#!" runs through /bin/sh.
    let script = scratch.path("script");
    std::fs::write(&script, "echo from-script; exit 4\n").unwrap();
    Command::new("chmod")
        .args(["755", &script])
        .status()
        .unwrap();
    let out = run_as(&scratch, "rinit", &["--", &script], &[]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (4, "from-script\n"),
        "{out:?}"
    );
    // Found in PATH, but its interpreter is missing: no such file, not "not in PATH".
    let bin = scratch.0.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("prog"), "#!/no/such/interpreter\n").unwrap();
    Command::new("chmod")
        .args(["755", &bin.join("prog").display().to_string()])
        .status()
        .unwrap();
    // The command's PATH, with the system's after it (unshare itself is found through it).
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let out = run_as(&scratch, "rinit", &["--", "prog"], &[("PATH", &path)]);
    assert_eq!(out.code, 127);
    assert_eq!(out.stderr, "rinit: exec prog: no such file or directory\n");
    let out = run_as(&scratch, "rinit", &["--", "nothere"], &[("PATH", &path)]);
    assert_eq!(
        out.stderr,
        "rinit: exec nothere: command not found in PATH\n"
    );
    // An empty command word is no file at all.
    let out = run_as(&scratch, "rinit", &["--", ""], &[]);
    assert_eq!(out.code, 127);
    assert_eq!(out.stderr, "rinit: exec '': no such file or directory\n");
    // An option word that is not UTF-8 is a usage error, never the command.
    let out = Command::new(rinit())
        .arg(std::ffi::OsStr::from_bytes(b"-\xff"))
        .arg("true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid UTF-8"));
}
