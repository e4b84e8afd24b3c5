//! Helper programs for rinit's tests, one static binary (it also runs inside scratch
//! containers), one subcommand per scenario's process. Built on clap, nix and signal-hook;
//! `record` alone uses rinit's own kernel signal sets, since nix's `Signal` cannot hold the
//! real-time signals it must record (and musl's sigfillset leaves out 32-34).

#![no_main]

mod fuzz;
mod tree;

use clap::{Parser, Subcommand};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getppid, pipe, ForkResult, Pid};
use std::ffi::{c_char, c_int, CStr, OsString};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "rinit-testkit", about = "Helper programs for rinit's tests")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Blocks every signal, writes `ready` to FILE, then appends each signal number it
    /// receives; exits 0 after recording SIGTERM.
    Record { file: String },
    /// Writes `started` to FILE; on SIGTERM waits MODE milliseconds, appends `saved`, exits 0.
    /// With MODE `ignore` it never acts on SIGTERM and runs until killed; `ignore:N` also
    /// runs N idle threads, which make its death take longer.
    Worker {
        file: String,
        #[arg(default_value = "0")]
        mode: String,
    },
    /// Double-forks COUNT processes that exit at once, orphaned to the nearest reaper.
    Orphans { count: usize },
    /// Waits up to SECONDS for no zombie to be left; prints `zombies=N`.
    Zombies { seconds: u64 },
    /// Double-forks a sleeper; prints its own parent's pid and the sleeper's new parent's.
    /// With LOG the orphan is a worker instead: `started` in LOG once its SIGTERM handler is
    /// in place, `saved` on SIGTERM, then it exits 0.
    Adopted { log: Option<String> },
    /// For each SIGUSR1, writes the CLOCK_MONOTONIC time in ns as a line; exits on SIGTERM.
    Latency,
    /// Prints its blocked and ignored masks, open descriptors, group, session, foreground
    /// group, LISTEN_PID, ids (real, effective, saved, filesystem), supplementary groups,
    /// capabilities (permitted, effective, ambient) and HOME.
    Show,
    /// Starts COMMAND RUNS times, sends it SIGTERM as soon as its own code runs (the first
    /// moment its mask shows SIGTERM blocked, which for rinit is its first act), and prints how
    /// each run ended: `runs=N killed=K codes=CODE:COUNT,...` (killed: died of a signal).
    Starts {
        runs: usize,
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<OsString>,
    },
    /// Registers as child subreaper, then runs COMMAND (the attribute survives exec).
    Subreaper {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<OsString>,
    },
    /// Runs COMMAND under a seccomp filter that refuses pidfd_open with EPERM, as a custom
    /// profile or systemd's SystemCallFilter= may (the filter is inherited by every process
    /// COMMAND starts).
    NoPidfd {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<OsString>,
    },
    /// Runs COMMAND under a seccomp filter that refuses pidfd_send_signal with EPERM (a profile
    /// written before Linux 5.1 may): pidfd_open works, sending through it does not.
    NoPidfdSend {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<OsString>,
    },
    /// A worker whose main thread has ended while another thread lives on (its leader shows
    /// `Z` in /proc, but the process runs): writes `started` to FILE once /proc shows that,
    /// then on SIGTERM waits MS milliseconds, appends `saved` and exits 0.
    Threaded { file: String, ms: u64 },
    /// Runs COMMAND under a seccomp filter that refuses prctl(PR_SET_CHILD_SUBREAPER) with
    /// EPERM, as a restrictive profile may: rinit cannot register as a subreaper.
    NoSubreaper {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<OsString>,
    },
    /// Allocates memory and touches every page, a MiB at a time, until it is killed (by the
    /// out-of-memory killer of a container with a memory limit); prints `hogging` first.
    Hog,
    /// Runs COMMAND with stderr a pipe whose reader has already gone.
    BrokenStderr {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<OsString>,
    },
    /// The processes of bench/trees' random trees: `node PLAN DIR ID`, `holder DIR CMD...`,
    /// `sentinel FILE`, `blocked CMD...` (see tree.rs).
    Tree {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<OsString>,
    },
    /// Runs CASES random command lines and environments through the rinit binaries in DIR
    /// (rinit and links under every peer's name); prints `cases=N` or the failing case.
    Fuzz {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        cases: usize,
        #[arg(long)]
        dir: String,
    },
}

