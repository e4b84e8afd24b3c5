//! rinit as PID 1 of a real PID namespace: exit status, errors, reaping, signal forwarding,
//! what the child inherits, and an idle rinit that never wakes.

mod common;

use common::*;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn exits_with_the_commands_exit_code() {
    for code in [0, 1, 255] {
        let out = run(&["--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.code, code, "{out:?}");
        assert_eq!(out.stderr, "", "rinit is silent by default");
    }
}

#[test]
fn a_command_killed_by_signal_n_exits_128_plus_n() {
    assert_eq!(run(&["sh", "-c", "kill -TERM $$"]).code, 143);
    assert_eq!(run(&["sh", "-c", "kill -KILL $$"]).code, 137);
    // SIGUSR1 by the target's numbering: 16 on MIPS.
    let usr1 = match target().starts_with("mips") {
        true => 16,
        false => libc::SIGUSR1,
    };
    assert_eq!(run(&["sh", "-c", "kill -USR1 $$"]).code, 128 + usr1);
}

#[test]
fn command_not_found_exits_127_with_one_line() {
    let out = run(&["no-such-command-anywhere"]);
    assert_eq!(out.code, 127);
    assert_eq!(
        out.stderr,
        "rinit: exec no-such-command-anywhere: command not found in PATH\n"
    );
    let out = run(&["/no/such/file"]);
    assert_eq!(out.code, 127);
    assert_eq!(
        out.stderr,
        "rinit: exec /no/such/file: no such file or directory\n"
    );
}

#[test]
fn command_not_executable_exits_126_with_one_line() {
    let scratch = Scratch::new("noexec");
    let file = scratch.path("script.sh");
    fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    let out = run(&[&file]);
    assert_eq!(out.code, 126);
    assert_eq!(
        out.stderr,
        format!("rinit: exec {file}: permission denied\n")
    );
}

#[test]
fn usage_errors_exit_2_with_a_clear_line() {
    let out = run(&[]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "Usage: rinit [OPTIONS] [--] COMMAND [ARG...]\n\
         rinit: no command given (see 'rinit --help')\n"
    );
    for (args, expected) in [
        (&["--bogus", "true"][..], "unknown option --bogus"),
        (&["-e", "300", "true"][..], "'300' is not an exit code"),
        (&["-r", "TERM:NOPE", "true"][..], "'NOPE' is not a signal"),
        (
            &["--grace", "forever", "true"][..],
            "'forever' is not a duration",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}");
    }
}

#[test]
fn help_and_version_go_to_stdout_and_exit_0() {
    let out = run(&["--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Usage: rinit"));
    let out = run(&["--version"]);
    assert_eq!(out.code, 0);
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words[..2], ["rinit", "version"]);
    assert_eq!(words[3], "-");
    assert!(words[4].starts_with("git."), "{}", out.stdout);
}

#[test]
fn invalid_environment_variable_is_a_usage_error() {
    let mut command = namespace_command(&rinit().display().to_string(), &["true"]);
    command.env("RINIT_VERBOSE", "loud").stdin(Stdio::null());
    let out = Namespace::start_command(command).finish(Duration::from_secs(10));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("RINIT_VERBOSE=loud"), "{}", out.stderr);
}

#[test]
fn an_orphan_storm_leaves_zero_zombies() {
    let kit = testkit();
    let script = format!("{kit} orphans 3000 && {kit} zombies 20");
    let out = Namespace::rinit(&["sh", "-c", &script]).finish(Duration::from_secs(60));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "zombies=0");
}

#[test]
fn zombies_from_before_rinit_started_are_reaped_at_once_even_in_pause_mode() {
    // PID 1 starts as a shell whose background job leaves orphans behind; they die and stay
    // zombies under perl, which never reaps, until perl execs rinit -P in the same process.
    // Their SIGCHLDs came before rinit blocked it: no signal will ever tell rinit of them.
    let script = format!(
        "({} orphans 5 &); exec perl -e 'select(undef, undef, undef, 0.5); exec @ARGV' {} -P",
        testkit(),
        rinit().display()
    );
    let ns = Namespace::start("sh", &["-c", &script]);
    wait_until_listening(ns.pid1());
    let out = ns
        .enter(&[&testkit(), "zombies", "5"])
        .output()
        .expect("nsenter");
    ns.kill();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "zombies=0\n");
}

