//! Shutdown that loses no work, in PID namespaces: the processes left when the command ends get
//! SIGTERM and the grace period; those that ignore it are SIGKILLed when it ends.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Shell words that start the test helper's worker (`MODE`: ms it needs after SIGTERM, or
/// `ignore`) in the background, `prefix` before it (e.g. `setsid`), and wait until it has
/// written `started` to `log`.
fn background_worker(prefix: &str, log: &str, mode: &str) -> String {
    format!(
        "{prefix} {} worker {log} {mode} & until [ -s {log} ]; do sleep 0.01; done",
        testkit()
    )
}

#[test]
fn a_background_worker_finishes_its_write_after_the_command_exits() {
    let scratch = Scratch::new("bg-worker");
    let log = scratch.path("log");
    let script = background_worker("", &log, "300") + "; exit 4";
    let out = run(&["sh", "-c", &script]);
    assert_eq!(out.code, 4, "the command's own code: {out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
}

#[test]
fn grace_zero_exits_at_once_like_tini_and_the_worker_loses_its_write() {
    let scratch = Scratch::new("grace-zero");
    let log = scratch.path("log");
    let script = background_worker("", &log, "300") + "; exit 4";
    let out = run(&["--grace", "0", "sh", "-c", &script]);
    assert_eq!(out.code, 4);
    assert_eq!(
        scratch.read("log"),
        "started\n",
        "killed with the namespace"
    );
}

#[test]
fn a_worker_that_ignores_sigterm_is_killed_when_the_grace_period_ends() {
    let scratch = Scratch::new("ignore");
    let log = scratch.path("log");
    let script = background_worker("", &log, "ignore") + "; exit 3";
    let start = Instant::now();
    let out = run(&["-v", "--grace", "500ms", "sh", "-c", &script]);
    let took = start.elapsed();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        took >= Duration::from_millis(500),
        "killed before the grace: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        out.stderr.contains("sent SIGTERM to the processes left"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("sent SIGKILL after"), "{}", out.stderr);
}

#[test]
fn sigterm_to_a_command_that_ignores_it_ends_in_sigkill_after_the_grace() {
    let start = Instant::now();
    let ns = Namespace::rinit(&[
        "-v",
        "--grace",
        "500ms",
        "sh",
        "-c",
        "trap '' TERM; sleep 30",
    ]);
    std::thread::sleep(Duration::from_millis(200));
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(10));
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(out
        .stderr
        .contains("still running after the grace period: SIGKILL"));
}

#[test]
fn a_second_sigterm_is_forwarded_again_and_does_not_restart_the_grace_period() {
    let scratch = Scratch::new("second-term");
    let record = scratch.path("record");
    // A shell that notes every SIGTERM and carries on: only SIGKILL ends it.
    let script = format!(
        "trap 'echo 15 >> {record}' TERM; echo ready > {record}; while :; do sleep 0.05; done"
    );
    let ns = Namespace::rinit(&["--grace", "2s", "-r", "INT:TERM", "sh", "-c", &script]);
    scratch.wait_for("record", "ready");
    let start = Instant::now();
    ns.signal(libc::SIGINT); // rewritten to SIGTERM, which starts the grace period
    std::thread::sleep(Duration::from_millis(1200));
    ns.signal(libc::SIGINT); // again, 1.2 s in
    let out = ns.finish(Duration::from_secs(15));
    let took = start.elapsed();
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(
        took < Duration::from_millis(3000),
        "grace restarted? {took:?}"
    );
    let terms = scratch
        .read("record")
        .lines()
        .filter(|l| *l == "15")
        .count();
    assert!(terms >= 1, "{}", scratch.read("record"));
}