/// The C entry point, so that Rust's runtime does not ignore SIGPIPE and `show` reports exactly
/// what this process was given.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args = (0..argc.max(0) as usize).map(|i| {
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        OsString::from_vec(unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes().to_vec())
    });
    let code = match Cli::parse_from(args).scenario {
        Scenario::Record { file } => record(&file),
        Scenario::Worker { file, mode } => worker(&file, &mode),
        Scenario::Orphans { count } => orphans(count),
        Scenario::Zombies { seconds } => zombies(seconds),
        Scenario::Adopted { log } => adopted(log.as_deref()),
        Scenario::Latency => latency(),
        Scenario::Show => show(),
        Scenario::Starts { runs, command } => starts(runs, &command),
        Scenario::BrokenStderr { command } => broken_stderr(&command),
        Scenario::Hog => hog(),
        Scenario::NoPidfd { command } => {
            refuse_syscall(PIDFD_OPEN);
            exec(&command)
        }
        Scenario::NoPidfdSend { command } => {
            refuse_syscall(PIDFD_SEND_SIGNAL);
            exec(&command)
        }
        Scenario::Threaded { file, ms } => threaded(&file, Duration::from_millis(ms)),
        Scenario::NoSubreaper { command } => {
            refuse_subreaper();
            exec(&command)
        }
        Scenario::Subreaper { command } => {
            nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
            exec(&command)
        }
        Scenario::Fuzz { seed, cases, dir } => fuzz::run(seed, cases, &dir),
        Scenario::Tree { args } => tree::run(&args),
    };
    let _ = std::io::stdout().flush();
    code
}

fn hog() -> c_int {
    println!("hogging");
    let _ = std::io::stdout().flush();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        // Written, not just reserved: untouched pages cost nothing and are never counted.
        kept.push(vec![1u8; 1 << 20]);
        if kept.len().is_multiple_of(1024) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn append(path: &str, line: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    // One write for the line and its newline: `writeln!` would make two, and another
    // process writing to the same pipe (a container's stdout) could land between them.
    let text = format!("{line}\n");
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn record(path: &str) -> i32 {
    use rinit::signals::{self, Mask};
    signals::set_mask(Mask::all()).expect("block signals");
    append(path, "ready");
    loop {
        if let Some(signal) = signals::wait(Mask::all(), None) {
            append(path, &signal.to_string());
            if signal == libc::SIGTERM {
                return 0;
            }
        }
    }
}

fn worker(path: &str, mode: &str) -> i32 {
    if let Some(threads) = mode.strip_prefix("ignore") {
        // Blocked and never waited for: SIGTERM stays pending, and only SIGKILL ends this.
        SigSet::from(Signal::SIGTERM)
            .thread_block()
            .expect("block SIGTERM");
        // `ignore:N`: N more threads (with SIGTERM blocked too), so that dying takes a while:
        // the kernel reaps a process only once each of its threads has exited.
        for _ in 0..threads.trim_start_matches(':').parse().unwrap_or(0) {
            std::thread::spawn(|| loop {
                std::thread::sleep(Duration::from_secs(3600));
            });
        }
        append(path, "started");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    save_on_sigterm(
        path,
        Duration::from_millis(mode.parse().unwrap_or(0)),
        || {},
    );
    0
}

/// The worker's life: a SIGTERM handler (then SIGTERM unblocked), `started` in `path`, then
/// `ready()`; on SIGTERM it waits `delay` and appends `saved`.
fn save_on_sigterm(path: &str, delay: Duration, ready: impl FnOnce()) {
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGTERM]).expect("a SIGTERM handler");
    // A caller may start this with SIGTERM blocked so that none is lost before the handler is
    // in place; one that came meanwhile is delivered to the handler now.
    SigSet::from(Signal::SIGTERM)
        .thread_unblock()
        .expect("unblock SIGTERM");
    append(path, "started");
    ready();
    signals.forever().next();
    std::thread::sleep(delay);
    append(path, "saved");
}

fn threaded(path: &str, delay: Duration) -> i32 {
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGTERM]).expect("a SIGTERM handler");
    let path = path.to_string();
    std::thread::spawn(move || {
        // `started` stands for the state the test needs: the main thread is gone.
        let me = std::process::id();
        while !std::fs::read_to_string(format!("/proc/{me}/stat"))
            .is_ok_and(|stat| after_name(&stat).starts_with(" Z"))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        append(&path, "started");
        signals.forever().next();
        std::thread::sleep(delay);
        append(&path, "saved");
        std::process::exit(0)
    });
    // SAFETY: ends the main thread only (musl's pthread_exit unwinds nothing); the process
    // lives on in the thread above, which ends it with exit.
    unsafe { libc::pthread_exit(std::ptr::null_mut()) }
}

