//! rinit inside real containers: runc with a scratch root filesystem holding only the static
//! rinit, a static busybox and the test helper; podman building and running Dockerfile.example
//! and using rinit as its `--init`. These fail, never skip, when runc or podman is missing.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BUSYBOX: &str = "/bin/busybox";
const PODMAN_FLAGS: [&str; 7] = [
    "--network=none",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
    "--runtime",
    "runc",
];

fn unique(prefix: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

fn output(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} is required for the container tests: {e}"))
}

fn check(program: &str, args: &[&str]) -> String {
    let out = output(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A runc container running in the foreground, its output in files.
struct Runc {
    id: String,
    bundle: Scratch,
    run: Child,
}

impl Runc {
    /// A bundle whose root filesystem has only /rinit, /rinit-testkit and busybox as /bin/sh.
    fn start(args: &[&str]) -> Self {
        let bundle = Scratch::new("runc");
        let rootfs = bundle.0.join("rootfs");
        for dir in ["bin", "proc", "dev", "sys", "tmp"] {
            fs::create_dir_all(rootfs.join(dir)).unwrap();
        }
        fs::copy(rinit(), rootfs.join("rinit")).unwrap();
        fs::copy(testkit(), rootfs.join("rinit-testkit")).unwrap();
        fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("busybox-static is required");
        for applet in ["sh", "sleep"] {
            symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        check(
            "runc",
            &["spec", "--bundle", &bundle.0.display().to_string()],
        );
        let config_path = bundle.0.join("config.json");
        let config = fs::read_to_string(&config_path).unwrap();
        fs::write(&config_path, configure(&config, args)).unwrap();

        let id = unique("rinit-test");
        let run = Command::new("runc")
            .args(["run", "--bundle", &bundle.0.display().to_string(), &id])
            .stdin(Stdio::null())
            .stdout(fs::File::create(bundle.0.join("stdout")).unwrap())
            .stderr(fs::File::create(bundle.0.join("stderr")).unwrap())
            .spawn()
            .expect("runc is required for the container tests");
        Runc { id, bundle, run }
    }

    fn stdout(&self) -> String {
        self.bundle.read("stdout")
    }

    fn wait_for_output(&self, text: &str) {
        let seen = eventually(Duration::from_secs(20), || has_line(&self.stdout(), text));
        assert!(
            seen,
            "no '{text}' in: {} / {}",
            self.stdout(),
            self.bundle.read("stderr")
        );
    }

    /// Host pids of every process in the container.
    fn pids(&self) -> Vec<i32> {
        let json = check("runc", &["ps", "--format", "json", &self.id]);
        json.trim_matches(|c| c == '[' || c == ']' || char::is_whitespace(c))
            .split(',')
            .filter_map(|pid| pid.trim().parse().ok())
            .collect()
    }

    fn kill(&self, signal: &str) {
        check("runc", &["kill", &self.id, signal]);
    }

    /// Waits for `runc run` to end; returns the container's exit code.
    fn wait(&mut self, timeout: Duration) -> i32 {
        let id = &self.id;
        let ended = wait_or_stop(&mut self.run, timeout, |_| {
            let _ = output("runc", &["kill", id, "KILL"]);
        });
        match ended {
            Some(status) => status.code().unwrap_or(-1),
            None => panic!(
                "container did not end within {timeout:?}: {}",
                self.stdout()
            ),
        }
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let _ = output("runc", &["delete", "--force", &self.id]);
        let _ = self.run.kill();
        let _ = self.run.wait();
    }
}

/// runc's default spec with our command, no terminal and a writable root.
fn configure(config: &str, args: &[&str]) -> String {
    let start = config.find("\"args\": [").expect("args in runc spec");
    let end = start + config[start..].find(']').unwrap() + 1;
    let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    let config = format!(
        "{}\"args\": [{}]{}",
        &config[..start],
        quoted.join(", "),
        &config[end..]
    );
    config
        .replace("\"terminal\": true", "\"terminal\": false")
        .replace("\"readonly\": true", "\"readonly\": false")
}

fn gone(pids: &[i32]) -> bool {
    pids.iter()
        .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

#[test]
fn runc_kill_term_of_a_shell_form_cmd_saves_the_workers_line_and_ends_fast() {
    let mut container = Runc::start(&[
        "/rinit",
        "--",
        "/bin/sh",
        "-c",
        "/rinit-testkit worker /dev/stdout 200; echo done",
    ]);
    container.wait_for_output("started");
    let pids = container.pids();
    assert!(pids.len() >= 3, "rinit, sh and the worker: {pids:?}");
    let start = Instant::now();
    container.kill("TERM");
    let code = container.wait(Duration::from_secs(20));
    let took = start.elapsed();
    // The worker needs 200 ms; the bound only has to tell "ended when the worker saved" from
    // "waited for a deadline" (none is set; the natural-exit grace would be 5 s), with room for
    // a loaded machine.
    assert!(took < Duration::from_secs(4), "stop took {took:?}");
    assert_eq!(
        container.stdout(),
        "started\nsaved\n",
        "the worker finished its write"
    );
    assert_eq!(code, 128 + libc::SIGTERM, "the shell died of SIGTERM");
    assert!(
        eventually(Duration::from_secs(5), || gone(&pids)),
        "left behind: {pids:?}"
    );
}

#[test]
fn runc_with_grace_0_the_worker_dies_mid_write_as_under_tini() {
    let mut container = Runc::start(&[
        "/rinit",
        "--grace",
        "0",
        "--",
        "/bin/sh",
        "-c",
        "/rinit-testkit worker /dev/stdout 200; echo done",
    ]);
    container.wait_for_output("started");
    container.kill("TERM");
    container.wait(Duration::from_secs(20));
    assert_eq!(
        container.stdout(),
        "started\n",
        "the kernel killed the worker"
    );
}

#[test]
fn runc_a_worker_that_ignores_sigterm_is_killed_at_the_stop_timeout() {
    // runc kill sends no SIGKILL of its own: --stop-timeout is the stop's deadline.
    let mut container = Runc::start(&[
        "/rinit",
        "--stop-timeout",
        "1s",
        "--",
        "/bin/sh",
        "-c",
        "/rinit-testkit worker /dev/stdout ignore; echo done",
    ]);
    container.wait_for_output("started");
    let pids = container.pids();
    let start = Instant::now();
    container.kill("TERM");
    container.wait(Duration::from_secs(20));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "killed before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "ended {took:?} after SIGTERM"
    );
    assert!(
        eventually(Duration::from_secs(5), || gone(&pids)),
        "left behind: {pids:?}"
    );
}

#[test]
fn runc_thousands_of_orphans_leave_no_zombie_and_the_exit_code_is_the_commands() {
    let mut container = Runc::start(&[
        "/rinit",
        "--",
        "/bin/sh",
        "-c",
        "/rinit-testkit orphans 3000 && /rinit-testkit zombies 20; exit 7",
    ]);
    let code = container.wait(Duration::from_secs(60));
    assert_eq!(container.stdout(), "zombies=0\n");
    assert_eq!(code, 7);
}

/// An image built by podman from Dockerfile.example, removed when dropped.
struct Image(String);

impl Image {
    fn build() -> Self {
        let context = Scratch::new("podman-context");
        fs::copy(rinit(), context.0.join("rinit")).unwrap();
        fs::copy(BUSYBOX, context.0.join("busybox")).expect("busybox-static is required");
        let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile.example");
        let tag = format!("localhost/{}:latest", unique("rinit-example"));
        check(
            "podman",
            &[
                "build",
                "--quiet",
                // Only the final image, which Drop removes: no intermediate layers left behind.
                "--layers=false",
                "--file",
                &dockerfile.display().to_string(),
                "--tag",
                &tag,
                &context.0.display().to_string(),
            ],
        );
        Image(tag)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = output("podman", &["rmi", "--force", &self.0]);
    }
}

/// A detached podman container, removed when dropped.
struct Podman(String);

impl Podman {
    fn run(extra: &[&str], image: &Image, command: &[&str]) -> Self {
        let name = unique("rinit-podman");
        let mut args = vec!["run", "--detach", "--name", &name];
        args.extend(PODMAN_FLAGS);
        args.extend(extra);
        args.push(&image.0);
        args.extend(command);
        check("podman", &args);
        Podman(name)
    }

    fn logs(&self) -> String {
        let out = output("podman", &["logs", &self.0]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn wait_for_log(&self, text: &str) {
        let seen = eventually(Duration::from_secs(30), || has_line(&self.logs(), text));
        assert!(seen, "no '{text}' in the logs: {}", self.logs());
    }

    /// `podman stop -t 10`; returns how long it took.
    fn stop(&self) -> Duration {
        let start = Instant::now();
        check("podman", &["stop", "--time", "10", &self.0]);
        start.elapsed()
    }

    fn exit_code(&self) -> String {
        check(
            "podman",
            &["inspect", "--format", "{{.State.ExitCode}}", &self.0],
        )
        .trim()
        .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = output("podman", &["rm", "--force", &self.0]);
    }
}

#[test]
fn podman_builds_the_example_image_and_stop_lets_the_worker_save() {
    let image = Image::build();
    let container = Podman::run(&[], &image, &[]);
    container.wait_for_log("worker: started");
    let took = container.stop();
    assert!(took < Duration::from_secs(5), "podman stop took {took:?}");
    assert!(
        container.logs().contains("worker: saved"),
        "{}",
        container.logs()
    );
    assert_eq!(container.exit_code(), "0");
}

#[test]
fn podman_init_path_runs_rinit_with_its_own_defaults_and_the_worker_saves() {
    let image = Image::build();
    let init = rinit().display().to_string();
    // A background worker too: podman runs the init as /run/podman-init, so rinit keeps its
    // own defaults (the group hears SIGTERM, the processes left get their chance); under
    // tini's (docker-init) the worker would die with the init.
    // Each says it is up once its own trap is set: a stop before that would kill it, and
    // the test would blame rinit.
    let script = "echo pid1=$(/proc/1/exe --version); \
                  (trap 'echo bg: saved; exit 0' TERM; echo bg: up; \
                   while :; do /bin/busybox sleep 1; done) & \
                  trap 'echo saved; exit 0' TERM; echo up; \
                  while :; do /bin/busybox sleep 1; done";
    let container = Podman::run(
        &["--init", "--init-path", &init, "--entrypoint", BUSYBOX],
        &image,
        &["sh", "-c", script],
    );
    container.wait_for_log("pid1=");
    container.wait_for_log("bg: up");
    container.wait_for_log("up");
    // One line of the test, not the test: said, but not counted as a skip.
    match under_qemu() {
        true => eprintln!(
            "not checked under qemu-user: as PID 1, /proc/1/exe is qemu itself, so `--version` prints qemu's"
        ),
        false => assert!(
            container.logs().contains("pid1=rinit version"),
            "{}",
            container.logs()
        ),
    }
    let took = container.stop();
    assert!(took < Duration::from_secs(5), "podman stop took {took:?}");
    let logs = container.logs();
    assert!(logs.contains("\nsaved"), "{logs}");
    assert!(logs.contains("bg: saved"), "the background worker: {logs}");
}

/// An image of `scratch_rootfs_tarball`'s files (with rinit also linked under each peer's
/// name), made with `podman import`, removed when dropped.
struct Imported(String);

impl Imported {
    fn new() -> Self {
        let (root, tarball) =
            scratch_rootfs_tarball(&["sh", "sleep", "cat", "kill", "true", "unshare"]);
        for name in ["tini", "dumb-init", "catatonit"] {
            symlink("rinit", root.0.join(name)).unwrap();
        }
        let added = Command::new("tar")
            .args(["-C", &root.0.display().to_string(), "-rf", &tarball])
            .args(["tini", "dumb-init", "catatonit"])
            .status()
            .expect("tar");
        assert!(added.success());
        let tag = format!("localhost/{}:latest", unique("rinit-imported"));
        check("podman", &["import", "--quiet", &tarball, &tag]);
        Imported(tag)
    }

    /// `podman run --rm` in the foreground with a 48 MiB memory limit (swap included).
    fn run_limited(&self, command: &[&str]) -> Output {
        self.run_limited_with(&[], command)
    }

    /// The same, with `extra` options.
    fn run_limited_with(&self, extra: &[&str], command: &[&str]) -> Output {
        let mut args = vec!["run", "--rm", "--memory", "48m", "--memory-swap", "48m"];
        args.extend(PODMAN_FLAGS);
        args.extend(extra);
        args.push(&self.0);
        args.extend(command);
        output("podman", &args)
    }
}

impl Drop for Imported {
    fn drop(&mut self) {
        let _ = output("podman", &["rmi", "--force", &self.0]);
    }
}

/// The lines of rinit's stderr that blame a death on the out-of-memory killer.
fn oom_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.contains("out-of-memory"))
        .map(str::to_string)
        .collect()
}

#[test]
fn podman_a_command_killed_by_its_memory_limit_is_named_under_every_name() {
    let image = Imported::new();
    let blame = ") was killed by the kernel's out-of-memory killer (memory limit 48 MiB)";
    for (init, prefix) in [
        (&["/rinit", "--"][..], "rinit: "),
        (&["/tini", "--"][..], "[WARN  tini (1)] "),
        (&["/dumb-init"][..], "[dumb-init] "),
        (&["/catatonit", "--"][..], "ERROR (catatonit:1): "),
    ] {
        let mut command = init.to_vec();
        command.extend(["/rinit-testkit", "hog"]);
        let out = image.run_limited(&command);
        assert_eq!(out.status.code(), Some(137), "{init:?}: {out:?}");
        let lines = oom_lines(&out);
        assert_eq!(lines.len(), 1, "{init:?}: {out:?}");
        let named = format!("{prefix}rinit-testkit (pid ");
        assert!(
            lines[0].starts_with(&named) && lines[0].ends_with(blame),
            "{init:?}: {out:?}"
        );
    }
}

#[test]
fn podman_a_plain_sigkill_is_never_blamed_on_memory() {
    let image = Imported::new();
    // Nothing ran out of memory: no blame, and the status is the kill's.
    let out = image.run_limited(&["/rinit", "--", "/bin/sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert_eq!(oom_lines(&out), Vec::<String>::new(), "{out:?}");
    // An orphan rinit reaps dies of the memory limit and is named; the command's `kill -9`
    // after it is not blamed on that kill. The shell waits until rinit has reaped the hog
    // (its /proc entry is gone) before it kills itself.
    let script = "hog=$( (/rinit-testkit hog >/dev/null & echo $!) ); \
                  while [ -e /proc/$hog ]; do sleep 0.1; done; kill -9 $$";
    let out = image.run_limited(&["/rinit", "--", "/bin/sh", "-c", script]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    let lines = oom_lines(&out);
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].starts_with("rinit: process ")
            && lines[0].ends_with(
                " was killed by the kernel's out-of-memory killer (memory limit 48 MiB)"
            ),
        "{out:?}"
    );
    // rinit's own SIGKILL at the end of --grace is not blamed either, even with an OOM kill
    // counted that nobody was blamed for (the hog was the shell's child, reaped by the shell).
    let script = "/rinit-testkit hog >/dev/null; \
                  (/rinit-testkit worker /dev/null ignore &); exit 0";
    let out = image.run_limited(&["/rinit", "--grace", "1s", "--", "/bin/sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(oom_lines(&out), Vec::<String>::new(), "{out:?}");
    // Nor is it by a rinit that is PID 1 of a PID namespace nested in the container, which
    // cannot see the processes outside it (nor so the OOM kill counted before it started).
    let script = "/rinit-testkit hog >/dev/null; \
                  unshare -p -f -m --mount-proc /rinit -- /bin/sh -c 'kill -9 $$'";
    let out = image.run_limited_with(&["--privileged"], &["/bin/sh", "-c", script]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert_eq!(oom_lines(&out), Vec::<String>::new(), "{out:?}");
}

/// podman's pause images (`localhost/podman-pause:VERSION`, built from catatonit when
/// missing), to remove the one a pod built.
fn pause_images() -> Vec<String> {
    check(
        "podman",
        &[
            "images",
            "--filter",
            "reference=localhost/podman-pause",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// A pod whose containers share one PID namespace (`podman pod create --share pid`, as
/// Kubernetes' `shareProcessNamespace: true`): its pause process is PID 1. Removed when dropped,
/// with the pause image it built.
struct SharedPidPod {
    name: String,
    pause_images: Vec<String>,
    /// A containers.conf with this host's lower rlimits, for the pod's pause container too.
    conf: Scratch,
}

impl SharedPidPod {
    fn create() -> Self {
        let conf = Scratch::new("pod-conf");
        fs::write(
            conf.path("containers.conf"),
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
        )
        .unwrap();
        let pod = SharedPidPod {
            name: unique("rinit-pod"),
            pause_images: pause_images(),
            conf,
        };
        pod.podman(&[
            "pod",
            "create",
            "--name",
            &pod.name,
            "--share",
            "pid",
            "--network",
            "none",
        ]);
        pod
    }

    /// Runs `command` detached in a container of the pod named POD-`name`.
    fn run(&self, name: &str, extra: &[&str], image: &Imported, command: &[&str]) -> Podman {
        let container = format!("{}-{name}", self.name);
        let mut args = vec!["run", "--detach", "--pod", &self.name, "--name", &container];
        args.extend(["--runtime", "runc"]);
        args.extend(extra);
        args.push(&image.0);
        args.extend(command);
        self.podman(&args);
        Podman(container)
    }

    /// podman `args` with the pod's containers.conf; its stdout.
    fn podman(&self, args: &[&str]) -> String {
        let out = Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", self.conf.path("containers.conf"))
            .stdin(Stdio::null())
            .output()
            .expect("podman is required for the container tests");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for SharedPidPod {
    fn drop(&mut self) {
        let _ = output(
            "podman",
            &["pod", "rm", "--force", "--time", "0", &self.name],
        );
        for built in pause_images() {
            if !self.pause_images.contains(&built) {
                let _ = output("podman", &["rmi", &built]);
            }
        }
    }
}

#[test]
fn podman_in_a_shared_pid_namespace_an_entered_worker_saves_at_stop_and_the_sidecar_is_spared() {
    let image = Imported::new();
    let out = Scratch::new("pod-out");
    let volume = format!("{}:/out", out.0.display());
    let pod = SharedPidPod::create();
    let sidecar = pod.run(
        "sidecar",
        &[],
        &image,
        &[
            "/bin/sh",
            "-c",
            "trap 'echo sidecar: got SIGTERM; exit 0' TERM; echo sidecar: up; \
             while :; do sleep 1; done",
        ],
    );
    let app = pod.run(
        "app",
        &["--volume", &volume],
        &image,
        &[
            "/rinit",
            "-v",
            "--",
            "/bin/sh",
            "-c",
            "(trap 'echo bg: saved; exit 0' TERM; echo bg: up; while :; do sleep 0.1; done) & \
             trap 'echo app: saved; exit 0' TERM; echo app: up; while :; do sleep 0.1; done",
        ],
    );
    sidecar.wait_for_log("sidecar: up");
    app.wait_for_log("app: up");
    app.wait_for_log("bg: up");
    // Entered as `kubectl exec` enters: its parent is outside the namespace, so it is not
    // rinit's descendant; only the container's cgroup lists it. It needs 2 s to save.
    check(
        "podman",
        &[
            "exec",
            "--detach",
            &app.0,
            "/rinit-testkit",
            "worker",
            "/out/entered",
            "2000",
        ],
    );
    let started = eventually(Duration::from_secs(30), || {
        fs::read_to_string(out.path("entered")).is_ok_and(|t| t.contains("started"))
    });
    assert!(started, "the entered worker never started: {}", app.logs());
    // A second one, stopped (SIGSTOP) before the stop: it needs SIGCONT with its SIGTERM.
    let stopped = "echo $$ > /out/stopped.pid; exec /rinit-testkit worker /out/stopped 0";
    check(
        "podman",
        &["exec", "--detach", &app.0, "/bin/sh", "-c", stopped],
    );
    let started = eventually(Duration::from_secs(30), || {
        fs::read_to_string(out.path("stopped")).is_ok_and(|t| t.contains("started"))
    });
    assert!(started, "the second worker never started: {}", app.logs());
    check(
        "podman",
        &[
            "exec",
            &app.0,
            "/bin/sh",
            "-c",
            "kill -STOP $(cat /out/stopped.pid)",
        ],
    );
    // rinit exec'd into the container shares its cgroup with what came before it: it must
    // reach only its own descendants, and say why at -v.
    // (Bounded: two inits that each took the cgroup for theirs would stop each other.)
    let exec = output(
        "timeout",
        &[
            "60",
            "podman",
            "exec",
            &app.0,
            "/rinit",
            "-v",
            "--",
            "/bin/true",
        ],
    );
    let said = String::from_utf8_lossy(&exec.stderr);
    let said: String = said.chars().take(4000).collect();
    assert!(exec.status.success(), "{:?}: {said}", exec.status);
    assert!(
        said.contains("the shutdown reaches rinit's descendants only: ")
            && said.contains(" is shared: process "),
        "{said}"
    );
    // What its drain would have reached had it taken the cgroup for its own: the app's shell
    // (which saves at once) and the stopped worker (woken, it saves at once).
    std::thread::sleep(Duration::from_secs(1));
    let early = fs::read_to_string(out.path("stopped")).unwrap_or_default();
    assert!(
        !early.contains("saved") && !app.logs().contains("app: saved"),
        "{early:?}"
    );
    let start = Instant::now();
    check("podman", &["stop", "--time", "20", &app.0]);
    let took = start.elapsed();
    let logs = app.logs();
    let entered = fs::read_to_string(out.path("entered")).unwrap_or_default();
    assert!(
        entered.contains("saved"),
        "the entered worker: {entered:?}; {logs}"
    );
    assert!(
        took >= Duration::from_secs(2),
        "rinit waited for it: {took:?}; {logs}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}; {logs}");
    let stopped = fs::read_to_string(out.path("stopped")).unwrap_or_default();
    assert!(
        stopped.contains("saved"),
        "the stopped worker: {stopped:?}; {logs}"
    );
    assert!(
        logs.contains("app: saved") && logs.contains("bg: saved"),
        "{logs}"
    );
    assert!(
        logs.contains("the shutdown also reaches the rest of this container's cgroup"),
        "{logs}"
    );
    assert_eq!(app.exit_code(), "0", "{logs}");
    let state = check(
        "podman",
        &["inspect", "--format", "{{.State.Running}}", &sidecar.0],
    );
    assert_eq!(state.trim(), "true", "the sidecar runs on");
    let sidecar_logs = sidecar.logs();
    assert!(!sidecar_logs.contains("got SIGTERM"), "{sidecar_logs}");
}

#[test]
fn podman_an_exec_d_rinit_never_takes_the_container_for_its_own_even_after_its_first_leaves() {
    let image = Imported::new();
    // As root; and as a user, in a container whose /proc hides the root-owned first process.
    for (exec_as, extra) in [
        (None, None),
        (Some("1000:1000"), Some("proc-opts=hidepid=2")),
    ] {
        let out = Scratch::new("exec-out");
        fs::set_permissions(&out.0, fs::Permissions::from_mode(0o777)).unwrap();
        let volume = format!("{}:/out", out.0.display());
        let pod = SharedPidPod::create();
        let mut options = vec!["--volume", &volume];
        if let Some(option) = extra {
            options.extend(["--security-opt", option]);
        }
        // The container's first process: it leaves when told, while the exec sessions stay
        // (podman keeps them running after their container's init has exited).
        let first = "until [ -e /out/go ]; do sleep 0.1; done";
        let app = pod.run("app", &options, &image, &["/bin/sh", "-c", first]);
        let user: Vec<&str> = exec_as.map_or(vec![], |user| vec!["--user", user]);
        let exec = |command: &[&str]| {
            let mut args = vec!["exec", "--detach"];
            args.extend(&user);
            args.push(&app.0);
            args.extend(command);
            check("podman", &args);
        };
        // rinit entered while the first process lives, its command running until told.
        let rinit = "exec /rinit -v --grace 1s -- /bin/sh -c \
                     'until [ -e /out/end ]; do sleep 0.1; done' 2>/out/rinit.log";
        exec(&["/bin/sh", "-c", rinit]);
        exec(&["/rinit-testkit", "worker", "/out/worker", "0"]);
        let started = eventually(Duration::from_secs(30), || {
            fs::read_to_string(out.path("worker")).is_ok_and(|t| t.contains("started"))
        });
        assert!(started, "{exec_as:?}: the worker never started");
        fs::write(out.path("go"), "").unwrap();
        let gone = eventually(Duration::from_secs(30), || {
            check(
                "podman",
                &["inspect", "--format", "{{.State.Running}}", &app.0],
            )
            .trim()
                == "false"
        });
        assert!(gone, "{exec_as:?}: the first process never left");
        fs::write(out.path("end"), "").unwrap();
        let log = || fs::read_to_string(out.path("rinit.log")).unwrap_or_default();
        let said = eventually(Duration::from_secs(30), || {
            log().contains("the shutdown reaches rinit's descendants only: ")
        });
        assert!(said, "{exec_as:?}: {}", log());
        // Had it taken the cgroup for its own, the worker would have saved at once.
        std::thread::sleep(Duration::from_secs(1));
        let worker = fs::read_to_string(out.path("worker")).unwrap_or_default();
        assert_eq!(worker, "started\n", "{exec_as:?}: {}", log());
    }
}
