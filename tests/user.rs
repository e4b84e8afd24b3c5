//! `--user`: the command runs as another user, with or without /etc/passwd, holding nothing of
//! root's; rinit itself stays root. The image's /etc/passwd and /etc/group are files the test
//! writes, bind-mounted over the host's inside the test's own mount namespace.

mod common;

use common::*;
use std::time::Duration;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      app:x:1000:1000:App:/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\n\
                     app:x:1000:\n\
                     audio:x:29:app\n\
                     web:x:33:\n\
                     video:x:44:other,app\n";

/// rinit with `args` as PID 1 of a namespace whose /etc/passwd and /etc/group are `passwd` and
/// `group`; `env` for rinit. The scratch folder is writable by anyone, for the command's files.
fn with_files(
    scratch: &Scratch,
    passwd: &str,
    group: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Namespace {
    std::fs::write(scratch.path("passwd"), passwd).unwrap();
    std::fs::write(scratch.path("group"), group).unwrap();
    chmod_777(&scratch.0.display().to_string());
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "mount --bind {p} /etc/passwd && mount --bind {g} /etc/group && exec {rinit} {args}",
        p = scratch.path("passwd"),
        g = scratch.path("group"),
        rinit = rinit().display(),
        args = quoted.join(" ")
    );
    let mut command = namespace_command("sh", &["-c", &script]);
    command
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null());
    Namespace::start_command(command)
}

fn chmod_777(path: &str) {
    let done = std::process::Command::new("chmod")
        .args(["777", path])
        .status()
        .unwrap();
    assert!(done.success());
}

fn show_as(args: &[&str], env: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    let scratch = Scratch::new("user-show");
    let mut full = args.to_vec();
    let kit = testkit();
    full.extend(["--", &kit, "show"]);
    let out = with_files(&scratch, PASSWD, GROUP, &full, env).finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    shown(&out.stdout)
}

/// Asserts the ids (real, effective, saved, filesystem), the groups and that no capability is
/// held, permitted, effective or ambient.
fn assert_runs_as(
    shown: &std::collections::BTreeMap<String, String>,
    uid: &str,
    gid: &str,
    groups: &str,
    home: &str,
) {
    assert_eq!(shown["uid"], [uid; 4].join(","), "{shown:?}");
    assert_eq!(shown["gid"], [gid; 4].join(","), "{shown:?}");
    assert_eq!(shown["groups"], groups, "{shown:?}");
    assert_eq!(shown["home"], home, "{shown:?}");
    for caps in ["capprm", "capeff", "capamb"] {
        assert_eq!(shown[caps], "0000000000000000", "{caps}: {shown:?}");
    }
}

#[test]
fn a_named_user_runs_with_its_ids_groups_and_home_and_no_capability() {
    let shown = show_as(&["--user", "app"], &[]);
    assert_runs_as(&shown, "1000", "1000", "29,44,1000", "/home/app");
}

#[test]
fn user_colon_group_takes_the_group_and_keeps_the_users_supplementary_groups() {
    let shown = show_as(&["-u", "app:web"], &[]);
    assert_runs_as(&shown, "1000", "33", "29,33,44", "/home/app");
}

#[test]
fn a_numeric_user_needs_no_entry_and_keeps_none_of_roots_groups() {
    let shown = show_as(&[], &[("RINIT_USER", "4242")]);
    assert_runs_as(&shown, "4242", "4242", "4242", "/");
    let shown = show_as(&["--user", "4242:7"], &[]);
    assert_runs_as(&shown, "4242", "7", "7", "/");
}

