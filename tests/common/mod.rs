//! The harness every integration test shares: the static rinit and test helper, started as PID 1
//! of a fresh PID namespace (`unshare --pid --fork --mount-proc --kill-child`), so that whatever
//! a test leaves behind dies with the namespace. Tests kill only what they started, by pid.
#![allow(dead_code)]

pub mod engine;

use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const MUSL: &str = "x86_64-unknown-linux-musl";

/// `RINIT_TARGET=glibc`: the binary the README's Quickstart builds, `cargo build --release`
/// for the host (linked against the host's glibc), at target/release/rinit.
pub const GLIBC: &str = "glibc";

/// The target whose rinit the suite tests: `RINIT_TARGET` (e.g. `i686-unknown-linux-musl`, or
/// `aarch64-unknown-linux-musl` under qemu-user through binfmt_misc, or `glibc`), or x86_64
/// musl. The harness and the helper programs stay native.
pub fn target() -> String {
    std::env::var("RINIT_TARGET").unwrap_or_else(|_| MUSL.into())
}

/// Whether the rinit under test runs under qemu-user (another architecture than the host's).
pub fn under_qemu() -> bool {
    let target = target();
    if target == GLIBC {
        return false;
    }
    // An x86_64 kernel runs i686 binaries itself.
    let native = target.starts_with(std::env::consts::ARCH)
        || std::env::consts::ARCH == "x86_64" && target.starts_with("i686");
    !native
}

/// Skips the calling test when rinit runs under qemu-user, which breaks what it checks: says
/// why (see [`skip`]) and returns true.
pub fn skip_under_qemu(why: &str) -> bool {
    if under_qemu() {
        skip(&format!("under qemu-user: {why}"));
    }
    under_qemu()
}

/// Reports the calling test as skipped, with `why`: on stderr, and as a line of the file that
/// `RINIT_SKIP_LOG` names, from which scripts/test counts skips apart from passes (libtest
/// itself can only say `ok`).
pub fn skip(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    eprintln!("skipped: {why}");
    if let Ok(path) = std::env::var("RINIT_SKIP_LOG") {
        use std::io::Write;
        let line = format!("{} {test}: {why}\n", target());
        let file = fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut file) = file {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// Skips a test that needs rinit to register as child subreaper, under qemu-user.
pub fn skip_without_subreaper() -> bool {
    skip_under_qemu(
        "qemu-user 7.2 refuses PR_SET_CHILD_SUBREAPER, so rinit cannot be a subreaper there",
    )
}

fn build(args: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release"])
        .args(args)
        .current_dir(&root)
        .stdout(Stdio::null())
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "build failed: is the target installed? {args:?}"
    );
}

/// Whether `target` is one of the architectures scripts/targets builds with zig (its standard
/// library is not shipped by rustup here): built by scripts/build-cross, tested under qemu-user.
pub fn cross_built(target: &str) -> bool {
    include_str!("../../scripts/targets")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .any(|fields| fields.first() == Some(&target) && fields.last() == Some(&"zig"))
}

fn build_cross(target: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(root.join("scripts/build-cross"))
        .arg(target)
        .current_dir(&root)
        .stdout(Stdio::null())
        .status()
        .expect("run scripts/build-cross");
    assert!(status.success(), "scripts/build-cross {target} failed");
}

/// Builds (once per test process) the static rinit for the target under test and the native
/// static helpers; returns the folder of each.
fn bin_dirs() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DIRS.get_or_init(|| {
        let release = |target: &str| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(target)
                .join("release")
        };
        build(&["--workspace", "--target", MUSL]);
        let target = target();
        if target == GLIBC {
            // Exactly the Quickstart's command, run from the checkout.
            build(&[]);
            let quickstart = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release");
            return (quickstart, release(MUSL));
        }
        if cross_built(&target) {
            build_cross(&target);
        } else if target != MUSL {
            build(&["-p", "rinit", "--target", &target]);
        }
        (release(&target), release(MUSL))
    })
}

pub fn rinit() -> PathBuf {
    bin_dirs().0.join("rinit")
}

pub fn testkit() -> String {
    bin_dirs().1.join("rinit-testkit").display().to_string()
}

