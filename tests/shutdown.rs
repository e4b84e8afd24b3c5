//! Shutdown that loses no work, in PID namespaces: the processes left when the command ends get
//! SIGTERM and the grace period; those that ignore it are SIGKILLed when it ends.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn a_background_worker_finishes_its_write_after_the_command_exits() {
    let scratch = Scratch::new("bg-worker");
    let log = scratch.path("log");
    let script = format!(
        "{} worker {log} 300 & until [ -s {log} ]; do sleep 0.01; done; exit 4",
        testkit()
    );
    let out = run(&["sh", "-c", &script]);
    assert_eq!(out.code, 4, "the command's own code: {out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
}

#[test]
fn grace_zero_exits_at_once_like_tini_and_the_worker_loses_its_write() {
    let scratch = Scratch::new("grace-zero");
    let log = scratch.path("log");
    let script = format!(
        "{} worker {log} 300 & until [ -s {log} ]; do sleep 0.01; done; exit 4",
        testkit()
    );
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
    let script = format!(
        "{} worker {log} ignore & until [ -s {log} ]; do sleep 0.01; done; exit 3",
        testkit()
    );
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
    let script = format!(
        "setsid {} worker {log} 200 & until [ -s {log} ]; do sleep 0.01; done",
        testkit()
    );
    let out = run(&["sh", "-c", &script]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n");
}

#[test]
fn as_a_subreaper_it_ends_only_its_own_descendants() {
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
