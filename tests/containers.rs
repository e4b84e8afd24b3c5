//! rinit inside real containers: runc with a scratch root filesystem holding only the static
//! rinit, a static busybox and the test helper; podman building and running Dockerfile.example
//! and using rinit as its `--init`. These fail, never skip, when runc or podman is missing.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;
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
        let seen = eventually(Duration::from_secs(20), || self.stdout().contains(text));
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
        let seen = eventually(Duration::from_secs(30), || self.logs().contains(text));
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
    container.wait_for_log("\nup");
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