#[test]
fn processes_that_called_setsid_get_their_chance_too() {
    let scratch = Scratch::new("setsid");
    let log = scratch.path("log");
    let script = background_worker("setsid", &log, "200");
    let out = run(&["sh", "-c", &script]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
}

#[test]
fn as_a_subreaper_it_ends_only_its_own_descendants() {
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("subreaper-shutdown");
    let log = scratch.path("log");
    // PID 1 is a shell with an unrelated sleeper; rinit is only a subreaper beside it.
    let script = format!(
        "sleep 30 & other=$!; \
         {rinit} -- sh -c 'setsid {kit} worker {log} 200 & until [ -s {log} ]; do sleep 0.01; done'; \
         echo rinit-exit=$?; kill -0 $other && echo other-alive",
        rinit = rinit().display(),
        kit = testkit()
    );
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    assert_eq!(out.stdout, "rinit-exit=0\nother-alive\n", "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
}

#[test]
fn pause_mode_reaps_and_exits_0_on_sigterm_or_sigint() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let ns = Namespace::rinit(&["-P"]);
        let pid = ns.pid1();
        std::thread::sleep(Duration::from_millis(100));
        ns.signal(libc::SIGHUP); // not a stop signal: ignored
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            proc_status(pid, "State").starts_with('S'),
            "still running after SIGHUP"
        );
        ns.signal(signal);
        assert_eq!(ns.finish(Duration::from_secs(10)).code, 0);
    }
}

/// `rinit ARGS -- testkit worker LOG DELAY_MS` as PID 1; returns once the worker has started.
fn worker_as_command(scratch: &Scratch, args: &[&str], delay_ms: &str) -> Namespace {
    let log = scratch.path("log");
    let kit = testkit();
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--", &kit, "worker", &log, delay_ms]);
    let ns = Namespace::rinit(&full);
    scratch.wait_for("log", "started");
    ns
}

#[test]
fn a_command_needing_7_s_after_sigterm_is_not_killed_under_the_defaults() {
    let scratch = Scratch::new("slow-stop");
    let ns = worker_as_command(&scratch, &[], "7000");
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(30));
    assert_eq!(out.code, 0, "the command finished by itself: {out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
    assert!(
        start.elapsed() >= Duration::from_secs(7),
        "the command's own time"
    );
}

#[test]
fn with_an_explicit_grace_a_slow_stop_is_sigkilled_at_the_grace() {
    let scratch = Scratch::new("grace-2s");
    let ns = worker_as_command(&scratch, &["--grace", "2s"], "7000");
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(30));
    let took = start.elapsed();
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
    assert!(took >= Duration::from_secs(2), "before the grace: {took:?}");
    assert!(
        took < Duration::from_secs(6),
        "long after the grace: {took:?}"
    );
    assert_eq!(scratch.read("log"), "started\n", "killed before saving");
}

#[test]
fn rinit_grace_in_the_environment_is_an_explicit_grace_too() {
    let scratch = Scratch::new("grace-env");
    let log = scratch.path("log");
    let mut command = namespace_command(
        &rinit().display().to_string(),
        &["--", &testkit(), "worker", &log, "7000"],
    );
    command
        .env("RINIT_GRACE", "1s")
        .stdin(std::process::Stdio::null());
    let ns = Namespace::start_command(command);
    scratch.wait_for("log", "started");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(30));
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
}

