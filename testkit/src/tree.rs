//! `rinit-testkit tree ...`: the processes of bench/trees' random process trees.
//!
//! - `tree node PLAN DIR ID` is one node of a plan: it reads its line of PLAN, does what the
//!   line asks and records its life in `DIR/ID` (see [`Node`]).
//! - `tree holder DIR COMMAND...` is the PID 1 that holds an init in subreaper mode: it starts a
//!   sentinel and COMMAND, reaps everything, records COMMAND's status, CPU time and how many
//!   processes it left behind (`ended code=N cpu_us=N left=N [pids=P,...]`) in `DIR/holder` and
//!   exits with that status.
//! - `tree sentinel FILE` records every signal it gets: nobody should send it any.
//! - `tree blocked COMMAND...` runs COMMAND with the stop signals blocked (a process entered
//!   from outside, so none dies of a stop before its handler is in place).
//!
//! Every record line is `NANOSECONDS EVENT...`, the time on CLOCK_MONOTONIC (the driver's
//! `time.monotonic()` reads the same clock).
//!
//! A plan line is `ID PARENT KEY=VALUE...`; PARENT is `-` for the command and `@` for a node
//! the driver enters from outside. Keys: `save=MS` (trap the stop signals; on the first one
//! save for MS then exit 0), `ignore` (trap and record them, never act), `default` (no handler:
//! a stop signal kills it), `exit=MS:CODE` and `die=MS:SIGNAL` (MS after the driver's go),
//! `away=double|setsid`, `tty=close` (give up the controlling terminal and point stdin, stdout
//! and stderr at /dev/null, as a daemon does), `stopself`, `zombies=N`, `late=ID` (spawn node ID on the first stop
//! signal), `exec=ID` (become node ID at once, same pid), `threads` (end the main thread),
//! `spawn=no` (a child the node does not start itself: a late or exec'd one).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

/// The signals a node records; the first three are the stop signals.
const RECORDED: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGQUIT,
    libc::SIGINT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGHUP,
    libc::SIGWINCH,
    libc::SIGCONT,
];
const STOPS: [i32; 3] = [libc::SIGTERM, libc::SIGQUIT, libc::SIGINT];

pub fn run(args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match args.first().map(String::as_str) {
        Some("node") if args.len() == 4 => node(&args[1], &args[2], &args[3]),
        Some("holder") if args.len() >= 3 => holder(&args[1], &args[2..]),
        Some("sentinel") if args.len() == 2 => sentinel(&args[1]),
        Some("blocked") if args.len() >= 2 => {
            stop_signals(libc::SIG_BLOCK);
            exec(&args[1..])
        }
        _ => {
            eprintln!(
                "usage: tree node PLAN DIR ID | holder DIR CMD... | sentinel FILE | blocked CMD..."
            );
            2
        }
    }
}

fn now_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Appends one stamped line; opened each time so that nothing is buffered when the process
/// is killed.
fn record(path: &str, event: &str) {
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(format!("{} {event}\n", now_ns()).as_bytes());
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => "TERM",
        libc::SIGQUIT => "QUIT",
        libc::SIGINT => "INT",
        libc::SIGUSR1 => "USR1",
        libc::SIGUSR2 => "USR2",
        libc::SIGHUP => "HUP",
        libc::SIGWINCH => "WINCH",
        libc::SIGCONT => "CONT",
        libc::SIGALRM => "ALRM",
        libc::SIGPIPE => "PIPE",
        _ => "OTHER",
    }
}

