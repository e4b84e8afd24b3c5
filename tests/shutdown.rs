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
    assert!(
        out.stderr.contains("the grace period ended: sent SIGKILL"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigterm_to_a_command_that_ignores_it_ends_in_sigkill_at_the_stop_timeout() {
    let scratch = Scratch::new("ignores-term");
    let ready = scratch.path("ready");
    let script = format!("trap '' TERM; echo ready > {ready}; sleep 30");
    let ns = Namespace::rinit(&["-v", "--stop-timeout", "500ms", "sh", "-c", &script]);
    scratch.wait_for("ready", "ready");
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(10));
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        out.stderr
            .contains("still running when the stop timeout ended: SIGKILL"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_second_sigterm_is_forwarded_again_and_does_not_restart_the_stop_timeout() {
    let scratch = Scratch::new("second-term");
    let record = scratch.path("record");
    // A shell that notes every SIGTERM and carries on: only SIGKILL ends it.
    let script = format!(
        "trap 'echo 15 >> {record}' TERM; echo ready > {record}; while :; do sleep 0.05; done"
    );
    let ns = Namespace::rinit(&[
        "--stop-timeout",
        "3s",
        "-r",
        "INT:TERM",
        "sh",
        "-c",
        &script,
    ]);
    scratch.wait_for("record", "ready");
    let start = Instant::now();
    ns.signal(libc::SIGINT); // rewritten to SIGTERM, which starts the stop timeout
    scratch.wait_for("record", "15\n");
    // Again, 2 s in: the deadline stays at 3 s; restarted, it would move to 5 s.
    std::thread::sleep(Duration::from_secs(2).saturating_sub(start.elapsed()));
    ns.signal(libc::SIGINT);
    let out = ns.finish(Duration::from_secs(15));
    let took = start.elapsed();
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(
        took < Duration::from_millis(4500),
        "timeout restarted? {took:?}"
    );
    let terms = scratch
        .read("record")
        .lines()
        .filter(|l| *l == "15")
        .count();
    assert_eq!(terms, 2, "both were forwarded: {}", scratch.read("record"));
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
fn pause_mode_reaps_orphans_drops_other_signals_and_exits_0_on_sigterm_or_sigint() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let ns = Namespace::rinit(&["-P", "-vv"]);
        let pid = ns.pid1();
        wait_until_listening(pid);
        // Orphans of a process entered from outside come to PID 1, rinit: their zombies go.
        let kit = testkit();
        let enter = |args: &[&str]| {
            let out = ns
                .enter(&[&[kit.as_str()], args].concat())
                .output()
                .expect("nsenter");
            assert!(out.status.success(), "{out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        enter(&["orphans", "50"]);
        assert_eq!(enter(&["zombies", "10"]), "zombies=0\n");
        ns.signal(libc::SIGHUP); // not a stop signal: dropped
        ns.wait_for_stderr("dropped SIGHUP: pause mode runs no command");
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
fn with_a_stop_timeout_a_slow_stop_is_sigkilled_at_the_timeout() {
    let scratch = Scratch::new("stop-timeout-2s");
    let ns = worker_as_command(&scratch, &["--stop-timeout", "2s"], "7000");
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
fn rinit_stop_timeout_in_the_environment_bounds_a_stop_too() {
    let scratch = Scratch::new("stop-timeout-env");
    let log = scratch.path("log");
    let mut command = namespace_command(
        &rinit().display().to_string(),
        &["--", &testkit(), "worker", &log, "7000"],
    );
    command
        .env("RINIT_STOP_TIMEOUT", "1s")
        .stdin(std::process::Stdio::null());
    let ns = Namespace::start_command(command);
    scratch.wait_for("log", "started");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(30));
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
}

#[test]
fn an_explicit_grace_no_longer_bounds_a_stop() {
    // --grace is the wait after a natural exit only: the stop's deadline stays the sender's.
    let scratch = Scratch::new("grace-not-stop");
    let ns = worker_as_command(&scratch, &["--grace", "1s"], "2500");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(30));
    assert_eq!(
        out.code, 0,
        "the command saved and exited by itself: {out:?}"
    );
    assert_eq!(scratch.read("log"), "started\nsaved\n");
}

#[test]
fn grace_none_waits_for_the_processes_left_past_the_default_5_s() {
    let scratch = Scratch::new("grace-none");
    let log = scratch.path("log");
    let script = background_worker("", &log, "6000") + "; exit 2";
    let start = Instant::now();
    let out = run(&["--grace", "none", "sh", "-c", &script]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        scratch.read("log"),
        "started\nsaved\n",
        "not SIGKILLed at 5 s"
    );
    assert!(start.elapsed() >= Duration::from_secs(6));
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
        out.stderr
            .contains("the grace period ended: sent SIGKILL to"),
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
    let mut entered = ns
        .enter(&[&testkit(), "worker", &log, "400"])
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
    ns.wait_for_stderr("sent SIGTERM to the processes left");
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
    // Each value in its own thread, at once: a worker that needs 6 s, longer than the default
    // grace (5 s), saves only if the value really means "no deadline", not one that wrapped
    // or was clamped to a few seconds.
    // Every thread is joined before the test fails, so each cleans up its namespace and
    // every failing value is named.
    let failed: Vec<&str> = std::thread::scope(|scope| {
        let runs: Vec<_> = [
            "18446744073709551615",
            "307445734561825860m",
            "99999999999999999999999999999999999999999999ms",
            "5124095576030431h",
            "none",
            "inf",
        ]
        .into_iter()
        .map(|huge| (huge, scope.spawn(move || huge_duration_saves(huge))))
        .collect();
        runs.into_iter()
            .filter_map(|(huge, run)| run.join().is_err().then_some(huge))
            .collect()
    });
    assert!(failed.is_empty(), "failed for {failed:?}");
}

fn huge_duration_saves(huge: &str) {
    let scratch = Scratch::new("huge");
    // A stop with rinit's own (huge) deadline.
    let ns = worker_as_command(&scratch, &["--stop-timeout", huge], "6000");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(40));
    assert_eq!(out.code, 0, "--stop-timeout {huge}: {out:?}");
    assert_eq!(
        scratch.read("log"),
        "started\nsaved\n",
        "--stop-timeout {huge}"
    );
    // A natural exit whose leftover needs 6 s.
    let log = scratch.path("left");
    let script = background_worker("", &log, "6000");
    let mut command = namespace_command(&rinit().display().to_string(), &["sh", "-c", &script]);
    command
        .env("RINIT_GRACE", huge)
        .stdin(std::process::Stdio::null());
    let out = Namespace::start_command(command).finish(Duration::from_secs(40));
    assert_eq!(out.code, 0, "RINIT_GRACE={huge}: {out:?}");
    assert_eq!(
        scratch.read("left"),
        "started\nsaved\n",
        "RINIT_GRACE={huge}"
    );
}

#[test]
fn a_duration_with_a_long_fraction_is_that_duration_not_none() {
    // The other side: 1.000...1 s is about 1 s, not rounded off to "no deadline".
    let scratch = Scratch::new("tiny");
    let ns = worker_as_command(
        &scratch,
        &["--stop-timeout", "1.000000000000000000000000000001"],
        "6000",
    );
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(40));
    assert_eq!(out.code, 128 + libc::SIGKILL, "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_stop_during_the_grace_is_heard_by_everyone_left_and_its_sender_owns_the_deadline() {
    let scratch = Scratch::new("stop-in-grace");
    let (worker, log) = (scratch.path("worker.sh"), scratch.path("log"));
    // Notes each SIGTERM; the second one starts a save that outlasts the 1 s grace.
    std::fs::write(
        &worker,
        "n=0\n\
         trap 'n=$((n+1)); echo term >> $1; [ $n -ge 2 ] && { sleep 2; echo saved >> $1; exit 0; }' TERM\n\
         echo started >> $1\n\
         while :; do sleep 0.05; done\n",
    )
    .unwrap();
    let script = format!("sh {worker} {log} & until [ -s {log} ]; do sleep 0.01; done; exit 4");
    for (extra, saved) in [(None, true), (Some("500ms"), false)] {
        std::fs::write(&log, "").unwrap();
        let mut args = vec!["-v", "--grace", "1s"];
        if let Some(timeout) = extra {
            args.extend(["--stop-timeout", timeout]);
        }
        args.extend(["sh", "-c", &script]);
        let ns = Namespace::rinit(&args);
        // The command exited by itself: the worker heard the grace's SIGTERM.
        scratch.wait_for("log", "term");
        ns.signal(libc::SIGTERM);
        let out = ns.finish(Duration::from_secs(20));
        assert_eq!(out.code, 4, "the command's own code: {out:?}");
        let expected = match saved {
            true => "started\nterm\nterm\nsaved\n",
            false => "started\nterm\nterm\n",
        };
        assert_eq!(
            scratch.read("log"),
            expected,
            "--stop-timeout {extra:?}: {}",
            out.stderr
        );
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

/// Writes `saver.sh` to `scratch`: a shell that notes `term` on each SIGTERM, then saves with a
/// helper process it forks (`helper-done`) before it notes `saved` and exits 0. A second
/// SIGTERM shows as a second `term`, or kills the helper (no `helper-done`).
fn saver(scratch: &Scratch) -> String {
    let path = scratch.path("saver.sh");
    std::fs::write(
        &path,
        "log=$1\n\
         trap 'echo term >> $log; (sleep 1; echo helper-done >> $log); echo saved >> $log; exit 0' TERM\n\
         echo started >> $log\n\
         while :; do sleep 0.05; done\n",
    )
    .unwrap();
    path
}

/// Writes `command.sh`: a worker in the command's process group (`group` log), one that
/// called setsid (`setsid` log), then `exec`s a server that exits at once on SIGTERM, once all
/// three are ready (`server` log).
fn group_and_setsid_workers(scratch: &Scratch) -> String {
    let saver = saver(scratch);
    let (group, setsid, server) = (
        scratch.path("group"),
        scratch.path("setsid"),
        scratch.path("server"),
    );
    let path = scratch.path("command.sh");
    std::fs::write(
        &path,
        format!(
            "sh {saver} {group} & setsid sh {saver} {setsid} &\n\
             until [ -s {group} ] && [ -s {setsid} ]; do sleep 0.01; done\n\
             exec {kit} worker {server} 0\n",
            kit = testkit()
        ),
    )
    .unwrap();
    path
}

fn assert_each_worker_heard_sigterm_once(scratch: &Scratch, stderr: &str) {
    for log in ["group", "setsid"] {
        assert_eq!(
            scratch.read(log),
            "started\nterm\nhelper-done\nsaved\n",
            "the {log} worker: {stderr}"
        );
    }
}

#[test]
fn a_stop_reaches_each_process_once_as_pid_1() {
    let scratch = Scratch::new("once-pid1");
    let command = group_and_setsid_workers(&scratch);
    let ns = Namespace::rinit(&["-v", "--", "sh", &command]);
    scratch.wait_for("server", "started");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_each_worker_heard_sigterm_once(&scratch, &out.stderr);
    assert!(
        out.stderr
            .contains("sent SIGTERM to the processes left but the command's group"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_stop_reaches_each_process_once_as_a_subreaper() {
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("once-subreaper");
    let command = group_and_setsid_workers(&scratch);
    let script = format!(
        "{} -v -- sh {command}; echo rinit-exit=$?",
        rinit().display()
    );
    let ns = Namespace::start("sh", &["-c", &script]);
    scratch.wait_for("server", "started");
    let rinit_pid = children(ns.pid1())[0];
    // SAFETY: a signal to the rinit this test started.
    unsafe { libc::kill(rinit_pid, libc::SIGTERM) };
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.stdout, "rinit-exit=0\n", "{out:?}");
    assert_each_worker_heard_sigterm_once(&scratch, &out.stderr);
}

#[test]
fn as_a_subreaper_it_reaps_what_it_killed_before_it_exits() {
    if skip_without_subreaper() {
        return;
    }
    // Twenty workers of 100 threads each ignore SIGTERM; the grace ends in SIGKILL. rinit must
    // then wait for the killed (up to a second): if it exited at once, the dying would be
    // re-parented to its parent, which an engine takes for processes still running after the
    // container exited. Their threads make their deaths slow enough to tell the two apart.
    let scratch = Scratch::new("kill-wait");
    let (kit, dir, rinit) = (testkit(), scratch.path(""), rinit());
    let script = format!(
        "for i in $(seq 20); do {kit} worker {dir}/w$i ignore:100 & done; \
         until [ $(cat {dir}/w* 2>/dev/null | grep -c started) -eq 20 ]; do sleep 0.01; done"
    );
    let rinit = rinit.to_str().unwrap();
    let args = [
        "tree", "holder", &dir, rinit, "-v", "--grace", "1s", "--", "sh", "-c", &script,
    ];
    let out = Namespace::start(&kit, &args).finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("the grace period ended: sent SIGKILL to"),
        "{}",
        out.stderr
    );
    let holder = scratch.read("holder");
    assert!(
        holder.contains("ended code=0 ") && holder.ends_with(" left=0\n"),
        "{holder}"
    );
}

/// rinit's CPU time so far (user and system), in clock ticks, from the host's /proc.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("rinit's stat");
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn no_busy_loop_while_an_adopted_process_finishes_after_its_entered_parent_exited() {
    let scratch = Scratch::new("no-busy-loop");
    let log = scratch.path("log");
    let gate = scratch.path("gate");
    let script = format!("until [ -e {gate} ]; do sleep 0.02; done; exit 6");
    let ns = Namespace::rinit(&["-v", "sh", "-c", &script]);
    let pid1 = ns.pid1();
    // As `docker exec sh -c 'worker & wait'`: a shell entered from outside, not rinit's child,
    // whose worker is adopted by rinit when SIGTERM ends the shell.
    let entered = format!("{} worker {log} 3000 & wait", testkit());
    let mut nsenter = ns
        .enter(&["sh", "-c", &entered])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("nsenter");
    scratch.wait_for("log", "started");
    std::fs::write(&gate, "").unwrap();
    ns.wait_for_stderr("waiting for processes that are not rinit's children");
    // SIGTERM ended the entered shell, and nsenter with it: only its worker is left.
    let shell_gone = eventually(Duration::from_secs(10), || {
        nsenter.try_wait().is_ok_and(|status| status.is_some())
    });
    assert!(shell_gone, "the entered shell did not end");
    let before = cpu_ticks(pid1);
    std::thread::sleep(Duration::from_millis(1500));
    let spent = cpu_ticks(pid1) - before;
    let out = ns.finish(Duration::from_secs(20));
    let _ = wait_or_stop(&mut nsenter, Duration::from_secs(10), |c| {
        let _ = c.kill();
    });
    assert_eq!(out.code, 6, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n", "{}", out.stderr);
    // A busy loop spends most of the 1.5 s (150 ticks at 100 Hz); waiting spends none.
    assert!(
        spent < 20,
        "rinit spent {spent} ticks of CPU while draining"
    );
}

/// `testkit no-pidfd unshare ... PROGRAM ARGS`: a namespace where pidfd_open fails with EPERM.
fn namespace_without_pidfds(program: &str, args: &[&str]) -> Namespace {
    namespace_refusing("no-pidfd", program, args)
}

/// `testkit FILTER unshare ... PROGRAM ARGS`: a namespace under one of the test helper's
/// seccomp filters (`no-pidfd`, `no-pidfd-send`).
fn namespace_refusing(filter: &str, program: &str, args: &[&str]) -> Namespace {
    let mut command = std::process::Command::new(testkit());
    command
        .args([
            filter,
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
        ])
        .arg(program)
        .args(args)
        .stdin(std::process::Stdio::null());
    Namespace::start_command(command)
}

#[test]
fn with_pidfd_open_refused_pid_1_still_waits_for_an_entered_process() {
    let scratch = Scratch::new("no-pidfd-pid1");
    let log = scratch.path("log");
    let gate = scratch.path("gate");
    let script = format!("until [ -e {gate} ]; do sleep 0.02; done; exit 6");
    let ns = namespace_without_pidfds(&rinit().display().to_string(), &["-v", "sh", "-c", &script]);
    let mut entered = ns
        .enter(&[&testkit(), "worker", &log, "600"])
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
        out.stderr.contains(
            "pidfd_open refused (operation not permitted; a seccomp filter?): processes that \
             are not rinit's children are checked every 250 ms"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn with_a_pidfd_call_refused_a_subreaper_still_reaches_a_setsid_worker() {
    if skip_without_subreaper() {
        return;
    }
    for (filter, said) in [
        (
            "no-pidfd",
            "pidfd_open refused (operation not permitted; a seccomp filter?): signalling \
             descendants by pid",
        ),
        // pidfd_open works, sending through the pidfd does not: nobody got SIGTERM before.
        (
            "no-pidfd-send",
            "pidfd_send_signal refused (operation not permitted; a seccomp filter?): \
             signalling descendants by pid",
        ),
    ] {
        let scratch = Scratch::new(filter);
        let log = scratch.path("log");
        let script = format!(
            "{rinit} -v --grace 3s -- sh -c 'setsid {kit} worker {log} 300 & until [ -s {log} ]; do sleep 0.01; done'; \
             echo rinit-exit=$?",
            rinit = rinit().display(),
            kit = testkit()
        );
        let start = Instant::now();
        let out =
            namespace_refusing(filter, "sh", &["-c", &script]).finish(Duration::from_secs(20));
        assert_eq!(out.stdout, "rinit-exit=0\n", "{filter}: {out:?}");
        assert_eq!(
            scratch.read("log"),
            "started\nsaved\n",
            "{filter}: {}",
            out.stderr
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{filter}: SIGKILLed at the grace"
        );
        assert!(out.stderr.contains(said), "{filter}: {}", out.stderr);
    }
}

#[test]
fn v_names_a_sender_outside_the_namespace_and_one_inside_by_pid() {
    let scratch = Scratch::new("senders");
    let record = scratch.path("record");
    let ns = Namespace::rinit(&["-v", "--", &testkit(), "record", &record]);
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGUSR1);
    scratch.wait_for("record", "\n10\n");
    let inside = ns
        .enter(&["sh", "-c", "kill -USR2 1"])
        .status()
        .expect("nsenter");
    assert!(inside.success());
    scratch.wait_for("record", "\n12\n");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("received SIGUSR1 from outside the PID namespace"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("received SIGUSR2 from pid "),
        "{}",
        out.stderr
    );
}

#[test]
fn stop_delay_holds_sigterm_while_other_signals_pass_then_forwards_it() {
    let scratch = Scratch::new("stop-delay");
    let record = scratch.path("record");
    let ns = Namespace::rinit(&[
        "-v",
        "--stop-delay",
        "4s",
        "--",
        &testkit(),
        "record",
        &record,
    ]);
    scratch.wait_for("record", "ready");
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    ns.signal(libc::SIGUSR1);
    scratch.wait_for("record", "\n10\n");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "SIGUSR1 waited for the delay"
    );
    assert_eq!(scratch.read("record"), "ready\n10\n", "SIGTERM is held");
    let out = ns.finish(Duration::from_secs(20));
    let took = start.elapsed();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("record"), "ready\n10\n15\n");
    assert!(took >= Duration::from_secs(4), "released early: {took:?}");
    assert!(took < Duration::from_secs(8), "released late: {took:?}");
    assert!(
        out.stderr
            .contains("holding SIGTERM for 4s (--stop-delay): the command keeps running"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_second_sigterm_ends_the_stop_delay_and_the_command_hears_it_once() {
    let scratch = Scratch::new("stop-delay-twice");
    let record = scratch.path("record");
    // Forwarded as a real-time signal, which the kernel queues: two forwards would show as two
    // lines, where two SIGTERMs sent back to back would merge into one.
    let ns = Namespace::rinit(&[
        "-v",
        "--stop-delay",
        "30s",
        "-r",
        "TERM:RTMIN+1",
        "--",
        &testkit(),
        "record",
        &record,
    ]);
    scratch.wait_for("record", "ready");
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    ns.wait_for_stderr("holding SIGTERM for 30s");
    ns.signal(libc::SIGTERM);
    // RTMIN+1 is 35; qemu-user renumbers real-time signals, so only the count is checked.
    let forwarded = || scratch.read("record").lines().skip(1).count();
    assert!(eventually(Duration::from_secs(10), || forwarded() > 0));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the delay ran on"
    );
    // rinit handles its signals in order: once the SIGUSR1 sent now is forwarded, whatever the
    // two SIGTERMs caused has been done, and its log shows it.
    ns.signal(libc::SIGUSR1);
    scratch.wait_for("record", "\n10\n");
    let out = ns.finish_now();
    let forwards = out
        .stderr
        .lines()
        .filter(|line| line.contains("(received SIGTERM) to process group"))
        .count();
    assert_eq!(forwards, 1, "forwarded once: {}", out.stderr);
    assert_eq!(
        scratch
            .read("record")
            .lines()
            .filter(|l| *l != "10")
            .count(),
        2,
        "ready and one forward: {}",
        scratch.read("record")
    );
}

#[test]
fn the_commands_exit_ends_the_stop_delay_with_its_status() {
    let scratch = Scratch::new("stop-delay-exit");
    let ready = scratch.path("ready");
    let script = format!("echo ready > {ready}; sleep 1; exit 3");
    let mut command = namespace_command(&rinit().display().to_string(), &["sh", "-c", &script]);
    command
        .env("RINIT_STOP_DELAY", "30s")
        .stdin(std::process::Stdio::null());
    let ns = Namespace::start_command(command);
    scratch.wait_for("ready", "ready");
    let start = Instant::now();
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 3, "the command never got SIGTERM: {out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the delay ran on"
    );
}

#[test]
fn an_invalid_stop_option_is_a_usage_error() {
    for (args, env, message) in [
        (
            &["--stop-delay", "soon", "true"][..],
            None,
            "rinit: --stop-delay: 'soon' is not a duration (use e.g. 500ms, 5s, 1m, 2h, seconds, or none) (see 'rinit --help')\n",
        ),
        (
            &["--stop-timeout", "-1", "true"][..],
            None,
            "rinit: --stop-timeout: '-1' is not a duration (use e.g. 500ms, 5s, 1m, 2h, seconds, or none) (see 'rinit --help')\n",
        ),
        (
            &["true"][..],
            Some(("RINIT_STOP_DELAY", "1d")),
            "rinit: RINIT_STOP_DELAY: '1d' is not a duration (use e.g. 500ms, 5s, 1m, 2h, seconds, or none) (see 'rinit --help')\n",
        ),
        (
            &["--stop-signal", "KILL", "true"][..],
            None,
            "rinit: --stop-signal: SIGKILL never reaches rinit's forwarding, so it cannot mean stop (see 'rinit --help')\n",
        ),
        (
            &["true"][..],
            Some(("RINIT_STOP_SIGNAL", "QUIT,CHLD")),
            "rinit: RINIT_STOP_SIGNAL: SIGCHLD never reaches rinit's forwarding, so it cannot mean stop (see 'rinit --help')\n",
        ),
        (
            &["--stop-timeout", "2s", "--stop-delay", "5s", "true"][..],
            None,
            "rinit: --stop-timeout 2s is not longer than --stop-delay 5s: the command would be SIGKILLed before it ever got its stop signal (RINIT_STOP_TIMEOUT, RINIT_STOP_DELAY) (see 'rinit --help')\n",
        ),
        (
            &["--stop-timeout", "5s", "--stop-delay", "none", "true"][..],
            None,
            "rinit: --stop-timeout 5s is not longer than --stop-delay none: the command would be SIGKILLed before it ever got its stop signal (RINIT_STOP_TIMEOUT, RINIT_STOP_DELAY) (see 'rinit --help')\n",
        ),
        (
            &["-P"][..],
            Some(("RINIT_STOP_DELAY", "5s")),
            "rinit: --pause runs no command, so --stop-delay (RINIT_STOP_DELAY) has nothing to hold (see 'rinit --help')\n",
        ),
    ] {
        let mut command = std::process::Command::new(rinit());
        command.args(args);
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let out = command.output().expect("run rinit");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message, "{args:?}");
    }
}

#[test]
fn a_process_entered_while_draining_gets_sigterm_once_and_promptly() {
    let scratch = Scratch::new("arrival");
    let (first, arrival) = (scratch.path("first"), scratch.path("arrival"));
    // A setsid'd worker that takes 4 s to save keeps rinit draining, with nothing to wake it.
    let script = background_worker("setsid", &first, "4000");
    let ns = Namespace::rinit(&["-v", "--grace", "6s", "sh", "-c", &script]);
    ns.wait_for_stderr("sent SIGTERM to the processes left");
    // A `docker exec` into the stopping container: its parent is outside the namespace.
    let mut entered = ns
        .enter_with_sigterm_blocked(&[&testkit(), "worker", &arrival, "300"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("nsenter");
    scratch.wait_for("arrival", "started");
    // Saved 300 ms after its SIGTERM: told within 2 s, while the first worker still saves.
    let told = eventually(Duration::from_millis(2300), || {
        scratch.read("arrival").contains("saved")
    });
    assert!(
        told,
        "not told within 2 s, while the first worker still saves"
    );
    let out = ns.finish(Duration::from_secs(20));
    let _ = wait_or_stop(&mut entered, Duration::from_secs(10), |c| {
        let _ = c.kill();
    });
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("first"), "started\nsaved\n");
    assert_eq!(
        scratch.read("arrival"),
        "started\nsaved\n",
        "{}",
        out.stderr
    );
    // Once: the told list is said each time it is not empty.
    let told = out
        .stderr
        .matches("sent SIGTERM to processes that came since, with nobody else to stop them: [")
        .count();
    assert_eq!(told, 1, "{}", out.stderr);
}

#[test]
fn after_a_sigint_the_background_jobs_still_get_sigterm() {
    // A shell starts its background jobs with SIGINT ignored: the forwarded SIGINT reaches only
    // the shell, so the jobs must get SIGTERM when it exits.
    let scratch = Scratch::new("sigint");
    let ready = scratch.path("ready");
    let script = format!("sleep 100 & echo ready > {ready}; wait");
    let ns = Namespace::rinit(&["-v", "sh", "-c", &script]);
    scratch.wait_for("ready", "ready");
    // "ready" comes right after the job's fork: wait until the job really ignores SIGINT,
    // the state the test is about (under load the signal could otherwise still kill it).
    let ignores_sigint = |pid: i32| {
        u64::from_str_radix(&proc_status(pid, "SigIgn"), 16)
            .is_ok_and(|mask| mask & 1 << (libc::SIGINT - 1) != 0)
    };
    let job_ready = eventually(Duration::from_secs(10), || {
        children(ns.pid1())
            .into_iter()
            .flat_map(children)
            .any(ignores_sigint)
    });
    assert!(job_ready, "the background job never ignored SIGINT");
    let start = Instant::now();
    ns.signal(libc::SIGINT);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 128 + libc::SIGINT, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(5), "the job was left");
    assert!(
        out.stderr.contains("sent SIGTERM to the processes left: ["),
        "{}",
        out.stderr
    );
}

#[test]
fn a_stopped_process_in_the_spared_group_gets_sigcont_to_act_on_its_sigterm() {
    let scratch = Scratch::new("stopped");
    let (pid, log) = (scratch.path("pid"), scratch.path("log"));
    // A worker in the command's group, stopped before the stop: the forwarded SIGTERM waits in
    // it until a SIGCONT lets it run its handler.
    let script = format!(
        "sh -c 'trap \"echo handled >> {log}; exit 0\" TERM; echo $$ > {pid}; while :; do sleep 0.1; done' & \
         until [ -s {pid} ]; do sleep 0.01; done; kill -STOP $(cat {pid}); echo stopped >> {log}; \
         exec {kit} worker {log}.server 0",
        kit = testkit()
    );
    let ns = Namespace::rinit(&["-v", "sh", "-c", &script]);
    scratch.wait_for("log.server", "started");
    scratch.wait_for("log", "stopped");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "stopped\nhandled\n", "{}", out.stderr);
}

#[test]
fn a_stopped_process_outside_the_group_wakes_to_act_on_its_sigterm() {
    // A setsid'd worker, stopped, when the command exits: the drain's SIGTERM waits in it
    // until the SIGCONT sent with it lets it run its handler, well inside the 5 s grace.
    let scratch = Scratch::new("stopped-setsid");
    let log = scratch.path("log");
    let script = background_worker("setsid", &log, "0")
        + "; kill -STOP $!; until grep -q '^State:.*T' /proc/$!/status; do sleep 0.01; done";
    let start = Instant::now();
    let out = run(&["-v", "sh", "-c", &script]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n", "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(4), "{}", out.stderr);
}

#[test]
fn a_process_re_parented_to_rinit_while_draining_gets_sigterm_once() {
    // As `docker exec sh -c 'job &'` during a stop: the entered process exits, its job is
    // re-parented to PID 1, and only rinit is left to tell it to stop.
    let scratch = Scratch::new("reparented");
    let (first, main, arrival) = (
        scratch.path("first"),
        scratch.path("main"),
        scratch.path("arrival"),
    );
    // A setsid'd worker that takes 4 s keeps rinit draining.
    let script = format!(
        "setsid {kit} worker {first} 4000 & until [ -s {first} ]; do sleep 0.01; done; \
         exec {kit} worker {main} 0",
        kit = testkit()
    );
    let ns = Namespace::rinit(&["-v", "--", "sh", "-c", &script]);
    scratch.wait_for("main", "started");
    ns.signal(libc::SIGTERM);
    // The drain's first look is over (it told the first worker): whoever comes now is an
    // arrival. ("child N exited" is not enough: under qemu-user and load, the look can come
    // long after that line, and would find the newcomer there already.)
    ns.wait_for_stderr("sent SIGTERM to the processes left");
    // `adopted` forks a middle process that forks the arrival and exits at once. The entered
    // process is itself told (its parent is outside): none of the three may die of it.
    let entered = ns
        .enter_with_sigterm_blocked(&[&testkit(), "adopted", &arrival])
        .stdout(std::process::Stdio::null()) // not waited for: the arrival holds it open
        .status()
        .expect("nsenter");
    assert!(entered.success(), "{entered:?}");
    let out = ns.finish(Duration::from_secs(15));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("first"), "started\nsaved\n");
    // Told only if rinit looks past the parent it left behind: nobody else would tell it.
    assert_eq!(
        scratch.read("arrival"),
        "started\nsaved\n",
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("sent SIGTERM to processes that came since"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_process_whose_main_thread_ended_gets_sigterm_and_its_chance() {
    // Its leader shows Z in /proc while another thread runs: it is alive, and must be told.
    let scratch = Scratch::new("threaded");
    let (threaded, main) = (scratch.path("threaded"), scratch.path("main"));
    let script = format!(
        "setsid {kit} threaded {threaded} 300 & until [ -s {threaded} ]; do sleep 0.01; done; \
         exec {kit} worker {main} 0",
        kit = testkit()
    );
    let ns = Namespace::rinit(&["-v", "--", "sh", "-c", &script]);
    scratch.wait_for("main", "started");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(15));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        scratch.read("threaded"),
        "started\nsaved\n",
        "{}",
        out.stderr
    );
}

#[test]
fn a_stop_timeout_of_0_kills_at_once_and_no_handler_runs() {
    // The recorder notes every signal it gets; a SIGTERM forwarded before the SIGKILL would
    // show in some of the runs.
    for run in 0..10 {
        let scratch = Scratch::new("stop-timeout-0");
        let record = scratch.path("record");
        let ns = Namespace::rinit(&["--stop-timeout", "0", "--", &testkit(), "record", &record]);
        scratch.wait_for("record", "ready");
        ns.signal(libc::SIGTERM);
        let out = ns.finish(Duration::from_secs(10));
        assert_eq!(out.code, 128 + libc::SIGKILL, "run {run}: {out:?}");
        assert_eq!(
            scratch.read("record"),
            "ready\n",
            "run {run}: a handler ran"
        );
    }
}

#[test]
fn the_images_stop_signal_starts_a_stop_and_no_grace_cuts_a_worker_short() {
    // nginx's way: STOPSIGNAL SIGQUIT, and the command exits on it. A background worker needs
    // 2.5 s after its SIGTERM; the grace after a natural exit is 1 s.
    let none: [(&str, &str); 0] = [];
    let runs = [
        (&[][..], &none[..], false),
        (&["--stop-signal", "QUIT"][..], &none[..], true),
        (&[][..], &[("RINIT_STOP_SIGNAL", "HUP,QUIT")][..], true),
    ];
    for (args, env, saved) in runs {
        let scratch = Scratch::new("stop-signal");
        let (log, ready) = (scratch.path("log"), scratch.path("ready"));
        let script = background_worker("", &log, "2500")
            + &format!("; trap 'exit 0' QUIT; echo ready > {ready}; while :; do sleep 0.05; done");
        let mut full = vec!["-v", "--grace", "1s"];
        full.extend(args);
        full.extend(["--", "sh", "-c", &script]);
        let mut command = namespace_command(&rinit().display().to_string(), &full);
        command
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null());
        let ns = Namespace::start_command(command);
        scratch.wait_for("ready", "ready");
        ns.signal(libc::SIGQUIT);
        let out = ns.finish(Duration::from_secs(15));
        assert_eq!(out.code, 0, "{args:?} {env:?}: {out:?}");
        let expected = match saved {
            true => "started\nsaved\n",
            false => "started\n",
        };
        assert_eq!(
            scratch.read("log"),
            expected,
            "{args:?} {env:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn without_proc_pid_1_says_once_that_it_checks_every_250_ms() {
    let scratch = Scratch::new("no-proc-once");
    let (log, gate) = (scratch.path("log"), scratch.path("gate"));
    let script = format!("until [ -e {gate} ]; do sleep 0.02; done; exit 6");
    // PID 1 of a namespace whose /proc is the host's: it cannot list the namespace.
    let mut command = std::process::Command::new("unshare");
    command
        .args(["--pid", "--fork", "--kill-child"])
        .arg(rinit())
        .args(["-v", "sh", "-c", &script])
        .stdin(std::process::Stdio::null());
    let ns = Namespace::start_command(command);
    wait_until_listening(ns.pid1());
    let mut entered = std::process::Command::new("nsenter")
        .args(["-t", &ns.pid1().to_string(), "-p", "--"])
        .args([&testkit(), "worker", &log, "1500"])
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
    let said = out
        .stderr
        .matches("processes left that are not rinit's children; checking every 250 ms")
        .count();
    assert_eq!(said, 1, "{}", out.stderr);
}

#[test]
fn a_helper_the_group_started_after_its_sigterm_is_told_once_left_to_rinit() {
    // (No long-lived job beside it: a shell's freshly forked child still runs the shell's TERM
    // handler until it execs, and a SIGTERM landing there is lost; a 50 ms sleep ends anyway.)
    // The command's trap starts a worker after the forwarded SIGTERM, then exits: the worker,
    // in the command's group, never got that SIGTERM, and now only rinit can tell it.
    for args in [&["-v"][..], &["-v", "--stop-signal", "QUIT,TERM"][..]] {
        let scratch = Scratch::new("late-helper");
        let (log, ready) = (scratch.path("log"), scratch.path("ready"));
        let script = format!(
            "trap '{kit} worker {log} 200 & until [ -s {log} ]; do sleep 0.01; done; exit 0' TERM; \
             echo ready > {ready}; while :; do sleep 0.05; done",
            kit = testkit()
        );
        let mut full = args.to_vec();
        full.extend(["--", "sh", "-c", &script]);
        let ns = Namespace::rinit(&full);
        scratch.wait_for("ready", "ready");
        ns.signal(libc::SIGTERM);
        let out = ns.finish(Duration::from_secs(15));
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert_eq!(
            scratch.read("log"),
            "started\nsaved\n",
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// Writes `command` to `command.sh` and runs `rinit -v -- sh command.sh` as the child of a
/// shell that is PID 1, so that rinit is only a subreaper. With `stop_when`, the shell sends
/// rinit SIGTERM once that file is not empty. stdout ends with `rinit-exit=N`.
fn rinit_under_a_shell(scratch: &Scratch, command: &str, stop_when: Option<&str>) -> Outcome {
    let path = scratch.path("command.sh");
    std::fs::write(&path, command).unwrap();
    let rinit = rinit().display().to_string();
    let script = match stop_when {
        Some(file) => format!(
            "{rinit} -v -- sh {path} & r=$!; until [ -s {file} ]; do sleep 0.01; done; \
             kill -TERM $r; wait $r; echo rinit-exit=$?"
        ),
        None => format!("{rinit} -v -- sh {path}; echo rinit-exit=$?"),
    };
    Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20))
}

#[test]
fn as_a_subreaper_a_helper_left_to_it_during_the_drain_is_told_once() {
    // Found by bench/trees: a background saver starts a helper on its SIGTERM (the helper is
    // the saver's to stop while it lives), and leaves 0.5 s after the command did. The helper
    // becomes rinit's child without a word; nobody else will ever tell it.
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("subreaper-late-helper");
    let (ready, helper, main) = (
        scratch.path("ready"),
        scratch.path("helper"),
        scratch.path("main"),
    );
    let command = format!(
        "sh -c 'trap \"{kit} worker {helper} 300 & until [ -s {helper} ]; do sleep 0.01; done; \
         sleep 0.5; exit 0\" TERM; echo ready > {ready}; while :; do sleep 0.05; done' &\n\
         until [ -s {ready} ]; do sleep 0.01; done\n\
         exec {kit} worker {main} 0\n",
        kit = testkit()
    );
    let out = rinit_under_a_shell(&scratch, &command, Some(&main));
    assert_eq!(out.stdout, "rinit-exit=0\n", "{out:?}");
    assert_eq!(scratch.read("helper"), "started\nsaved\n", "{}", out.stderr);
    assert!(
        out.stderr
            .contains("sent SIGTERM to processes that came since"),
        "{}",
        out.stderr
    );
}

#[test]
fn as_a_subreaper_it_looks_for_a_helper_left_to_it_without_a_sigchld() {
    // P (setsid'd, 4 s to save) has a child S, which starts a helper H on its SIGTERM and
    // leaves 0.5 s later. H is re-parented to rinit, but S's exit signals only P: rinit hears
    // nothing until P is done. Its look while draining must tell H long before that.
    if skip_without_subreaper() {
        return;
    }
    let scratch = Scratch::new("subreaper-look");
    let (s_up, p_up, log) = (
        scratch.path("s-up"),
        scratch.path("p-up"),
        scratch.path("log"),
    );
    let (s_sh, p_sh) = (scratch.path("s.sh"), scratch.path("p.sh"));
    let kit = testkit();
    std::fs::write(
        &s_sh,
        format!(
            "trap '{kit} worker {log} 300 & until [ -s {log} ]; do sleep 0.01; done; \
             sleep 0.5; exit 0' TERM\necho up > {s_up}\nwhile :; do sleep 0.05; done\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &p_sh,
        format!(
            "trap 'sleep 4; echo p-done >> {log}; exit 0' TERM\nsh {s_sh} &\n\
             until [ -s {s_up} ]; do sleep 0.01; done\necho up > {p_up}\n\
             while :; do sleep 0.05; done\n"
        ),
    )
    .unwrap();
    let command = format!("setsid sh {p_sh} &\nuntil [ -s {p_up} ]; do sleep 0.01; done\nexit 3\n");
    let out = rinit_under_a_shell(&scratch, &command, None);
    assert_eq!(out.stdout, "rinit-exit=3\n", "{out:?}");
    // Told by the look: saved long before P is done. Without it, only P's exit would wake
    // rinit, and H would save after "p-done".
    assert_eq!(
        scratch.read("log"),
        "started\nsaved\np-done\n",
        "{}",
        out.stderr
    );
}

#[test]
fn a_member_that_leaves_the_group_after_its_sigterm_is_not_told_again() {
    // The group as it was when the forwarded SIGTERM went out got it: a member whose handler
    // calls setsid (same process, same start) must not hear it a second time at the drain.
    let scratch = Scratch::new("left-group");
    let (log, moved, counter) = (
        scratch.path("log"),
        scratch.path("moved"),
        scratch.path("counter.sh"),
    );
    std::fs::write(
        &counter,
        format!(
            "trap 'echo term >> {log}' TERM\necho moved > {moved}\n\
             i=0; while [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done\necho done >> {log}\n"
        ),
    )
    .unwrap();
    // The command exits only once the member has moved: the drain finds it outside the group.
    let script = format!(
        "sh -c 'trap \"exec setsid sh {counter}\" TERM; echo up > {log}; \
         while :; do sleep 0.05; done' & until [ -s {log} ]; do sleep 0.01; done; \
         trap 'until [ -s {moved} ]; do sleep 0.01; done; exit 0' TERM; echo ready > {log}.ready; \
         while :; do sleep 0.05; done"
    );
    let ns = Namespace::rinit(&["-v", "sh", "-c", &script]);
    scratch.wait_for("log.ready", "ready");
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(15));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "up\ndone\n", "{}", out.stderr);
}

#[test]
fn with_proc_mounted_hidepid_pid_1_still_reaches_a_process_it_cannot_see() {
    // rinit, root without CAP_SYS_PTRACE, cannot see another user's processes in a /proc
    // mounted with hidepid=2: the shutdown's SIGTERM must not depend on the listing. The
    // mount's source is free text: "-" makes mountinfo read `... - proc - rw,hidepid=...`.
    for source in ["proc", "-"] {
        hidepid_run(source);
    }
}

fn hidepid_run(source: &str) {
    let scratch = Scratch::new("hidepid");
    let log = scratch.path("log");
    std::fs::set_permissions(
        &scratch.0,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let command = format!(
        "setsid {kit} worker {log} 300 & until [ -s {log} ]; do sleep 0.01; done; exit 3",
        kit = testkit()
    );
    let script = format!(
        "mount -t proc -o hidepid=2 {source} /proc && \
         exec setpriv --bounding-set -sys_ptrace {} -v --user 4242 -- sh -c '{command}'",
        rinit().display()
    );
    let source = format!("source {source}");
    let mut unshare = std::process::Command::new("unshare");
    unshare
        .args([
            "--pid",
            "--fork",
            "--mount",
            "--propagation",
            "private",
            "--kill-child",
        ])
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null());
    let start = Instant::now();
    let out = Namespace::start_command(unshare).finish(Duration::from_secs(20));
    assert_eq!(out.code, 3, "{source}: {out:?}");
    assert_eq!(
        scratch.read("log"),
        "started\nsaved\n",
        "{source}: {}",
        out.stderr
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{source}: SIGKILLed at the grace"
    );
    assert!(
        out.stderr.contains("/proc is mounted with hidepid"),
        "{source}: {}",
        out.stderr
    );
}

#[test]
fn stop_delay_holds_a_stop_rewritten_into_the_held_signal() {
    let scratch = Scratch::new("hold-rewritten");
    let record = scratch.path("record");
    let ns = Namespace::rinit(&[
        "-v",
        "--stop-signal",
        "QUIT",
        "-r",
        "TERM:QUIT",
        "--stop-delay",
        "30s",
        "--",
        &testkit(),
        "record",
        &record,
    ]);
    scratch.wait_for("record", "ready");
    ns.signal(libc::SIGTERM);
    ns.wait_for_stderr("holding SIGTERM for 30s");
    let out = ns.finish_now();
    assert_eq!(scratch.read("record"), "ready\n", "{}", out.stderr);
}

#[test]
fn outside_a_containers_own_cgroup_a_subreaper_reaches_its_descendants_only_and_says_why_once() {
    // Not PID 1 (sh is), on the host's cgroups: no container's own cgroup to reach, which -v
    // says once, however many times the drain looks.
    let rinit = rinit().display().to_string();
    let script = format!("{rinit} -v -- sh -c 'sleep 0.3 & exit 0'; echo code=$?");
    let out = Namespace::start("/bin/sh", &["-c", &script]).finish(Duration::from_secs(20));
    assert!(out.stdout.contains("code=0"), "{out:?}");
    let said = out
        .stderr
        .matches("the shutdown reaches rinit's descendants only: ");
    assert_eq!(said.count(), 1, "{}", out.stderr);
}