#[test]
fn bad_users_get_one_clear_line_and_nothing_runs() {
    let cases: &[(&str, &str, &[&str], i32, &str)] = &[
        (PASSWD, GROUP, &["--user", "ghost"], 1, "rinit: --user ghost: no user 'ghost' in /etc/passwd\n"),
        // The short flag is named as given, not as a variable (`-u=ghost`).
        (PASSWD, GROUP, &["-u", "ghost"], 1, "rinit: -u ghost: no user 'ghost' in /etc/passwd\n"),
        (PASSWD, GROUP, &["-ughost"], 1, "rinit: -u ghost: no user 'ghost' in /etc/passwd\n"),
        (PASSWD, GROUP, &["--user", "app:nogroup"], 1, "rinit: --user app:nogroup: no group 'nogroup' in /etc/group\n"),
        (
            "app:x:abc:1000::/:\n",
            GROUP,
            &["--user", "app"],
            1,
            "rinit: --user app: /etc/passwd line 1 is malformed (expected name:password:uid:gid:gecos:home:shell)\n",
        ),
        (
            "app:x:1000:1000::/home/a\0pp:/bin/sh\n",
            GROUP,
            &["--user", "app"],
            1,
            "rinit: --user app: /etc/passwd line 1: the home field holds a NUL byte\n",
        ),
        (
            PASSWD,
            GROUP,
            &["--user", "app:"],
            2,
            "rinit: --user: 'app:' is not USER[:GROUP] (names or numbers, e.g. app, 1000 or app:web) (see 'rinit --help')\n",
        ),
        (
            PASSWD,
            GROUP,
            &["--user", ""],
            2,
            "rinit: --user: '' is not USER[:GROUP] (names or numbers, e.g. app, 1000 or app:web) (see 'rinit --help')\n",
        ),
    ];
    for (passwd, group, args, code, message) in cases {
        let scratch = Scratch::new("user-bad");
        let ran = scratch.path("ran");
        let mut full = args.to_vec();
        let script = format!("echo > {ran}");
        full.extend(["--", "sh", "-c", &script]);
        let out = with_files(&scratch, passwd, group, &full, &[]).finish(Duration::from_secs(20));
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (*code, *message),
            "{args:?}"
        );
        assert!(
            !std::path::Path::new(&ran).exists(),
            "{args:?}: the command ran"
        );
    }
}