/// Blocks or unblocks the stop signals in the calling thread.
fn stop_signals(how: libc::c_int) {
    // SAFETY: a sigset_t built with sigemptyset/sigaddset, passed to pthread_sigmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in STOPS {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

fn exec(command: &[String]) -> i32 {
    let error = Command::new(&command[0]).args(&command[1..]).exec();
    eprintln!("exec {}: {error}", command[0]);
    127
}

/// One node's line of the plan.
#[derive(Default, Clone)]
struct Node {
    id: String,
    parent: String,
    keys: HashMap<String, String>,
}

impl Node {
    fn has(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }
    /// `MS:VALUE` of a timed key.
    fn timed(&self, key: &str) -> Option<(u64, i32)> {
        let (ms, value) = self.get(key)?.split_once(':')?;
        Some((ms.parse().ok()?, value.parse().ok()?))
    }
}

fn read_plan(path: &str) -> Vec<Node> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let id = words.next()?.to_string();
            let parent = words.next()?.to_string();
            let keys = words
                .map(|w| match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (w.to_string(), String::new()),
                })
                .collect();
            Some(Node { id, parent, keys })
        })
        .collect()
}

/// Starts node `id` of the plan as a child, with the stop signals blocked until its handlers
/// are in place (it unblocks them itself).
fn spawn_node(plan: &str, dir: &str, id: &str, log: &str) {
    stop_signals(libc::SIG_BLOCK);
    let me = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    match Command::new(me)
        .args(["tree", "node", plan, dir, id])
        .spawn()
    {
        Ok(child) => record(log, &format!("spawn {id} {}", child.id())),
        Err(e) => record(log, &format!("error spawn {id}: {e}")),
    }
    // The child is never waited for: it is left as a zombie or to the init.
    stop_signals(libc::SIG_UNBLOCK);
}

fn fork_or_exit() -> libc::pid_t {
    // SAFETY: called while single-threaded; each branch only calls async-signal-safe functions
    // or returns to ordinary single-threaded code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        // SAFETY: _exit ends this process.
        unsafe { libc::_exit(120) };
    }
    pid
}

fn node(plan: &str, dir: &str, id: &str) -> i32 {
    let nodes = read_plan(plan);
    let Some(me) = nodes.iter().find(|n| n.id == id).cloned() else {
        eprintln!("tree: no node {id} in {plan}");
        return 2;
    };
    let log = format!("{dir}/{id}");
    // Away first, while single-threaded: the process that stays is the node.
    let away = me.get("away");
    if away == Some("double") && fork_or_exit() > 0 {
        // SAFETY: the middle process leaves at once; its parent never reaps it.
        unsafe { libc::_exit(0) };
    }
    if away == Some("setsid") {
        // SAFETY: setsid has no memory effects.
        unsafe { libc::setsid() };
    }
    // SAFETY: plain getters.
    let (pid, ppid, sid, pgid) = unsafe {
        (
            libc::getpid(),
            libc::getppid(),
            libc::getsid(0),
            libc::getpgrp(),
        )
    };
    record(
        &log,
        &format!("start pid={pid} ppid={ppid} sid={sid} pgid={pgid}"),
    );
    if let Some(next) = me.get("exec") {
        // The stop signals stay blocked across exec; the next node unblocks them.
        stop_signals(libc::SIG_BLOCK);
        record(&log, &format!("exec {next}"));
        let me_exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
        let error = Command::new(me_exe)
            .args(["tree", "node", plan, dir, next])
            .exec();
        record(&log, &format!("error exec: {error}"));
        return 120;
    }
    for _ in 0..me
        .get("zombies")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0u32)
    {
        if fork_or_exit() == 0 {
            // SAFETY: the child exits at once; the node never reaps it.
            unsafe { libc::_exit(0) };
        }
    }
    let mut handled: Vec<i32> = RECORDED.to_vec();
    if me.has("default") {
        handled.retain(|s| !STOPS.contains(s));
    }
    let signals = match signal_hook::iterator::Signals::new(&handled) {
        Ok(signals) => signals,
        Err(e) => {
            record(&log, &format!("error handlers: {e}"));
            return 120;
        }
    };
    if me.get("tty") == Some("close") {
        // With its handlers in place: a session leader's close hangs up its own group.
        close_terminal();
    }
    // A stop that came while blocked (before the handler) is delivered to it now.
    stop_signals(libc::SIG_UNBLOCK);
    for child in nodes.iter().filter(|n| n.parent == me.id) {
        if child.get("spawn") != Some("no") {
            spawn_node(plan, dir, &child.id, &log);
        }
    }
    let (plan, dir) = (plan.to_string(), dir.to_string());
    if me.has("threads") {
        std::thread::spawn(move || {
            wait_for_main_thread_gone();
            live(me, signals, &plan, &dir, &log)
        });
        // SAFETY: ends the main thread only; the process lives on in the thread above, which
        // ends it with _exit.
        unsafe { libc::pthread_exit(std::ptr::null_mut()) }
    }
    live(me, signals, &plan, &dir, &log)
}

