//! The pod manifests of examples/kubernetes/, played as they are with `podman kube play` (runc,
//! with the pod's infra/pause container), on the demo image they name, built the README's way
//! (examples/kubernetes/build-demo, from the Containerfile beside them, with the rinit under
//! test). kubelet stops app containers before the pod's sandbox; `podman stop POD-app` does
//! the same. One pod at a time (their names are the manifests'): leftovers of an earlier run
//! are removed by name first, and the pod, the demo image, any pause image a play built and
//! the containers.conf at the end.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// podman's pause image (`localhost/podman-pause:VERSION`), which kube play builds from
/// catatonit when it is missing.
const PAUSE_IMAGE: &str = "reference=localhost/podman-pause";

/// The image every manifest names, which build-demo builds.
const DEMO_IMAGE: &str = "localhost/rinit-demo:latest";

/// A pod made by `podman kube play` from an example manifest, removed when dropped, with the
/// demo image.
struct Pod {
    name: String,
    scratch: Scratch,
    /// podman's pause images before the pod: the pod's removal removes any it built.
    pause_images: Vec<String>,
    /// One pod at a time: the names are the manifests', and each play builds (and removes) the
    /// demo image and podman's pause image.
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl Pod {
    /// Builds the demo image the README's way and plays `examples/kubernetes/MANIFEST` as it
    /// is.
    fn play(manifest: &str) -> Self {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let alone = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let scratch = Scratch::new("kube");
        // podman 4.3 fails on this host's open-files limit unless containers get lower ones
        // (the README says so); crun fails on its hybrid cgroups: runc.
        fs::write(
            scratch.path("containers.conf"),
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\n\
             runtime = \"runc\"\n",
        )
        .unwrap();
        let path = examples().join(manifest);
        let text = fs::read_to_string(&path).expect("the example manifest");
        assert!(
            text.lines()
                .filter(|line| line.trim_start().starts_with("image:"))
                .all(|line| line.contains(DEMO_IMAGE)),
            "{manifest} runs the image build-demo builds, {DEMO_IMAGE}"
        );
        // metadata.name comes first.
        let name = text
            .lines()
            .find_map(|line| line.trim_start().strip_prefix("name: "))
            .expect("the pod's name")
            .trim()
            .to_string();
        let pause_images = pause_images(&scratch);
        let pod = Pod {
            name,
            scratch,
            pause_images,
            _alone: alone,
        };
        pod.remove();
        pod.build_demo();
        // The pods need no network: the test leaves the host's alone.
        pod.check(&[
            "kube",
            "play",
            "--network",
            "none",
            &path.display().to_string(),
        ]);
        pod
    }

    /// The README's build of the demo image, with the rinit under test.
    fn build_demo(&self) {
        let out = Command::new(examples().join("build-demo"))
            .arg(rinit())
            .env("CONTAINERS_CONF", self.scratch.path("containers.conf"))
            .stdin(Stdio::null())
            .output()
            .expect("examples/kubernetes/build-demo");
        assert!(
            out.status.success(),
            "build-demo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The pod and the demo image, if they are there.
    fn remove(&self) {
        let _ = podman(
            &self.scratch,
            &["pod", "rm", "--force", "--time", "0", &self.name],
        );
        let _ = podman(&self.scratch, &["rmi", "--force", DEMO_IMAGE]);
    }

    fn check(&self, args: &[&str]) -> String {
        let out = podman(&self.scratch, args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A container of the pod by its name in the manifest (`app`, `sidecar`).
    fn container(&self, name: &str) -> String {
        format!("{}-{name}", self.name)
    }

    fn logs(&self, container: &str) -> String {
        let out = podman(&self.scratch, &["logs", &self.container(container)]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn wait_for_log(&self, container: &str, text: &str) {
        let seen = eventually(Duration::from_secs(30), || {
            has_line(&self.logs(container), text)
        });
        assert!(seen, "no '{text}' in {container}: {}", self.logs(container));
    }

    /// `podman stop -t SECONDS POD-CONTAINER`, as kubelet stops an app container; how long it
    /// took.
    fn stop(&self, container: &str, seconds: u32) -> Duration {
        let start = Instant::now();
        self.check(&[
            "stop",
            "--time",
            &seconds.to_string(),
            &self.container(container),
        ]);
        start.elapsed()
    }

    fn state(&self, container: &str, field: &str) -> String {
        self.check(&[
            "inspect",
            "--format",
            &format!("{{{{.State.{field}}}}}"),
            &self.container(container),
        ])
    }

    /// The host pid of a container's PID 1 (podman runs as root here).
    fn pid(&self, container: &str) -> i32 {
        self.state(container, "Pid").parse().expect("a pid")
    }

    /// Waits for the demo's server and worker to say they started; returns the pid the server
    /// names as its parent and the one the worker names as its adopter.
    fn demo_started(&self) -> (String, String) {
        self.wait_for_log("app", "server: started");
        self.wait_for_log("app", "worker: started");
        let logs = self.logs("app");
        let after = |prefix: &str| {
            logs.lines()
                .find_map(|line| line.strip_prefix(prefix))
                .and_then(|rest| rest.strip_suffix(')'))
                .unwrap_or_else(|| panic!("no '{prefix}' line: {logs}"))
                .to_string()
        };
        (
            after("server: started (parent pid "),
            after("worker: started (adopted by pid "),
        )
    }

    /// Stops the app as kubelet does, within the manifest's 30 s grace period; fails unless
    /// rinit held SIGTERM for its 5 s stop delay, the server and the worker saved, and the
    /// server's exit 0 is the container's.
    fn stop_app_and_check_every_process_saved(&self) {
        let took = self.stop("app", 30);
        let logs = self.logs("app");
        assert_eq!(
            self.state("app", "ExitCode"),
            "0",
            "the server saved: {logs}"
        );
        assert!(logs.contains("server: saved\n"), "{logs}");
        assert!(
            logs.contains("worker: saved\n"),
            "the background worker: {logs}"
        );
        assert!(took >= Duration::from_secs(5), "the stop delay: {took:?}");
        assert!(took < Duration::from_secs(25), "{took:?}");
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.remove();
        for built in pause_images(&self.scratch) {
            if !self.pause_images.contains(&built) {
                let _ = podman(&self.scratch, &["rmi", &built]);
            }
        }
    }
}

/// examples/kubernetes/ in the checkout.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes")
}

fn pause_images(scratch: &Scratch) -> Vec<String> {
    let out = podman(
        scratch,
        &[
            "images",
            "--filter",
            PAUSE_IMAGE,
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn podman(scratch: &Scratch, args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .env("CONTAINERS_CONF", scratch.path("containers.conf"))
        .stdin(Stdio::null())
        .output()
        .expect("podman is required for the pod tests")
}

#[test]
fn a_pod_with_rinit_as_the_entrypoint_holds_sigterm_then_every_process_saves() {
    let pod = Pod::play("entrypoint.yaml");
    let (parent, adopter) = pod.demo_started();
    // rinit is PID 1 of the container: the server's parent and the orphaned worker's adopter.
    assert_eq!((parent.as_str(), adopter.as_str()), ("1", "1"));
    pod.stop_app_and_check_every_process_saved();
}

#[test]
fn in_a_shared_pid_namespace_rinit_stops_its_own_processes_and_spares_the_sidecar() {
    if skip_without_subreaper() {
        return;
    }
    let pod = Pod::play("shared-pid.yaml");
    let (rinit_pid, adopter) = pod.demo_started();
    pod.wait_for_log("sidecar", "sidecar: up");
    assert_ne!(rinit_pid, "1", "the pause process is PID 1");
    assert_eq!(
        adopter, rinit_pid,
        "the orphaned worker was adopted by rinit, not the pod's PID 1"
    );
    pod.stop_app_and_check_every_process_saved();
    assert_eq!(pod.state("sidecar", "Running"), "true");
    let sidecar = pod.logs("sidecar");
    assert!(!sidecar.contains("got SIGTERM"), "{sidecar}");
}

#[test]
fn under_the_restricted_profile_rinit_needs_no_privilege_and_every_process_saves() {
    let pod = Pod::play("restricted.yaml");
    let (parent, adopter) = pod.demo_started();
    assert_eq!((parent.as_str(), adopter.as_str()), ("1", "1"));
    // What the manifest asks for held: uid and gid 4242, no capability, no_new_privs, a
    // seccomp filter (podman's default profile: see restricted.yaml), a read-only root.
    let pid = pod.pid("app");
    assert_locked_down(pid, 4242);
    assert_eq!(proc_status(pid, "Seccomp"), "2", "a seccomp filter");
    assert!(root_is_read_only(pid), "the root filesystem is writable");
    pod.stop_app_and_check_every_process_saved();
}

#[test]
fn the_readme_builds_the_demo_image_and_plays_the_examples_as_the_test_does() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with("Kubernetes\n"))
        .expect("the README's Kubernetes section");
    for line in [
        "cargo build --release --target x86_64-unknown-linux-musl",
        "examples/kubernetes/build-demo",
        "podman kube play examples/kubernetes/entrypoint.yaml",
    ] {
        assert!(
            // A line of a code block, maybe with a `# comment` after it.
            section
                .lines()
                .any(|l| l.split(" #").next().unwrap_or("").trim() == line),
            "no line '{line}' in the README's Kubernetes section"
        );
    }
}
