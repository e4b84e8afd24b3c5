//! rinit locked down, as hardened deployments run it: PID 1 as an ordinary user with no
//! capability and no_new_privs (setpriv inside a new PID namespace), and inside rootless
//! podman (an unprivileged user with subordinate ids). rinit needs no privilege for its work:
//! forwarding, reaping and the drain at shutdown all act on processes of its own user.
//! These fail, never skip, when setpriv, podman or Debian's uidmap is missing.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The unprivileged user every process of the locked-down namespace runs as.
const USER: u32 = 4242;

/// setpriv's arguments for an ordinary user with nothing more: uid and gid 4242, no
/// supplementary group, no inheritable capability and none it could ever gain (an empty
/// bounding set, no_new_privs).
const LOCKED: &[&str] = &[
    "--reuid=4242",
    "--regid=4242",
    "--clear-groups",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
];

#[test]
fn a_non_root_pid_1_without_capabilities_forwards_reaps_a_storm_drains_and_exits_143() {
    // The workers' files: in a folder the user can write.
    let scratch = Scratch::new("locked-pid1");
    chown(&scratch.0, Some(USER), Some(USER)).unwrap();
    let (group, setsid, forwarded) = (
        scratch.path("group"),
        scratch.path("setsid"),
        scratch.path("forwarded"),
    );
    // A worker in the command's group, one that called setsid, 3000 orphans (then a count of
    // the zombies left), and a command that notes each SIGWINCH and dies of SIGTERM.
    let script = format!(
        "{kit} worker {group} 300 & setsid {kit} worker {setsid} 300 & \
         {kit} orphans 3000 && {kit} zombies 20; \
         trap 'echo WINCH >> {forwarded}' WINCH; \
         until [ -s {group} ] && [ -s {setsid} ]; do sleep 0.01; done; \
         echo ready; while :; do sleep 0.1; done",
        kit = testkit()
    );
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "setpriv"])
        .args(LOCKED)
        // The uid change clears the parent-death signal unshare's --kill-child set; kept, a
        // failing test's namespace still dies with unshare.
        .args(["--pdeathsig", "keep"])
        .arg(rinit())
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null());
    let ns = Namespace::start_command(command);
    let stdout = || fs::read_to_string(ns.path("stdout")).unwrap_or_default();
    // 3000 orphans reaped by an emulated rinit (qemu-user) on a loaded machine: minutes.
    let ready = eventually(Duration::from_secs(180), || stdout().contains("ready"));
    let stderr = || fs::read_to_string(ns.path("stderr")).unwrap_or_default();
    assert!(ready, "not ready: {} / {}", stdout(), stderr());
    assert_eq!(stdout(), "zombies=0\nready\n", "the storm was reaped");
    let pid1 = ns.pid1();
    assert_locked_down(pid1, USER);

    ns.signal(libc::SIGWINCH);
    let heard = eventually(Duration::from_secs(10), || {
        fs::read_to_string(&forwarded).is_ok_and(|text| text == "WINCH\n")
    });
    assert!(heard, "SIGWINCH was not forwarded to the command");

    ns.signal(libc::SIGTERM);
    let out = ns.finish(Duration::from_secs(30));
    assert_eq!(out.code, 143, "the command died of SIGTERM: {out:?}");
    assert_eq!(out.stderr, "", "rinit had nothing to complain about");
    assert_eq!(
        scratch.read("group"),
        "started\nsaved\n",
        "the group's worker"
    );
    assert_eq!(
        scratch.read("setsid"),
        "started\nsaved\n",
        "the setsid worker"
    );
}

/// The unprivileged user rootless podman runs as, made by the test if missing.
const ROOTLESS: &str = "rinit-rootless";

/// Makes [`ROOTLESS`] (idempotently): a user with no home and no login shell, with ranges of
/// subordinate uids and gids (useradd allocates them; an existing user without any gets
/// 65536 past every range there is).
fn rootless_user() {
    let known = |file: &str| {
        fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|line| line.starts_with(&format!("{ROOTLESS}:")))
    };
    let exists = Command::new("id").args(["-u", ROOTLESS]).output();
    if !exists.expect("id").status.success() {
        let out = output(
            "useradd",
            &[
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                ROOTLESS,
            ],
        );
        assert!(out.status.success(), "useradd: {out:?}");
    }
    if !known("/etc/subuid") || !known("/etc/subgid") {
        let end = ["/etc/subuid", "/etc/subgid"]
            .iter()
            .flat_map(|file| {
                fs::read_to_string(file)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| {
                        let mut fields = line.split(':').skip(1).map(|f| f.parse::<u64>().ok());
                        Some(fields.next()?? + fields.next()??)
                    })
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(100_000)
            .max(100_000);
        let range = format!("{end}-{}", end + 65535);
        let out = output(
            "usermod",
            &["--add-subuids", &range, "--add-subgids", &range, ROOTLESS],
        );
        assert!(out.status.success(), "usermod: {out:?}");
    }
}

fn output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// Rootless podman: every command runs as [`ROOTLESS`], with a private home and runtime
/// folder (its storage, its configuration, its pause process's pid) that are removed, with
/// every container and image, when this is dropped.
struct Rootless {
    home: Scratch,
}