fn orphans(count: usize) -> i32 {
    for _ in 0..count {
        // SAFETY: single-threaded; the children only fork and _exit.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                // SAFETY: as above; the grandchild exits at once and becomes an orphan.
                if let Ok(ForkResult::Child) = unsafe { fork() } {
                    std::process::exit(0);
                }
                std::process::exit(0)
            }
            ForkResult::Parent { child } => {
                waitpid(child, None).expect("wait for the middle child");
            }
        }
    }
    0
}

fn latency() -> i32 {
    let listened = SigSet::from_iter([Signal::SIGUSR1, Signal::SIGTERM]);
    listened.thread_block().expect("block signals");
    println!("ready");
    let _ = std::io::stdout().flush();
    while listened.wait() == Ok(Signal::SIGUSR1) {
        let line = format!("{}\n", rinit::sys::now().as_nanos());
        let _ = std::io::stdout().write_all(line.as_bytes());
        let _ = std::io::stdout().flush();
    }
    0
}

fn adopted(log: Option<&str>) -> i32 {
    let (reader, writer) = pipe().expect("pipe");
    // SAFETY: single-threaded; the children call only fork, write, sleep and _exit (and the
    // worker, once alone in its process, sets up its handler).
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // SAFETY: as above.
            let orphan = match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    let Some(log) = log else {
                        std::thread::sleep(Duration::from_secs(30));
                        std::process::exit(0)
                    };
                    // Ready before its pid is reported, so that its parent's exit (and a
                    // shutdown right after) always finds the handler in place.
                    save_on_sigterm(log, Duration::ZERO, || {
                        let me = std::process::id() as i32;
                        let _ = nix::unistd::write(&writer, &me.to_ne_bytes());
                    });
                    std::process::exit(0)
                }
                Ok(ForkResult::Parent { child }) => child.as_raw(),
                Err(_) => std::process::exit(1),
            };
            if log.is_none() {
                let _ = nix::unistd::write(&writer, &orphan.to_ne_bytes());
            }
            std::process::exit(0)
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let mut bytes = [0u8; 4];
            std::fs::File::from(reader)
                .read_exact(&mut bytes)
                .expect("the orphan's pid");
            waitpid(child, None).expect("wait for the middle child");
            let orphan = i32::from_ne_bytes(bytes);
            println!("init={} adopter={}", getppid(), parent_of(orphan));
            0
        }
    }
}

/// A /proc stat line after the command name (which may hold spaces and ')'): ` STATE PPID ...`.
fn after_name(stat: &str) -> &str {
    &stat[stat.rfind(')').map_or(0, |at| at + 1)..]
}

/// The parent of `pid` as /proc reads it here (not through rinit's reader, the code under
/// test), or -1 when it is gone.
fn parent_of(pid: i32) -> i32 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return -1;
    };
    // pid (comm) state ppid ...
    after_name(&stat)
        .split_whitespace()
        .nth(1)
        .and_then(|ppid| ppid.parse().ok())
        .unwrap_or(-1)
}

/// Zombies in this PID namespace, read from /proc here rather than through rinit's own reader
/// (the code under test); a /proc that cannot be listed is an error, never "none".
fn count_zombies() -> usize {
    let entries = std::fs::read_dir("/proc").expect("list /proc: a PID namespace's procfs");
    let mut zombies = 0;
    let mut processes = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Gone since the listing: not counted.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        processes += 1;
        let state = after_name(&stat).split_whitespace().next();
        zombies += usize::from(state == Some("Z"));
    }
    assert!(processes > 0, "/proc lists no process: not a usable procfs");
    zombies
}

fn zombies(seconds: u64) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut left = count_zombies();
    while left > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = count_zombies();
    }
    println!("zombies={left}");
    0
}

fn show() -> i32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut fds: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    // read_dir holds one descriptor of its own while listing; it is closed again now.
    let fds: Vec<String> = fds
        .iter()
        .filter(|fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok())
        .map(u32::to_string)
        .collect();
    let foreground = nix::unistd::tcgetpgrp(std::io::stdin()).map_or(-1, Pid::as_raw);
    let list = |name: &str| field(name).split_whitespace().collect::<Vec<_>>().join(",");
    println!(
        "pid={} blocked={} ignored={} fds={} pgid={} sid={} fg={foreground} listen_pid={} \
         uid={} gid={} groups={} capprm={} capeff={} capamb={} home={}",
        std::process::id(),
        field("SigBlk:"),
        field("SigIgn:"),
        fds.join(","),
        nix::unistd::getpgrp(),
        nix::unistd::getsid(None).map_or(-1, Pid::as_raw),
        std::env::var("LISTEN_PID").unwrap_or_default(),
        list("Uid:"),
        list("Gid:"),
        list("Groups:"),
        field("CapPrm:"),
        field("CapEff:"),
        field("CapAmb:"),
        std::env::var("HOME").unwrap_or_default()
    );
    0
}