/// A private temporary folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rinit-test-{}-{}-{name}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    pub fn read(&self, name: &str) -> String {
        String::from_utf8_lossy(&self.bytes(name)).into_owned()
    }

    /// Waits up to 10 s for file `name` to contain `text` (a helper's "ready"); fails if not.
    pub fn wait_for(&self, name: &str, text: &str) {
        let seen = eventually(Duration::from_secs(10), || self.read(name).contains(text));
        assert!(seen, "no '{text}' in {name}: {}", self.read(name));
    }

    pub fn bytes(&self, name: &str) -> Vec<u8> {
        fs::read(self.0.join(name)).unwrap_or_default()
    }

    /// rinit under another name (a link), as a user installs it as tini or dumb-init.
    pub fn link_as(&self, name: &str) -> String {
        let link = self.0.join(name);
        let _ = symlink(rinit(), &link);
        link.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What a finished run left.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub raw_stdout: Vec<u8>,
    pub stdout: String,
    pub stderr: String,
}

/// A running `unshare` whose forked child (the namespace's PID 1) is `program`.
pub struct Namespace {
    child: Child,
    scratch: Scratch,
}

/// A command line for PID 1 of a new PID namespace: `program args...`.
pub fn namespace_command(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(program)
        .args(args);
    command
}

impl Namespace {
    /// Starts `program args...` as PID 1 of a new PID namespace, output to files.
    pub fn start(program: &str, args: &[&str]) -> Self {
        let mut command = namespace_command(program, args);
        command.stdin(Stdio::null());
        Self::start_command(command)
    }

    /// Starts rinit itself as PID 1 with `args`.
    pub fn rinit(args: &[&str]) -> Self {
        Self::start(&rinit().display().to_string(), args)
    }

    pub fn start_command(mut command: Command) -> Self {
        let scratch = Scratch::new("ns");
        let out = fs::File::create(scratch.0.join("stdout")).expect("stdout file");
        let err = fs::File::create(scratch.0.join("stderr")).expect("stderr file");
        let child = command
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start unshare");
        Namespace { child, scratch }
    }

    /// The host pid of the namespace's PID 1 (unshare's forked child).
    pub fn pid1(&self) -> i32 {
        let unshare = self.child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let children = fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
                .unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                return pid.parse().expect("pid");
            }
            assert!(Instant::now() < deadline, "namespace PID 1 did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A file of this namespace's scratch folder (`stdout`, `stderr`), to watch while it runs.
    pub fn path(&self, name: &str) -> String {
        self.scratch.path(name)
    }

    /// `args` (a program and its arguments) run inside this namespace, its PID and mount
    /// namespaces entered with nsenter, as `docker exec` does: the process's parent stays
    /// outside, so it is not rinit's child.
    pub fn enter(&self, args: &[&str]) -> Command {
        let mut command = Command::new("nsenter");
        command
            .args(["-t", &self.pid1().to_string(), "-p", "-m", "--"])
            .args(args);
        command
    }

    /// As `enter`, with SIGTERM blocked from the start (nsenter and every process it leads to
    /// inherit the mask), for a testkit worker that unblocks it once its handler is in place:
    /// entering a draining namespace, it may be told before then, and must not die of it.
    pub fn enter_with_sigterm_blocked(&self, args: &[&str]) -> Command {
        let mut command = self.enter(args);
        // SAFETY: between fork and exec of the test's own child: sigemptyset, sigaddset and
        // sigprocmask only, all async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                let mut term: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut term);
                libc::sigaddset(&mut term, libc::SIGTERM);
                libc::sigprocmask(libc::SIG_BLOCK, &term, std::ptr::null_mut());
                Ok(())
            });
        }
        command
    }

    /// Waits up to 10 s for `text` in what PID 1 wrote to stderr so far; fails the test,
    /// showing what it wrote, if it never comes.
    pub fn wait_for_stderr(&self, text: &str) {
        let path = self.path("stderr");
        let seen = eventually(Duration::from_secs(10), || {
            fs::read_to_string(&path).unwrap_or_default().contains(text)
        });
        assert!(
            seen,
            "no {text:?} in stderr: {}",
            fs::read_to_string(&path).unwrap_or_default()
        );
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill with plain integers, aimed at the PID 1 this test started.
        assert_eq!(unsafe { libc::kill(self.pid1(), signal) }, 0, "kill PID 1");
    }

    /// Waits for the namespace to end; on timeout kills unshare (its --kill-child takes the
    /// namespace down) and fails the test.
    pub fn finish(mut self, timeout: Duration) -> Outcome {
        let Some(status) = wait_or_stop(&mut self.child, timeout, |unshare| {
            let _ = unshare.kill();
        }) else {
            panic!(
                "did not finish within {timeout:?}\nstdout: {}\nstderr: {}",
                self.scratch.read("stdout"),
                self.scratch.read("stderr")
            );
        };
        use std::os::unix::process::ExitStatusExt;
        Outcome {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            raw_stdout: self.scratch.bytes("stdout"),
            stdout: self.scratch.read("stdout"),
            stderr: self.scratch.read("stderr"),
        }
    }

    /// Ends the namespace now and returns what it printed so far.
    pub fn finish_now(self) -> Outcome {
        // SAFETY: SIGKILL to the unshare this harness started; --kill-child ends its namespace.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        self.finish(Duration::from_secs(10))
    }

    /// Ends the namespace now: SIGKILL to unshare, whose --kill-child kills PID 1 and with it
    /// every process in the namespace (what dropping it does).
    pub fn kill(self) {}
}