impl Rootless {
    fn new() -> Self {
        assert!(
            std::path::Path::new("/usr/bin/newuidmap").exists(),
            "newuidmap (Debian's uidmap) is required for rootless podman"
        );
        rootless_user();
        let home = Scratch::new("rootless");
        let run = home.0.join("run");
        fs::create_dir(&run).unwrap();
        for dir in [&home.0, &run] {
            let (uid, gid) = ids(ROOTLESS);
            chown(dir, Some(uid), Some(gid)).unwrap();
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
        Rootless { home }
    }

    fn podman(&self, args: &[&str]) -> Output {
        Command::new("setpriv")
            .args([
                &format!("--reuid={ROOTLESS}"),
                &format!("--regid={ROOTLESS}"),
                "--init-groups",
                "podman",
            ])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", &self.home.0)
            .env("XDG_RUNTIME_DIR", self.home.0.join("run"))
            .current_dir(&self.home.0)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv and podman are required for the rootless tests")
    }

    fn check(&self, args: &[&str]) -> String {
        let out = self.podman(args);
        assert!(
            out.status.success(),
            "podman {args:?} as {ROOTLESS}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn logs(&self, name: &str) -> String {
        let out = self.podman(&["logs", name]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn wait_for_log(&self, name: &str, text: &str) {
        let seen = eventually(Duration::from_secs(30), || has_line(&self.logs(name), text));
        assert!(seen, "no '{text}' in {name}: {}", self.logs(name));
    }
}

impl Drop for Rootless {
    /// Every container, image and the storage go (`podman system reset`, which also ends the
    /// user's pause process and, with the containers, their conmon monitors); any of those
    /// still running after 10 s is killed by its pid, and waited for.
    fn drop(&mut self) {
        let started = self.pids();
        let _ = self.podman(&["system", "reset", "--force"]);
        let (uid, _) = ids(ROOTLESS);
        // A zombie has ended: its parent (the host's init) reaps it, not this test.
        let running = |pid: i32| {
            proc_status(pid, "Uid").split_whitespace().next() == Some(&uid.to_string())
                && state(pid) != 'Z'
        };
        let ended = || !started.iter().any(|&pid| running(pid));
        if !eventually(Duration::from_secs(10), ended) {
            for &pid in started.iter().filter(|&&pid| running(pid)) {
                // SAFETY: kill with plain integers, aimed at a process this test's podman
                // started (checked to run as the test's user).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            eventually(Duration::from_secs(10), ended);
        }
    }
}

impl Rootless {
    /// The pids podman noted in the runtime folder: its pause process, and each container's
    /// conmon.
    fn pids(&self) -> Vec<i32> {
        fn walk(dir: &std::path::Path, found: &mut Vec<i32>) {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    walk(&path, found);
                } else if matches!(
                    path.file_name().and_then(|name| name.to_str()),
                    Some("pause.pid" | "conmon.pid")
                ) {
                    let text = fs::read_to_string(&path).unwrap_or_default();
                    found.extend(text.trim().parse::<i32>());
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.home.0.join("run"), &mut found);
        found
    }
}

/// The uid and gid of `user`.
fn ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = output("id", &[flag, user]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("an id")
    };
    (id("-u"), id("-g"))
}

#[test]
fn rootless_podman_runs_rinit_as_the_entrypoint_and_stop_lets_a_background_worker_save() {
    let podman = Rootless::new();
    let (_root, tarball) = scratch_rootfs_tarball(&["sh", "sleep", "cat"]);
    let image = "localhost/rinit-rootless:latest";
    podman.check(&[
        "import",
        "--change",
        r#"ENTRYPOINT ["/rinit", "--"]"#,
        &tarball,
        image,
    ]);
    // The user namespace's map (container root is the unprivileged user), PID 1's name, a
    // background worker that saves on SIGTERM, and a command that dies of it.
    let script = "cat /proc/self/uid_map; echo pid1=$(/proc/1/exe --version); \
                  (trap 'echo bg: saved; exit 0' TERM; echo bg: started; \
                   while :; do sleep 0.1; done) & \
                  echo up; while :; do sleep 0.1; done";
    let name = "rinit-rootless";
    podman.check(&[
        "run",
        "--detach",
        "--name",
        name,
        "--network=none",
        "--runtime",
        "runc",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        image,
        "/bin/sh",
        "-c",
        script,
    ]);
    podman.wait_for_log(name, "bg: started");
    podman.wait_for_log(name, "up");
    let logs = podman.logs(name);
    let (uid, _) = ids(ROOTLESS);
    let map: Vec<&str> = logs
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", &uid.to_string(), "1"], "rootless: {logs}");
    // One line of the test, not the test: said, but not counted as a skip.
    match under_qemu() {
        true => eprintln!("not checked under qemu-user: /proc/1/exe is qemu itself"),
        false => assert!(logs.contains("pid1=rinit version"), "{logs}"),
    }
    let start = Instant::now();
    podman.check(&["stop", "--time", "10", name]);
    let took = start.elapsed();
    let logs = podman.logs(name);
    assert!(logs.contains("bg: saved"), "the background worker: {logs}");
    assert_eq!(
        podman.check(&["inspect", "--format", "{{.State.ExitCode}}", name]),
        "143",
        "the command died of SIGTERM: {logs}"
    );
    assert!(took < Duration::from_secs(8), "podman's SIGKILL? {took:?}");
}
