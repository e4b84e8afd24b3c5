//! A private dockerd (Debian's docker.io) for the tests that need a real Docker engine: its own
//! data root, exec root and socket in a temporary folder, no networking, and `--init-path`
//! pointing at the static rinit. Every container and image it made, the engine and the folder
//! are removed when it is dropped.

use super::*;
use std::fs;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";

/// A private dockerd, stopped and removed when dropped.
pub struct Engine {
    dir: Scratch,
    daemon: Child,
    socket: String,
    /// Containers and images made here, removed before the engine stops.
    pub made: Mutex<Vec<(&'static str, String)>>,
}

impl Engine {
    pub fn start() -> Self {
        let dir = Scratch::new("docker");
        let socket = format!("unix://{}", dir.path("sock"));
        let daemon = Command::new(DOCKERD)
            .args([
                "--data-root",
                &dir.path("root"),
                "--exec-root",
                &dir.path("exec"),
                "--pidfile",
                &dir.path("pid"),
                "-H",
                &socket,
                "--storage-driver",
                "vfs",
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--init-path",
                &rinit().display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path("log")).unwrap())
            .stderr(fs::File::create(dir.path("log.err")).unwrap())
            .spawn()
            .expect("dockerd (Debian's docker.io) is required for the Docker tests");
        let engine = Engine {
            dir,
            daemon,
            socket,
            made: Mutex::new(Vec::new()),
        };
        let up = eventually(Duration::from_secs(60), || {
            engine.output(&["info"]).status.success()
        });
        assert!(up, "dockerd did not start: {}", engine.dir.read("log.err"));
        engine
    }

    pub fn output(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .args(["-H", &self.socket])
            .args(args)
            .env("DOCKER_BUILDKIT", "0") // the classic builder: FROM scratch needs no registry
            .stdin(Stdio::null())
            .output()
            .expect("the docker client (Debian's docker.io)")
    }

    pub fn check(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A scratch image of static busybox, rinit and the test helper, entrypoint `/rinit --`.
    pub fn import(&self, tag: &str) -> String {
        let (_root, tarball) = scratch_rootfs_tarball(&["sh", "sleep", "cat"]);
        self.made.lock().unwrap().push(("rmi", tag.to_string()));
        self.check(&[
            "import",
            "--change",
            r#"ENTRYPOINT ["/rinit", "--"]"#,
            &tarball,
            tag,
        ]);
        tag.to_string()
    }

    /// `docker run --detach --network none ARGS...`; returns the container's name.
    pub fn run(&self, name: &str, args: &[&str]) -> String {
        self.made.lock().unwrap().push(("rm", name.to_string()));
        let mut all = vec!["run", "--detach", "--network", "none", "--name", name];
        all.extend(args);
        self.check(&all);
        name.to_string()
    }

    pub fn logs(&self, name: &str) -> String {
        let out = self.output(&["logs", name]);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// Waits up to 30 s for a line of the container's log that begins with `text`.
    pub fn wait_for_log(&self, name: &str, text: &str) {
        self.wait_for_log_within(name, text, Duration::from_secs(30));
    }

    /// [`Engine::wait_for_log`] with a timeout of its own (a storm under qemu-user on a loaded
    /// machine takes longer than 30 s).
    pub fn wait_for_log_within(&self, name: &str, text: &str, timeout: Duration) {
        let seen = eventually(timeout, || has_line(&self.logs(name), text));
        assert!(seen, "{name}: no '{text}' in {}", self.logs(name));
    }

    /// `docker stop -t SECONDS`; returns how long it took.
    pub fn stop(&self, name: &str, seconds: u32) -> Duration {
        let start = Instant::now();
        self.check(&["stop", "-t", &seconds.to_string(), name]);
        start.elapsed()
    }

    pub fn exit_code(&self, name: &str) -> String {
        self.check(&["inspect", "--format", "{{.State.ExitCode}}", name])
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for (verb, what) in self.made.lock().unwrap().iter().rev() {
            let _ = self.output(&[verb, "--force", what]);
        }
        // SIGTERM: dockerd stops its containerd and exits; SIGKILL if it takes too long.
        // SAFETY: kill with plain integers, aimed at the dockerd this test started.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = wait_or_stop(&mut self.daemon, Duration::from_secs(30), |daemon| {
            let _ = daemon.kill();
        });
    }
}