/// Sends each of `signals` to rinit (as PID 1, over the recorder) and checks that the
/// recorder got exactly those, in order, one at a time; SIGCHLD goes first, from outside, and
/// must never be passed on. The last signal must be SIGTERM, on which the recorder exits.
fn forwards_each_in_order(signals: &[i32]) {
    let scratch = Scratch::new("signals");
    let record = scratch.path("record");
    let ns = Namespace::rinit(&[&testkit(), "record", &record]);
    scratch.wait_for("record", "ready");
    // A SIGCHLD only tells rinit to reap: were it forwarded, the recorder would note 17 first.
    ns.signal(libc::SIGCHLD);
    let mut sent = Vec::new();
    for &signal in signals {
        ns.signal(signal);
        sent.push(signal.to_string());
        let arrived = eventually(Duration::from_secs(5), || {
            scratch.read("record").lines().skip(1).count() >= sent.len()
        });
        assert!(
            arrived,
            "signal {signal} was not forwarded: {}",
            scratch.read("record")
        );
    }
    let out = ns.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    let got: Vec<String> = scratch
        .read("record")
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    assert_eq!(got, sent);
}

/// Signals rinit never forwards: those no process can catch, SIGCHLD (rinit's own business),
/// and the fault signals, which stay fatal to rinit should it fault itself.
const NEVER: [i32; 10] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGCHLD,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

#[test]
fn every_catchable_standard_signal_reaches_the_child_and_sigchld_never_does() {
    let signals: Vec<i32> = (1..32)
        .filter(|s| !NEVER.contains(s) && *s != libc::SIGTERM)
        .chain([libc::SIGTERM])
        .collect();
    forwards_each_in_order(&signals);
}

#[test]
fn every_real_time_signal_reaches_the_child() {
    if skip_under_qemu(
        "qemu-user keeps signals 32-34 and some real-time ones for itself and renumbers the rest",
    ) {
        return;
    }
    let signals: Vec<i32> = (32..=64).chain([libc::SIGTERM]).collect();
    forwards_each_in_order(&signals);
}

#[test]
fn a_grandchild_in_the_group_gets_sigterm() {
    let scratch = Scratch::new("group");
    let record = scratch.path("record");
    // The shell survives SIGTERM (its trap is set before the recorder starts, so it is in
    // place once the recorder is ready) and then waits for its background recorder.
    let script = format!(
        "trap 'echo shell-got-term' TERM; {} record {record} & wait; wait",
        testkit()
    );
    let ns = Namespace::rinit(&["sh", "-c", &script]);
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "shell-got-term\n");
    assert_eq!(scratch.read("record"), "ready\n15\n");
}