fn starts(runs: usize, command: &[OsString]) -> i32 {
    let mut killed = 0;
    let mut codes = std::collections::BTreeMap::<i32, usize>::new();
    for _ in 0..runs {
        // spawn returns once the program has exec'd: the signal arrives right after start.
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .spawn()
            .expect("start the command");
        let pid = child.id() as i32;
        let started = Instant::now();
        while !blocks_sigterm(pid) && started.elapsed() < Duration::from_secs(5) {
            std::hint::spin_loop();
        }
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        match child.wait().expect("wait for the command").code() {
            Some(code) => *codes.entry(code).or_default() += 1,
            None => killed += 1,
        }
        // As PID 1 of the test's namespace, also collect whatever a run left behind.
        while let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
            waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG))
        {}
    }
    let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c}:{n}")).collect();
    println!("runs={runs} killed={killed} codes={}", codes.join(","));
    0
}

/// Whether process `pid` has SIGTERM in its blocked mask (or is gone).
fn blocks_sigterm(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigBlk:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & 1 << (libc::SIGTERM - 1) != 0)
}

/// A BPF statement of a seccomp filter: `code` with operand `k`, jumping `yes`/`no` ahead.
fn bpf(code: u32, k: u32, yes: u8, no: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: yes,
        jf: no,
        k,
    }
}

const LOAD: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const IF_EQUAL: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const RETURN: u32 = libc::BPF_RET | libc::BPF_K;
const REFUSE: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
/// Offsets in struct seccomp_data: the syscall number, the architecture, the first argument's
/// low 32 bits (little-endian).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0: u32 = 16;

/// pidfd_open and pidfd_send_signal: the same numbers for x86_64 and i386 alike, and for the
/// host syscalls qemu-user makes on a foreign binary's behalf.
const PIDFD_OPEN: u32 = 434;
const PIDFD_SEND_SIGNAL: u32 = 424;

/// Installs a seccomp filter: syscall `number` fails with EPERM; all else is allowed.
fn refuse_syscall(number: u32) {
    install(&[
        bpf(LOAD, NR, 0, 0),
        bpf(IF_EQUAL, number, 0, 1),
        bpf(RETURN, REFUSE, 0, 0),
        bpf(RETURN, libc::SECCOMP_RET_ALLOW, 0, 0),
    ]);
}

/// Installs a seccomp filter: prctl(PR_SET_CHILD_SUBREAPER, ...) fails with EPERM, from x86_64
/// (prctl is 157) and i386 (172) programs alike; all else is allowed (PR_GET_CHILD_SUBREAPER
/// too). qemu-user refuses the prctl itself, before any host call.
fn refuse_subreaper() {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;
    let allow = bpf(RETURN, libc::SECCOMP_RET_ALLOW, 0, 0);
    install(&[
        /* 0 */ bpf(LOAD, ARCH, 0, 0),
        /* 1 */ bpf(IF_EQUAL, AUDIT_ARCH_X86_64, 1, 0), // to 3, else 2
        /* 2 */ bpf(IF_EQUAL, AUDIT_ARCH_I386, 2, 7), // to 5, else allow
        /* 3 */ bpf(LOAD, NR, 0, 0),
        /* 4 */ bpf(IF_EQUAL, 157, 2, 5), // to 7, else allow
        /* 5 */ bpf(LOAD, NR, 0, 0),
        /* 6 */ bpf(IF_EQUAL, 172, 0, 3), // to 7, else allow
        /* 7 */ bpf(LOAD, ARG0, 0, 0),
        /* 8 */
        bpf(IF_EQUAL, libc::PR_SET_CHILD_SUBREAPER as u32, 0, 1), // to 9, else allow
        /* 9 */ bpf(RETURN, REFUSE, 0, 0),
        /* 10 */ allow,
    ]);
}

/// Installs `program` as this process's seccomp filter (inherited by every process it starts).
fn install(program: &[libc::sock_filter]) {
    let filter = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl with plain integers, and a pointer to a filter that outlives the call (the
    // kernel copies it).
    unsafe {
        assert_eq!(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            0,
            "no_new_privs"
        );
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &filter as *const libc::sock_fprog
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn broken_stderr(command: &[OsString]) -> i32 {
    let (reader, writer) = pipe().expect("pipe");
    drop(reader);
    nix::unistd::dup2_stderr(writer).expect("dup2");
    exec(command)
}

/// Replaces this process with `command`; returns only if that fails.
fn exec(command: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    let error = Command::new(&command[0]).args(&command[1..]).exec();
    eprintln!("exec {:?}: {error}", command[0]);
    127
}
