//! The pod manifests of examples/kubernetes/, run as real pods with `podman kube play` (runc,
//! with the pod's infra/pause container): the manifests as written, but for the image (a
//! scratch image of static busybox, rinit and the test helper, made with `podman import`), the
//! pod's name (made unique) and the app's `args:` line (a scenario in place of `/app/...`).
//! kubelet stops app containers before the pod's sandbox; `podman stop POD-app` does the
//! same. Every pod, image and the containers.conf are removed at the end.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// podman's pause image (`localhost/podman-pause:VERSION`), which kube play builds from
/// catatonit when it is missing.
const PAUSE_IMAGE: &str = "reference=localhost/podman-pause";

/// A pod made by `podman kube play` from an example manifest, removed when dropped, with the
/// image it runs.
struct Pod {
    name: String,
    image: String,
    scratch: Scratch,
    /// podman's pause images before the pod: the pod's removal removes any it built.
    pause_images: Vec<String>,
    /// One pod at a time: each builds (and removes) podman's pause image.
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl Pod {
    /// Plays `examples/kubernetes/MANIFEST` with the app's `args:` replaced by `args`.
    fn play(manifest: &str, args: &[&str]) -> Self {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let alone = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let scratch = Scratch::new("kube");
        // podman 4.3 fails on this host's open-files limit unless containers get lower ones;
        // crun fails on its hybrid cgroups: runc.
        fs::write(
            scratch.path("containers.conf"),
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\n\
             runtime = \"runc\"\n",
        )
        .unwrap();
        let pid = std::process::id();
        let image = format!("localhost/rinit-kube-{pid}:latest");
        let pause_images = pause_images(&scratch);
        let mut pod = Pod {
            name: String::new(),
            image: image.clone(),
            scratch,
            pause_images,
            _alone: alone,
        };
        pod.import_image();
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/kubernetes")
            .join(manifest);
        let text = fs::read_to_string(&path).expect("the example manifest");
        let quoted: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        let app_args = format!("args: [{}]", quoted.join(", "));
        let mut replaced_args = false;
        let text: String = text
            .lines()
            .map(|line| {
                let indent = &line[..line.len() - line.trim_start().len()];
                if line.trim_start().starts_with("args:") && !replaced_args {
                    replaced_args = true;
                    format!("{indent}{app_args}\n")
                } else if let Some(name) = line.trim_start().strip_prefix("name: rinit-") {
                    pod.name = format!("rinit-{name}-{pid}");
                    format!("{indent}name: {}\n", pod.name)
                } else {
                    line.replace("localhost/rinit-demo:latest", &image) + "\n"
                }
            })
            .collect();
        assert!(replaced_args, "no args: line in {manifest}");
        let played = pod.scratch.path("pod.yaml");
        fs::write(&played, text).unwrap();
        pod.check(&["kube", "play", "--network", "none", &played]);
        pod
    }

    fn import_image(&self) {
        let (_root, tarball) = scratch_rootfs_tarball(&["sh", "sleep"]);
        self.check(&["import", &tarball, &self.image]);
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
            self.logs(container).contains(text)
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
}

impl Drop for Pod {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            let _ = podman(
                &self.scratch,
                &["pod", "rm", "--force", "--time", "0", &self.name],
            );
        }
        let _ = podman(&self.scratch, &["rmi", "--force", &self.image]);
        for built in pause_images(&self.scratch) {
            if !self.pause_images.contains(&built) {
                let _ = podman(&self.scratch, &["rmi", &built]);
            }
        }
    }
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

/// The app: a background worker that saves on SIGTERM, an orphan it double-forks (a sleeper
/// rinit must adopt), then the server, which needs 1 s to save after SIGTERM.
const APP: &str = "echo rinit=$PPID; \
    (trap 'echo bg: saved; exit 0' TERM; echo bg: started; while :; do sleep 0.1; done) & \
    /rinit-testkit adopted; \
    exec /rinit-testkit worker /dev/stdout 1000";

#[test]
fn a_pod_with_rinit_as_the_entrypoint_holds_sigterm_then_every_process_saves() {
    let pod = Pod::play("entrypoint.yaml", &["/bin/sh", "-c", APP]);
    pod.wait_for_log("app", "started");
    pod.wait_for_log("app", "bg: started");
    let took = pod.stop("app", 30);
    let logs = pod.logs("app");
    assert_eq!(
        pod.state("app", "ExitCode"),
        "0",
        "the server saved: {logs}"
    );
    assert!(logs.contains("saved\n"), "{logs}");
    assert!(logs.contains("bg: saved"), "the background worker: {logs}");
    // rinit is PID 1 of the container: the orphan's adopter.
    assert!(
        logs.contains("rinit=1\n") && logs.contains(" adopter=1\n"),
        "{logs}"
    );
    assert!(took >= Duration::from_secs(5), "the stop delay: {took:?}");
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[test]
fn in_a_shared_pid_namespace_rinit_stops_its_own_processes_and_spares_the_sidecar() {
    if skip_without_subreaper() {
        return;
    }
    let pod = Pod::play("shared-pid.yaml", &["/bin/sh", "-c", APP]);
    pod.wait_for_log("app", "started");
    pod.wait_for_log("app", "bg: started");
    pod.wait_for_log("sidecar", "sidecar: up");
    let logs = pod.logs("app");
    let rinit_pid = logs
        .lines()
        .find_map(|l| l.strip_prefix("rinit="))
        .unwrap_or_else(|| panic!("{logs}"))
        .to_string();
    assert_ne!(rinit_pid, "1", "the pause process is PID 1: {logs}");
    assert!(
        logs.contains(&format!(" adopter={rinit_pid}\n")),
        "the orphan was adopted by rinit, not the pod's PID 1: {logs}"
    );
    let took = pod.stop("app", 30);
    let logs = pod.logs("app");
    assert_eq!(pod.state("app", "ExitCode"), "0", "{logs}");
    assert!(logs.contains("bg: saved"), "{logs}");
    assert!(took >= Duration::from_secs(5), "the stop delay: {took:?}");
    assert_eq!(pod.state("sidecar", "Running"), "true");
    let sidecar = pod.logs("sidecar");
    assert!(!sidecar.contains("got SIGTERM"), "{sidecar}");
}