impl Drop for Namespace {
    /// A test that fails midway still ends what it started: SIGKILL to its unshare, whose
    /// --kill-child takes the namespace down. After `finish`, std knows the child was reaped
    /// and sends nothing.
    fn drop(&mut self) {
        end_namespace(&mut self.child);
    }
}

/// SIGKILL to `unshare`, whose --kill-child takes its namespace down, and a wait until the
/// namespace's PID 1 is gone or a zombie: the kernel lets PID 1 exit only once every other
/// process of the namespace has, so none of them still writes to a scratch folder that is
/// about to be removed. Nothing to do when `unshare` has already been reaped.
fn end_namespace(unshare: &mut Child) {
    let init = children(unshare.id() as i32).first().copied();
    let _ = unshare.kill();
    let _ = unshare.wait();
    if let Some(init) = init {
        eventually(Duration::from_secs(10), || matches!(state(init), 'Z' | '?'));
    }
}

/// Polls `child` until it exits, for up to `timeout`. Past that, `stop` ends it (each caller
/// knows how: SIGKILL to unshare, `runc kill`), it is reaped, and the answer is `None`.
pub fn wait_or_stop(
    child: &mut Child,
    timeout: Duration,
    stop: impl FnOnce(&mut Child),
) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return Some(status);
        }
        if Instant::now() > deadline {
            stop(child);
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs rinit as PID 1 with `args` and waits up to 20 s.
pub fn run(args: &[&str]) -> Outcome {
    Namespace::rinit(args).finish(Duration::from_secs(20))
}

/// Polls `check` every 5 ms for up to `timeout`; true once it held.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    check()
}

/// True when a line of `logs` begins with `prefix`. A log handshake matches the start of a
/// line, never any substring: waiting for `up` must not be satisfied by `group: started`.
pub fn has_line(logs: &str, prefix: &str) -> bool {
    logs.lines().any(|line| line.starts_with(prefix))
}

/// Waits until process `pid` reads its signals from a signalfd (rinit opens it right after it
/// blocks every signal): from then on a signal sent to it is queued for it, never dropped by the
/// kernel (as for a PID 1 without a handler) nor fatal. qemu-user's signalfd is the host's, so
/// this holds there too.
pub fn wait_until_listening(pid: i32) {
    let listening = eventually(Duration::from_secs(10), || {
        fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                fs::read_link(fd.path()).is_ok_and(|to| to.as_os_str() == "anon_inode:[signalfd]")
            })
        })
    });
    assert!(listening, "process {pid} never opened a signalfd");
}

