//! Helper programs for rinit's tests, one static binary (it also runs inside scratch
//! containers). Each subcommand is one scenario's process:
//!
//! - `record FILE`: blocks every signal, writes `ready`, then appends each signal number it
//!   receives; exits 0 after recording SIGTERM.
//! - `worker FILE [DELAY_MS]`: writes `started`; on SIGTERM waits DELAY_MS, appends `saved`,
//!   exits 0. `worker FILE ignore` ignores SIGTERM and runs until killed.
//! - `orphans N`: double-forks N processes that exit at once, orphaned to rinit.
//! - `zombies SECONDS`: waits up to SECONDS for zero zombies; prints how many are left.
//! - `adopted`: double-forks a sleeper, then prints its own parent's pid and the sleeper's new
//!   parent pid (equal when the parent is a subreaper).
//! - `latency`: blocks SIGUSR1 and, for each one received, writes the CLOCK_MONOTONIC time
//!   in nanoseconds as a line on stdout; exits on SIGTERM.
//! - `show`: prints its blocked and ignored signal masks, open fds, pgid, sid and the
//!   terminal's foreground group.

#![no_main]

use rinit::signals::{self, Mask};
use std::ffi::{c_char, c_int, CStr};
use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

/// The C entry point, so that Rust's runtime does not ignore SIGPIPE and `show` reports exactly
/// what this process was given.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args: Vec<String> = (1..argc as usize)
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        .map(|i| {
            unsafe { CStr::from_ptr(*argv.add(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let arg = |n: usize| args.get(n).map(String::as_str).unwrap_or("");
    let code = match arg(0) {
        "record" => record(arg(1)),
        "worker" => worker(arg(1), arg(2)),
        "orphans" => orphans(arg(1).parse().unwrap_or(1000)),
        "zombies" => zombies(arg(1).parse().unwrap_or(10)),
        "adopted" => adopted(),
        "latency" => latency(),
        "show" => show(),
        _ => {
            eprintln!("usage: rinit-testkit record|worker|orphans|zombies|show ...");
            2
        }
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    code
}

fn append(path: &str, line: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    writeln!(file, "{line}").unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn record(path: &str) -> i32 {
    signals::set_mask(Mask::asynchronous()).expect("block signals");
    append(path, "ready");
    loop {
        if let Some(signal) = signals::wait(Mask::asynchronous(), None) {
            append(path, &signal.to_string());
            if signal == libc::SIGTERM {
                return 0;
            }
        }
    }
}

fn worker(path: &str, mode: &str) -> i32 {
    if mode == "ignore" {
        // SAFETY: installs SIG_IGN; no handler runs.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
        append(path, "started");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    signals::set_mask(Mask::of(&[libc::SIGTERM])).expect("block SIGTERM");
    append(path, "started");
    signals::wait(Mask::of(&[libc::SIGTERM]), None);
    std::thread::sleep(Duration::from_millis(mode.parse().unwrap_or(0)));
    append(path, "saved");
    0
}

fn orphans(count: usize) -> i32 {
    for _ in 0..count {
        // SAFETY: single-threaded; the children only call fork and _exit.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: as above; the grandchild exits at once and becomes rinit's zombie.
                unsafe {
                    if libc::fork() == 0 {
                        libc::_exit(0);
                    }
                    libc::_exit(0)
                }
            }
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            // SAFETY: reaping our own direct child; a null status pointer is allowed.
            child => unsafe {
                libc::waitpid(child, std::ptr::null_mut(), 0);
            },
        }
    }
    0
}

fn latency() -> i32 {
    let listened = Mask::of(&[libc::SIGUSR1, libc::SIGTERM]);
    signals::set_mask(listened).expect("block signals");
    println!("ready");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    while signals::wait(listened, None) == Some(libc::SIGUSR1) {
        let line = format!("{}\n", rinit::sys::now().as_nanos());
        rinit::sys::write_all(1, line.as_bytes());
    }
    0
}

fn adopted() -> i32 {
    let mut ends = [0; 2];
    // SAFETY: `ends` is a live two-int array.
    assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: single-threaded; the children call only fork, write, sleep and _exit.
    match unsafe { libc::fork() } {
        0 => unsafe {
            let sleeper = libc::fork();
            if sleeper == 0 {
                libc::sleep(30);
                libc::_exit(0);
            }
            libc::write(ends[1], (&sleeper as *const i32).cast(), 4);
            libc::_exit(0)
        },
        child => {
            let mut sleeper = 0i32;
            // SAFETY: reads 4 bytes into a live i32; waits for our own child.
            unsafe {
                libc::read(ends[0], (&mut sleeper as *mut i32).cast(), 4);
                libc::waitpid(child, std::ptr::null_mut(), 0);
            }
            let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
            let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
            let parent = after.split_whitespace().nth(1).unwrap_or("?");
            // SAFETY: getppid has no arguments.
            println!("init={} adopter={parent}", unsafe { libc::getppid() });
            0
        }
    }
}

fn count_zombies() -> usize {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
                .filter(|stat| {
                    let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
                    after.split_whitespace().next() == Some("Z")
                })
                .count()
        })
        .unwrap_or(usize::MAX)
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
    // SAFETY: plain syscalls without pointers.
    let (pgid, sid, fg) = unsafe { (libc::getpgrp(), libc::getsid(0), libc::tcgetpgrp(0)) };
    println!(
        "pid={} blocked={} ignored={} fds={} pgid={pgid} sid={sid} fg={fg} listen_pid={}",
        std::process::id(),
        field("SigBlk:"),
        field("SigIgn:"),
        fds.join(","),
        std::env::var("LISTEN_PID").unwrap_or_default()
    );
    0
}