#[test]
fn the_child_gets_the_callers_mask_ignores_and_descriptors_only() {
    if skip_under_qemu("qemu-user emulates the program's signal dispositions, so a signal the caller ignored is not ignored in the kernel, nor passed on through exec; and qemu's own descriptors leak into the command") {
        return;
    }
    let mut command = namespace_command(&rinit().display().to_string(), &[&testkit(), "show"]);
    let devnull = fs::File::open("/dev/null").unwrap();
    let devnull_fd = std::os::fd::AsRawFd::as_raw_fd(&devnull);
    // A known state, whatever the test runner inherited: every signal at its default action
    // except SIGINT ignored, only SIGUSR2 blocked, and an extra descriptor 5.
    // SAFETY: between fork and exec of the test's own child: raw syscalls and dup2 only.
    unsafe {
        command.pre_exec(move || {
            for signal in (1..=64).filter(|s| ![libc::SIGKILL, libc::SIGSTOP].contains(s)) {
                let handler = if signal == libc::SIGINT {
                    libc::SIG_IGN
                } else {
                    libc::SIG_DFL
                };
                // The kernel's struct sigaction: handler, flags, restorer, mask.
                let action: [u64; 4] = [handler as u64, 0, 0, 0];
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    action.as_ptr(),
                    0usize,
                    8usize,
                );
            }
            let blocked: u64 = 1 << (libc::SIGUSR2 - 1);
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &blocked,
                0usize,
                8usize,
            );
            libc::dup2(devnull_fd, 5);
            // Whatever else the test runner inherited (a jobserver, a shell's fds) is closed.
            libc::syscall(libc::SYS_close_range, 3u32, 4u32, 0u32);
            libc::syscall(libc::SYS_close_range, 6u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    command.stdin(Stdio::null());
    let out = Namespace::start_command(command).finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    let field = |name: &str| {
        out.stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        field("blocked"),
        format!("{:016x}", 1u64 << (libc::SIGUSR2 - 1))
    );
    let ignored = u64::from_str_radix(&field("ignored"), 16).unwrap();
    assert_eq!(
        ignored,
        1 << (libc::SIGINT - 1),
        "only SIGINT, as the caller set"
    );
    assert_eq!(
        field("fds"),
        "0,1,2,5",
        "the caller's fd 5 and nothing of rinit's"
    );
    assert_eq!(field("pid"), "2");
    assert_eq!(
        field("pgid"),
        "2",
        "the command runs in its own process group"
    );
}

#[test]
fn eight_megabytes_pass_through_stdin_and_stdout_unchanged() {
    let scratch = Scratch::new("stdio");
    let input: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(scratch.path("in"), &input).unwrap();
    let mut command = namespace_command(&rinit().display().to_string(), &["cat"]);
    command.stdin(fs::File::open(scratch.path("in")).unwrap());
    let out = Namespace::start_command(command).finish(Duration::from_secs(30));
    assert_eq!(out.code, 0);
    assert!(out.raw_stdout == input, "bytes differ");
}

#[test]
fn an_idle_rinit_never_wakes_up() {
    let ns = Namespace::rinit(&["sleep", "60"]);
    let rinit = ns.pid1();
    // Start-up is over (exec, the child's exec report) once rinit sleeps in its signalfd read.
    let waiting = eventually(Duration::from_secs(10), || {
        fs::read_to_string(format!("/proc/{rinit}/wchan")).is_ok_and(|w| w == "signalfd_read_iter")
    });
    assert!(waiting, "rinit never blocked in its signalfd read");
    let before = proc_status(rinit, "voluntary_ctxt_switches");
    std::thread::sleep(Duration::from_secs(3));
    let after = proc_status(rinit, "voluntary_ctxt_switches");
    ns.kill();
    assert!(!before.is_empty());
    assert_eq!(
        before, after,
        "voluntary context switches over 3 s of idling"
    );
}

#[test]
fn not_pid_1_it_registers_as_subreaper_adopts_orphans_and_gives_them_sigterm_at_shutdown() {
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("adopted");
    let log = scratch.path("log");
    // PID 1 here is a shell; rinit is its child, and the orphan must go to rinit, not PID 1.
    let script = format!(
        "{} -- {} adopted {log}; echo rinit-exit=$?",
        rinit().display(),
        testkit()
    );
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{out:?}");
    let init = words[0].strip_prefix("init=").unwrap();
    assert_ne!(init, "1");
    assert_eq!(
        words[1],
        format!("adopter={init}"),
        "the orphan was adopted by rinit"
    );
    // The adopted worker got SIGTERM when the command exited, and saved; rinit waited for it
    // and kept the command's code.
    assert_eq!(scratch.read("log"), "started\nsaved\n", "{out:?}");
    assert_eq!(words[2], "rinit-exit=0");
}

#[test]
fn a_refused_subreaper_fails_where_it_is_required_and_only_warns_elsewhere() {
    // Not PID 1, under a seccomp filter that refuses PR_SET_CHILD_SUBREAPER (as a restrictive
    // profile may; qemu-user refuses it anyway). Where the registration is required the
    // command must not run and the code is 1; elsewhere it runs and its code is kept.
    let scratch = Scratch::new("no-subreaper");
    let ran = scratch.path("ran");
    for (name, args, code, says) in [
        (
            "rinit",
            &["-s"][..],
            1,
            "rinit: prctl(PR_SET_CHILD_SUBREAPER): ",
        ),
        (
            "rinit",
            &[][..],
            3,
            "rinit: cannot register as child subreaper (",
        ),
        (
            "tini",
            &["-s"][..],
            1,
            "] Failed to register as child subreaper: ",
        ),
        (
            "tini",
            &[][..],
            3,
            "] Tini is not running as PID 1 and isn't registered as a child subreaper.",
        ),
        (
            "catatonit",
            &[][..],
            1,
            "): failed to set child-reaper as non-pid1: ",
        ),
    ] {
        let _ = fs::remove_file(&ran);
        let script = format!(
            "{} no-subreaper {} {} -- sh -c 'echo > {ran}; exit 3'; echo code=$?",
            testkit(),
            scratch.link_as(name),
            args.join(" ")
        );
        let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
        assert_eq!(
            out.stdout,
            format!("code={code}\n"),
            "{name} {args:?}: {out:?}"
        );
        assert!(
            out.stderr.lines().next().is_some_and(|l| l.contains(says)),
            "{name} {args:?}: {}",
            out.stderr
        );
        assert_eq!(
            fs::metadata(&ran).is_ok(),
            code == 3,
            "{name} {args:?}: the command ran only where rinit went on"
        );
    }
}

#[test]
fn without_path_the_command_is_looked_up_in_the_default_path() {
    // execvp's default when PATH is unset: /usr/local/bin:/bin:/usr/bin. A program only in
    // /usr/local/bin (a folder bind-mounted there, in the namespace's own mounts) is found.
    let scratch = Scratch::new("default-path");
    let bin = scratch.path("bin");
    fs::create_dir(&bin).unwrap();
    fs::write(
        format!("{bin}/rinit-only-here"),
        // The shell sets a PATH of its own: the environment it was given shows what rinit passed.
        "#!/bin/sh\necho found; tr '\\0' '\\n' < /proc/$$/environ | grep '^PATH=' || echo no-PATH\n",
    )
    .unwrap();
    fs::set_permissions(
        format!("{bin}/rinit-only-here"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let rinit = rinit().display().to_string();
    for (command, code, stdout, stderr) in [
        ("rinit-only-here", 0, "found\nno-PATH\n", ""),
        (
            "rinit-nowhere",
            127,
            "",
            "rinit: exec rinit-nowhere: command not found in PATH\n",
        ),
    ] {
        let script =
            format!("mount --bind {bin} /usr/local/bin && exec env -u PATH {rinit} -- {command}");
        let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (code, stdout, stderr),
            "{command}"
        );
    }
}

#[test]
fn the_command_is_the_terminals_foreground_group() {
    // As `docker run -it` starts it: rinit leads a session inside its namespace, with the
    // terminal as its controlling terminal, so its group is the foreground one.
    let mut pty = Pty::spawn(namespace_command(
        "setsid",
        &[
            "--ctty",
            &rinit().display().to_string(),
            "--",
            &testkit(),
            "show",
        ],
    ));
    assert_eq!(pty.finish(Duration::from_secs(20)), 0);
    let screen = pty.screen();
    let child = shown(&screen);
    assert_eq!(
        (&child["pgid"], &child["fg"]),
        (&child["pid"], &child["pid"]),
        "{child:?}"
    );
}

#[test]
fn a_fork_failure_is_reported_with_its_reason() {
    if skip_under_qemu("with a process limit of 1, qemu-user cannot start its own threads and aborts before rinit runs") {
        return;
    }
    // As an unprivileged user with a process limit of 1, rinit itself fills the quota.
    let script = format!(
        "prlimit --nproc=1:1 setpriv --pdeathsig keep --reuid=65534 --regid=65534 --clear-groups {} -- true",
        rinit().display()
    );
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(10));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "rinit: fork: resource temporarily unavailable (process limit reached: pids cgroup or RLIMIT_NPROC)\n"
    );
}

#[test]
fn job_control_signals_are_forwarded_and_never_stop_rinit_and_v_logs_them() {
    let scratch = Scratch::new("tty-signals");
    let record = scratch.path("record");
    // Not PID 1 here (PID 1 cannot be stopped at all): a shell is, and rinit is its child.
    let script = format!(
        "{} -v -- {} record {record}; sleep 30",
        rinit().display(),
        testkit()
    );
    let ns = Namespace::start("sh", &["-c", &script]);
    scratch.wait_for("record", "ready");
    let rinit_pid = children(ns.pid1())[0];
    for signal in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
        // SAFETY: a signal to the rinit this test started.
        unsafe { libc::kill(rinit_pid, signal) };
        let line = format!("\n{signal}\n");
        scratch.wait_for("record", &line[1..]);
        assert_ne!(
            state(rinit_pid),
            'T',
            "rinit was stopped by signal {signal}"
        );
    }
    // SAFETY: as above.
    unsafe { libc::kill(rinit_pid, libc::SIGTERM) };
    scratch.wait_for("record", "15\n");
    assert!(eventually(Duration::from_secs(10), || children(ns.pid1())
        .iter()
        .all(|pid| *pid != rinit_pid)));
    let out = ns.finish_now();
    assert!(
        out.stderr.contains("rinit: received SIGTSTP"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("rinit: forwarded SIGTSTP to process group"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("exited: exit code 0"), "{}", out.stderr);
}