/// A field of /proc/PID/status, e.g. `voluntary_ctxt_switches`.
pub fn proc_status(pid: i32, field: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// A command run as session leader with a new pseudo-terminal as its controlling terminal and
/// stdio, as `docker run -it` gives one; the test types into it and reads the screen.
pub struct Pty {
    master: fs::File,
    child: Child,
    screen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Pty {
    pub fn spawn(mut command: Command) -> Self {
        use std::io::Read;
        use std::os::fd::FromRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::process::CommandExt;
        // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r on the descriptor just opened, with a
        // live buffer for the name.
        let (master, slave_name) = unsafe {
            let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(fd >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(fd), 0, "grantpt");
            assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
            let name = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_string_lossy()
                .into_owned();
            (fs::File::from_raw_fd(fd), name)
        };
        let slave = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&slave_name)
            .expect("open the pty's slave");
        command
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: between fork and exec: setsid and ioctl only.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = command.spawn().expect("start on the pty");
        drop(command); // closes the parent's copies of the slave
        let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (mut reader, sink) = (master.try_clone().unwrap(), screen.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Reading ends with EIO once every process has closed the terminal.
            while let Ok(n @ 1..) = reader.read(&mut buffer) {
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Pty {
            master,
            child,
            screen,
        }
    }

    /// Types `bytes` on the terminal's keyboard.
    pub fn type_keys(&self, bytes: &[u8]) {
        use std::io::Write;
        (&self.master).write_all(bytes).expect("write to the pty");
    }

    /// What the terminal has shown so far, with the terminal's \r\n turned into \n.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).replace("\r\n", "\n")
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the command to end (killing it after `timeout`); returns its exit code.
    pub fn finish(&mut self, timeout: Duration) -> i32 {
        let Some(status) = wait_or_stop(&mut self.child, timeout, |child| {
            let _ = child.kill();
        }) else {
            panic!(
                "did not finish within {timeout:?}; screen: {}",
                self.screen()
            );
        };
        std::thread::sleep(Duration::from_millis(50)); // let the reader drain
        status.code().unwrap_or(-1)
    }
}

impl Drop for Pty {
    /// A test that fails before `finish` still ends what it started: SIGKILL to the session
    /// leader it spawned (unshare, whose --kill-child takes the namespace down).
    fn drop(&mut self) {
        end_namespace(&mut self.child);
    }
}

/// The host pids of `pid`'s children.
pub fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The one-letter state of a process (R, S, T, Z...).
pub fn state(pid: i32) -> char {
    proc_status(pid, "State").chars().next().unwrap_or('?')
}

/// The `name=value` fields of the line of `rinit-testkit show` in `text` (pid, pgid, sid, fg,
/// blocked, ignored, fds, listen_pid).
pub fn shown(text: &str) -> std::collections::BTreeMap<String, String> {
    let line = text
        .lines()
        .find(|line| line.starts_with("pid="))
        .unwrap_or_else(|| panic!("no `show` line in: {text}"));
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// A tarball of a scratch root filesystem, for `docker import` and `podman import`: static
/// busybox as /bin/busybox with `applets` linked to it, /rinit and /rinit-testkit. Returns the
/// folder holding it (removed when dropped) and the tarball's path.
pub fn scratch_rootfs_tarball(applets: &[&str]) -> (Scratch, String) {
    let root = Scratch::new("rootfs");
    fs::create_dir_all(root.0.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.0.join("bin/busybox")).expect("busybox-static is required");
    for applet in applets {
        symlink("busybox", root.0.join("bin").join(applet)).unwrap();
    }
    fs::copy(rinit(), root.0.join("rinit")).unwrap();
    fs::copy(testkit(), root.0.join("rinit-testkit")).unwrap();
    let tarball = root.path("rootfs.tar");
    let tarred = Command::new("tar")
        .args(["-C", &root.0.display().to_string(), "-cf", &tarball])
        .args(["bin", "rinit", "rinit-testkit"])
        .status()
        .expect("tar");
    assert!(tarred.success());
    (root, tarball)
}

/// Fails unless process `pid` (a host pid) runs as uid and gid `id` with no other group,
/// holds no capability and can never gain one (empty bounding set, no_new_privs): the
/// lockdown a test asked for really held.
pub fn assert_locked_down(pid: i32, id: u32) {
    let ids = vec![id.to_string(); 4].join(" ");
    let fields = |name: &str| {
        proc_status(pid, name)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(fields("Uid"), ids, "the uids of {pid}");
    assert_eq!(fields("Gid"), ids, "the gids of {pid}");
    let groups = fields("Groups");
    assert!(
        groups
            .split_whitespace()
            .all(|group| group == id.to_string()),
        "the groups of {pid}: {groups}"
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(proc_status(pid, set), "0000000000000000", "{set} of {pid}");
    }
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1", "no_new_privs of {pid}");
}

/// Whether process `pid` (a host pid) sees its root filesystem mounted read-only.
pub fn root_is_read_only(pid: i32) -> bool {
    let mounts = fs::read_to_string(format!("/proc/{pid}/mounts")).unwrap_or_default();
    // The last mount on / is the one in effect.
    let root = mounts
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .rfind(|fields| fields.get(1) == Some(&"/"));
    root.is_some_and(|fields| {
        fields
            .get(3)
            .is_some_and(|options| options.split(',').any(|o| o == "ro"))
    })
}