#[test]
fn a_passwd_or_group_file_that_is_no_regular_file_or_too_large_is_refused_at_once() {
    let scratch = Scratch::new("user-special");
    let (fifo, big) = (scratch.path("fifo"), scratch.path("big"));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Sparse: 65 MiB of holes, one past the bound, written in no time.
    let file = std::fs::File::create(&big).unwrap();
    file.set_len((64 << 20) + 1).unwrap();
    let cases = [
        (
            "/dev/zero",
            "/etc/passwd",
            "app",
            "/etc/passwd is a character device, not a regular file",
        ),
        (
            fifo.as_str(),
            "/etc/passwd",
            "app",
            "/etc/passwd is a FIFO, not a regular file",
        ),
        (
            big.as_str(),
            "/etc/passwd",
            "app",
            "/etc/passwd is larger than 64 MiB; not read",
        ),
        (
            "/dev/zero",
            "/etc/group",
            "0:web",
            "/etc/group is a character device, not a regular file",
        ),
    ];
    for (source, target, user, message) in cases {
        let ran = scratch.path("ran");
        let script = format!(
            "mount --bind {source} {target} && exec {} --user {user} -- sh -c 'echo > {ran}'",
            rinit().display()
        );
        let start = std::time::Instant::now();
        let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
        assert_eq!(out.code, 1, "{source}: {out:?}");
        assert_eq!(out.stderr, format!("rinit: --user {user}: {message}\n"));
        assert!(
            !std::path::Path::new(&ran).exists(),
            "{source}: the command ran"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{source}: {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn an_unreadable_passwd_file_is_named_with_the_reason() {
    let scratch = Scratch::new("user-unreadable");
    let passwd = scratch.path("passwd");
    std::fs::write(&passwd, PASSWD).unwrap();
    let done = std::process::Command::new("chmod")
        .args(["000", &passwd])
        .status()
        .unwrap();
    assert!(done.success());
    // Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: file modes apply to it too.
    let script = format!(
        "mount --bind {passwd} /etc/passwd && \
         exec setpriv --bounding-set=-dac_override,-dac_read_search {} --user app -- true",
        rinit().display()
    );
    assert_refused(
        &script,
        "rinit: --user app: cannot read /etc/passwd: permission denied\n",
    );
}

#[test]
fn a_rinit_that_is_not_root_cannot_switch_and_says_why() {
    let script = format!(
        "exec setpriv --pdeathsig keep --reuid=65534 --regid=65534 --clear-groups {} --user 1000 -- true",
        rinit().display()
    );
    assert_refused(&script, "rinit: --user 1000: setgroups: operation not permitted (it needs root with CAP_SETUID and CAP_SETGID)\n");
}

#[test]
fn rinit_stays_root_and_its_shutdown_reaches_the_users_processes() {
    let scratch = Scratch::new("user-shutdown");
    let log = scratch.path("log");
    let script = format!(
        "setsid {kit} worker {log} 300 & until [ -s {log} ]; do sleep 0.01; done; cat /proc/1/status",
        kit = testkit()
    );
    let ns = with_files(
        &scratch,
        PASSWD,
        GROUP,
        &["--user", "app", "--", "sh", "-c", &script],
        &[],
    );
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("log"), "started\nsaved\n", "{}", out.stderr);
    // PID 1, rinit, as the command saw it: still root.
    let uid = out
        .stdout
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_default();
    assert_eq!(
        uid.split_whitespace().collect::<Vec<_>>(),
        ["Uid:", "0", "0", "0", "0"],
        "{}",
        out.stdout
    );
}

#[test]
fn as_another_user_the_command_still_gets_the_terminal() {
    let scratch = Scratch::new("user-tty");
    std::fs::write(scratch.path("passwd"), PASSWD).unwrap();
    let script = format!(
        "mount --bind {p} /etc/passwd && exec setsid --ctty {} --user app -- {} show",
        rinit().display(),
        testkit(),
        p = scratch.path("passwd"),
    );
    let mut pty = Pty::spawn(namespace_command("sh", &["-c", &script]));
    assert_eq!(pty.finish(Duration::from_secs(20)), 0, "{}", pty.screen());
    let child = shown(&pty.screen());
    assert_eq!(child["uid"], "1000,1000,1000,1000", "{child:?}");
    assert_eq!(
        (&child["fg"], &child["pgid"]),
        (&child["pid"], &child["pid"]),
        "{child:?}"
    );
}

#[test]
fn user_composes_with_stop_delay() {
    let scratch = Scratch::new("user-delay");
    let record = scratch.path("record");
    let ns = with_files(
        &scratch,
        PASSWD,
        GROUP,
        &[
            "--user",
            "4242",
            "--stop-delay",
            "1s",
            "--",
            &testkit(),
            "record",
            &record,
        ],
        &[],
    );
    scratch.wait_for("record", "ready");
    let start = std::time::Instant::now();
    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(scratch.read("record"), "ready\n15\n");
    assert!(start.elapsed() >= Duration::from_secs(1), "the hold");
}

/// rinit's peak memory (VmHWM, kB) with `passwd` as /etc/passwd and `--user app`.
fn peak_memory_with(passwd: &str) -> u64 {
    let scratch = Scratch::new("user-memory");
    let ns = with_files(
        &scratch,
        passwd,
        GROUP,
        &[
            "--user",
            "app",
            "--",
            "sh",
            "-c",
            "grep VmHWM /proc/1/status",
        ],
        &[],
    );
    let out = ns.finish(Duration::from_secs(30));
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"))
}

#[test]
fn a_huge_passwd_file_costs_no_memory() {
    // 48 MiB on one line (under the 64 MiB a file may have), then the entry; compared with the
    // plain file, so that what qemu-user itself uses (as rinit's pid) does not count.
    let mut huge = "x".repeat(48 << 20);
    huge.push_str(":x:1:1::/:\n");
    huge.push_str(PASSWD);
    let (plain, huge) = (peak_memory_with(PASSWD), peak_memory_with(&huge));
    assert!(
        huge < plain + 4096,
        "rinit's peak memory: {plain} kB, {huge} kB with a 48 MiB line"
    );
}

#[test]
fn capabilities_are_dropped_even_where_a_securebit_would_keep_them() {
    // SECBIT_NO_SETUID_FIXUP: the kernel leaves the capabilities in place when the ids leave 0,
    // and an ambient one would survive the exec.
    let scratch = Scratch::new("user-securebits");
    std::fs::write(scratch.path("passwd"), PASSWD).unwrap();
    let script = format!(
        "mount --bind {p} /etc/passwd && \
         exec setpriv --securebits=+no_setuid_fixup --inh-caps=+net_bind_service \
         --ambient-caps=+net_bind_service {} --user app -- {} show",
        rinit().display(),
        testkit(),
        p = scratch.path("passwd"),
    );
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    let shown = shown(&out.stdout);
    assert_eq!(shown["uid"], "1000,1000,1000,1000", "{shown:?}");
    for caps in ["capprm", "capeff", "capamb"] {
        assert_eq!(shown[caps], "0000000000000000", "{caps}: {shown:?}");
    }
}

#[test]
fn rinit_user_errors_name_the_variable_and_pause_mode_refuses_a_user() {
    let scratch = Scratch::new("user-env");
    let out = with_files(
        &scratch,
        PASSWD,
        GROUP,
        &["--", "true"],
        &[("RINIT_USER", "ghost")],
    )
    .finish(Duration::from_secs(20));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "rinit: RINIT_USER=ghost: no user 'ghost' in /etc/passwd\n"
    );
    let out = with_files(&scratch, PASSWD, GROUP, &["-P", "--user", "app"], &[])
        .finish(Duration::from_secs(20));
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "rinit: --pause runs no command, so --user (RINIT_USER) has nothing to run (see 'rinit --help')\n"
    );
}

#[test]
fn a_rinit_that_is_already_the_user_runs_the_command_as_it() {
    let script = format!(
        "exec setpriv --pdeathsig keep --reuid=4242 --regid=4242 --clear-groups {} --user 4242:4242 -- {} show",
        rinit().display(),
        testkit()
    );
    let out = Namespace::start("sh", &["-c", &script]).finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(shown(&out.stdout)["uid"], "4242,4242,4242,4242");
}

#[test]
fn a_rinit_that_is_the_user_but_with_other_groups_cannot_shed_them_and_says_so() {
    // Not root, already uid and gid 4242, but with supplementary groups 27 and 100 that
    // --user 4242:4242 would not keep: only root could drop them.
    let script = format!(
        "exec setpriv --pdeathsig keep --reuid=4242 --regid=4242 --groups=27,100 {} --user 4242:4242 -- true",
        rinit().display()
    );
    assert_refused(&script, "rinit: --user 4242:4242: setgroups: operation not permitted (it needs root with CAP_SETUID and CAP_SETGID)\n");
}

#[test]
fn root_without_setuid_and_setgid_capabilities_is_told_what_user_needs() {
    // Docker's --cap-drop ALL without --user: rinit is uid 0 but cannot switch either.
    let script = format!(
        "exec setpriv --inh-caps=-all --bounding-set=-all {} --user 1000 -- true",
        rinit().display()
    );
    assert_refused(&script, "rinit: --user 1000: setgroups: operation not permitted (it needs root with CAP_SETUID and CAP_SETGID)\n");
}

#[test]
fn a_non_root_rinit_refused_the_passwd_file_is_told_what_user_needs() {
    // podman 4.3 puts a root-only /etc/passwd into an image that has none; under `podman run
    // --user 4242` rinit cannot read it, and could not switch users anyway.
    let scratch = Scratch::new("user-root-only");
    let passwd = scratch.path("passwd");
    std::fs::write(&passwd, PASSWD).unwrap();
    std::fs::set_permissions(&passwd, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let script = format!(
        "mount --bind {passwd} /etc/passwd && \
         exec setpriv --pdeathsig keep --reuid=4242 --regid=4242 --clear-groups {} --user 1000 -- true",
        rinit().display()
    );
    assert_refused(
        &script,
        "rinit: --user 1000: cannot read /etc/passwd: permission denied \
         (--user needs root with CAP_SETUID and CAP_SETGID)\n",
    );
}

/// Runs `sh -c SCRIPT` as PID 1 of a new PID namespace, where SCRIPT starts rinit with a
/// `--user` it must refuse: exit 1, and `stderr` as its only output on stderr.
fn assert_refused(script: &str, stderr: &str) {
    let out = Namespace::start("sh", &["-c", script]).finish(Duration::from_secs(20));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stderr, stderr);
}