/// Gives up the controlling terminal and points stdin, stdout and stderr at /dev/null.
fn close_terminal() {
    // SAFETY: TIOCNOTTY takes no argument. A process that leads no session only drops its
    // terminal; a session leader's would also hang up its foreground group (with SIGHUP and
    // SIGCONT, which every node records and survives); with no terminal it fails with ENOTTY.
    unsafe { libc::ioctl(0, libc::TIOCNOTTY) };
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 of an open descriptor onto the standard ones.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Waits until /proc shows the main thread gone (the leader reads as `Z`).
fn wait_for_main_thread_gone() {
    let stat = format!("/proc/{}/stat", std::process::id());
    for _ in 0..2000 {
        let gone =
            std::fs::read_to_string(&stat).is_ok_and(|s| crate::after_name(&s).starts_with(" Z"));
        if gone {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn exit_now(log: &str, code: i32) -> ! {
    record(log, &format!("exit {code}"));
    // SAFETY: ends the process at once, whatever thread calls it.
    unsafe { libc::_exit(code) }
}

/// The node's life once its handlers are in place: ready, its timed acts, and the signals.
fn live(
    me: Node,
    mut signals: signal_hook::iterator::Signals,
    plan: &str,
    dir: &str,
    log: &str,
) -> ! {
    record(log, "ready");
    start_timers(&me, dir, log);
    if me.has("stopself") {
        record(log, "stopping");
        // SAFETY: stops this process until a SIGCONT.
        unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
    }
    let mut saving = false;
    loop {
        for signal in signals.wait() {
            record(log, &format!("sig {}", signal_name(signal)));
            if !STOPS.contains(&signal) || saving || !me.has("save") {
                continue;
            }
            saving = true;
            if let Some(late) = me.get("late") {
                spawn_node(plan, dir, late, log);
            }
            let ms: u64 = me.get("save").and_then(|v| v.parse().ok()).unwrap_or(0);
            let log = log.to_string();
            std::thread::spawn(move || {
                record(&log, &format!("saving {ms}"));
                std::thread::sleep(Duration::from_millis(ms));
                record(&log, "saved");
                exit_now(&log, 0)
            });
        }
    }
}

/// The timed exit or death, counted from the driver's `go` file.
fn start_timers(me: &Node, dir: &str, log: &str) {
    let exit = me.timed("exit");
    let die = me.timed("die");
    if exit.is_none() && die.is_none() {
        return;
    }
    let (go, log) = (format!("{dir}/go"), log.to_string());
    std::thread::spawn(move || {
        while std::fs::metadata(&go).is_err() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut acts: Vec<(u64, bool, i32)> = Vec::new();
        if let Some((ms, code)) = exit {
            acts.push((ms, true, code));
        }
        if let Some((ms, signal)) = die {
            acts.push((ms, false, signal));
        }
        acts.sort();
        let (ms, is_exit, value) = acts[0];
        std::thread::sleep(Duration::from_millis(ms));
        if is_exit {
            exit_now(&log, value);
        }
        record(&log, &format!("die {value}"));
        // SAFETY: restores the default action of a signal this node does not handle, then
        // sends it to the whole process.
        unsafe {
            libc::signal(value, libc::SIG_DFL);
            libc::kill(libc::getpid(), value);
        }
    });
}

/// A zombie's own user and system CPU time (/proc stat fields 14 and 15), in microseconds.
fn own_cpu_us(pid: libc::pid_t) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<i64> = crate::after_name(&stat)
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // In USER_HZ ticks: 100 a second on every architecture Linux runs this on.
    fields.iter().sum::<i64>() * 10_000
}

/// PID 1 in subreaper mode: sentinel and COMMAND as children, reaps all, exits with COMMAND's
/// status once it has ended.
fn holder(dir: &str, command: &[String]) -> i32 {
    // Its children and the init's CPU time are read from /proc: it must be the namespace's.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    if !stat.starts_with("1 ") {
        eprintln!(
            "tree holder: run it as PID 1 with its own /proc (unshare --pid --fork --mount-proc)"
        );
        return 2;
    }
    let log = format!("{dir}/holder");
    let me = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let sentinel_log = format!("{dir}/sentinel");
    let sentinel = match Command::new(&me)
        .args(["tree", "sentinel", &sentinel_log])
        .spawn()
    {
        Ok(child) => child.id() as libc::pid_t,
        Err(e) => {
            record(&log, &format!("error sentinel: {e}"));
            0
        }
    };
    let init = match Command::new(&command[0]).args(&command[1..]).spawn() {
        Ok(child) => child.id() as libc::pid_t,
        Err(e) => {
            record(&log, &format!("error init: {e}"));
            return 120;
        }
    };
    record(&log, &format!("init {init}"));
    loop {
        // Peeked at first (WNOWAIT): the init's own CPU time is read from its /proc entry
        // while it is a zombie; wait4's rusage would add every descendant it reaped.
        // SAFETY: an all-zero siginfo_t is valid; waitid writes only through the pointer.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let peeked =
            unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if peeked < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            record(&log, "error no init to wait for");
            return 120;
        }
        // SAFETY: waitid with WEXITED filled in the pid of a child that exited.
        let pid = unsafe { info.si_pid() };
        let cpu_us = if pid == init { own_cpu_us(pid) } else { 0 };
        let mut status = 0;
        // SAFETY: reaps the child just peeked at; writes only the status.
        if unsafe { libc::waitpid(pid, &mut status, 0) } != pid || pid != init {
            continue;
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        };
        let how = if libc::WIFEXITED(status) {
            format!("code={code}")
        } else {
            format!("signal={}", libc::WTERMSIG(status))
        };
        // What the init left to its parent: its own children (alive or zombies) are this
        // holder's now, re-parented as the init exited.
        let left: Vec<String> = children()
            .into_iter()
            .filter(|&p| p != sentinel)
            .map(|p| p.to_string())
            .collect();
        let pids = match left.is_empty() {
            true => String::new(),
            false => format!(" pids={}", left.join(",")),
        };
        record(
            &log,
            &format!("ended {how} cpu_us={cpu_us} left={}{pids}", left.len()),
        );
        return code;
    }
}

/// This process's children, from /proc.
fn children() -> Vec<libc::pid_t> {
    let me = std::process::id() as libc::pid_t;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| crate::parent_of(pid) == me)
        .collect()
}

/// Records every signal it can catch; nobody should send it one.
fn sentinel(file: &str) -> i32 {
    let catchable: Vec<i32> = (1..32)
        .filter(|&s| {
            ![
                libc::SIGKILL,
                libc::SIGSTOP,
                libc::SIGCHLD,
                libc::SIGSEGV,
                libc::SIGILL,
                libc::SIGFPE,
            ]
            .contains(&s)
        })
        .collect();
    let mut signals = match signal_hook::iterator::Signals::new(&catchable) {
        Ok(signals) => signals,
        Err(e) => {
            record(file, &format!("error handlers: {e}"));
            return 120;
        }
    };
    record(file, "ready");
    loop {
        for signal in signals.wait() {
            record(file, &format!("sig {signal}"));
        }
    }
}