#[test]
fn leftovers_of_a_natural_exit_get_sigterm_then_sigkill_after_the_default_5_s() {
    let scratch = Scratch::new("default-grace");
    let log = scratch.path("log");
    let script = format!(
        "{kit} worker {log}.ignore ignore & {kit} worker {log} 100 & \
         until [ -s {log} ] && [ -s {log}.ignore ]; do sleep 0.01; done; exit 3",
        kit = testkit()
    );
    let start = Instant::now();
    let out = run(&["-v", "sh", "-c", &script]);
    let took = start.elapsed();
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(
        scratch.read("log"),
        "started\nsaved\n",
        "SIGTERM reached it"
    );
    assert!(
        took >= Duration::from_secs(5),
        "before the default grace: {took:?}"
    );
    assert!(took < Duration::from_secs(9), "long after it: {took:?}");
    assert!(
        out.stderr.contains("sent SIGKILL after the grace period"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_process_entered_with_nsenter_gets_sigterm_and_its_chance() {
    let scratch = Scratch::new("nsenter");
    let log = scratch.path("log");
    let gate = scratch.path("gate");
    let script = format!("until [ -e {gate} ]; do sleep 0.02; done; exit 6");
    let ns = Namespace::rinit(&["-v", "sh", "-c", &script]);
    // Not rinit's child: its parent is nsenter, outside the namespace.
    let mut entered = std::process::Command::new("nsenter")
        .args(["-t", &ns.pid1().to_string(), "-p", "-m", "--"])
        .args([&testkit(), "worker", &log, "400"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("nsenter");
    scratch.wait_for("log", "started");
    std::fs::write(&gate, "").unwrap();
    let out = ns.finish(Duration::from_secs(20));
    let _ = wait_or_stop(&mut entered, Duration::from_secs(10), |c| {
        let _ = c.kill();
    });
    assert_eq!(out.code, 6, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("waiting for processes that are not rinit's children"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_signal_other_than_term_or_int_after_the_command_exited_reaches_nobody() {
    let scratch = Scratch::new("usr1-draining");
    let log = scratch.path("log");
    // The worker saves 1 s after SIGTERM; SIGUSR1's default action would kill it.
    let script = background_worker("", &log, "1000");
    let ns = Namespace::rinit(&["-vv", "sh", "-c", &script]);
    let stderr = ns.path("stderr");
    let seen = eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&stderr)
            .unwrap_or_default()
            .contains("sent SIGTERM to the processes left")
    });
    assert!(seen, "draining did not start");
    ns.signal(libc::SIGUSR1);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("dropped SIGUSR1: the command has exited"),
        "{}",
        out.stderr
    );
}

#[test]
fn huge_durations_mean_no_deadline_and_never_crash() {
    for huge in [
        "18446744073709551615",
        "307445734561825860m",
        "99999999999999999999999999999999999999999999ms",
        "1.000000000000000000000000000001",
    ] {
        let scratch = Scratch::new("huge");
        // A stop with rinit's own (huge) deadline.
        let ns = worker_as_command(&scratch, &["--grace", huge], "100");
        ns.signal(libc::SIGTERM);
        let out = ns.finish(Duration::from_secs(20));
        assert_eq!(out.code, 0, "--grace {huge}: {out:?}");
        assert_eq!(scratch.read("log"), "started\nsaved\n");
        // A natural exit whose leftover needs a moment.
        let log = scratch.path("left");
        let script = background_worker("", &log, "100");
        let mut command = namespace_command(&rinit().display().to_string(), &["sh", "-c", &script]);
        command
            .env("RINIT_GRACE", huge)
            .stdin(std::process::Stdio::null());
        let out = Namespace::start_command(command).finish(Duration::from_secs(20));
        assert_eq!(out.code, 0, "RINIT_GRACE={huge}: {out:?}");
        assert_eq!(scratch.read("left"), "started\nsaved\n");
    }
}

/// `sh -c SCRIPT` as PID 1 of a PID namespace whose /proc is the host's (no --mount-proc).
fn namespace_with_the_hosts_proc(script: &str) -> Namespace {
    let mut command = std::process::Command::new("unshare");
    command
        .args(["--pid", "--fork", "--kill-child", "sh", "-c", script])
        .stdin(std::process::Stdio::null());
    Namespace::start_command(command)
}

#[test]
fn with_a_foreign_proc_a_subreaper_reaches_only_its_group_and_spares_a_sibling() {
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("foreign-proc");
    let log = scratch.path("log");
    let script = format!(
        "sleep 30 & sibling=$!; \
         {rinit} --grace 1s -- sh -c '{kit} worker {log} 200 & until [ -s {log} ]; do sleep 0.01; done'; \
         echo rinit-exit=$?; kill -0 $sibling && echo sibling-alive",
        rinit = rinit().display(),
        kit = testkit()
    );
    let out = namespace_with_the_hosts_proc(&script).finish(Duration::from_secs(20));
    assert_eq!(out.stdout, "rinit-exit=0\nsibling-alive\n", "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
    assert!(
        out.stderr.contains(
            "/proc belongs to another PID namespace: the shutdown reaches only the command and its process group"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn without_a_procfs_a_subreaper_reaches_the_group_and_still_ends_at_the_grace() {
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("no-proc");
    let log = scratch.path("log");
    let stray = scratch.path("stray");
    // The group's worker saves on SIGTERM; a setsid'd one ignores it, out of rinit's reach.
    let script = format!(
        "mount -t tmpfs none /proc || exit 99; \
         {rinit} --grace 1s -- sh -c 'setsid {kit} worker {stray} ignore & {kit} worker {log} 200 & \
         until [ -s {log} ] && [ -s {stray} ]; do sleep 0.01; done; exit 5'; \
         echo rinit-exit=$?",
        rinit = rinit().display(),
        kit = testkit()
    );
    let start = Instant::now();
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    let took = start.elapsed();
    assert_eq!(out.stdout, "rinit-exit=5\n", "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(
        out.stderr
            .contains("/proc is not mounted (or not a procfs)"),
        "{}",
        out.stderr
    );
}
