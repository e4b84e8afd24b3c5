//! Starting the command: everything is prepared before `fork`, so that between fork and exec the
//! child makes only async-signal-safe syscalls; an exec failure travels back over a close-on-exec
//! pipe, so the parent can name the command and the error and pick the exit code.

use crate::error::{self, Error};
use crate::settings::{Session, Settings};
use crate::signals::{self, Inherited, Mask};
use crate::sys::{self, Errno};
use crate::text;
use crate::user::{self, Credentials, Failure, Step};
use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::c_char;
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{self, Pid, WaitOptions};
use rustix::stdio::stdin;
use rustix::termios;

/// The shell that runs a file the kernel cannot execute, as execvp does.
const SHELL: &core::ffi::CStr = c"/bin/sh";

/// Where `execvp` looks when PATH is unset (the same default as glibc and musl).
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/bin:/usr/bin";

/// The running command.
pub struct Child {
    pub pid: i32,
    /// Signals the kernel sent rinit itself while handing the terminal over; the first of each
    /// is not for the command.
    pub ignore_once: Mask,
}

/// Everything the child needs, built before fork: no allocation happens after it.
struct Prepared {
    candidates: Vec<CString>,
    _argv: Vec<CString>,
    argv: Vec<*const c_char>,
    /// `/bin/sh FILE ARG...` for a file the kernel cannot execute (ENOEXEC), as execvp runs
    /// a script without a shebang; slot 1 is filled in with the file's path after fork.
    sh_argv: Vec<*const c_char>,
    /// rinit's own environment, passed on as it is (the strings are environ's own), but for
    /// HOME with `--user`.
    envp: Vec<*const c_char>,
    /// `--user`: who the child switches to before exec, and its `HOME=` entry.
    credentials: Option<Credentials>,
    _home: Option<CString>,
    /// Index in `envp` of `LISTEN_PID=<rinit's pid>`, rewritten to the child's pid.
    listen_pid: Option<usize>,
    terminal: bool,
    /// rinit's own group is the terminal's foreground group, so the command may take it over.
    foreground: bool,
}

/// Forks and execs the command; returns once exec has succeeded.
pub fn spawn(settings: &Settings, inherited: &Inherited) -> Result<Child, Box<Error>> {
    let prepared = prepare(settings)?;
    let ignore_once = match (settings.session, prepared.terminal) {
        (Session::NewSession, true) => release_terminal(),
        _ => Mask::NONE,
    };
    // Both ends are close-on-exec: the write end closes by itself when exec succeeds, and no
    // descriptor of rinit's reaches the command.
    let (report_read, report_write) =
        pipe_with(PipeFlags::CLOEXEC).map_err(|errno| Error::setup("pipe", errno.into()))?;
    // SAFETY: rinit is single-threaded, and the child makes only async-signal-safe calls
    // (setpgid, setsid, ioctl, tcsetpgrp, sigaction, rt_sigprocmask, execve, write, _exit).
    match unsafe { libc::fork() } {
        -1 => Err(Error::setup("fork", Errno::last())),
        0 => child(settings, inherited, prepared, report_write),
        pid => {
            drop(report_write);
            let child_pid = Pid::from_raw(pid);
            if settings.session == Session::OwnGroup {
                // Also set in the parent: signals forwarded right after fork must find the group.
                // EACCES once the child has exec'd is harmless (the child already did it).
                let _ = process::setpgid(child_pid, child_pid);
            }
            match exec_error(&report_read) {
                None => Ok(Child { pid, ignore_once }),
                Some((errno, found, step)) => {
                    // Reaps our own child, which has exited; no status is needed.
                    let _ = process::waitpid(child_pid, WaitOptions::empty());
                    Err(match (step, &settings.user) {
                        (Some(step), Some(spec)) => Box::new(Error::User {
                            spec: spec.text.clone(),
                            failure: Failure::Switch(step, errno),
                        }),
                        _ => exec_failed(settings, errno, found),
                    })
                }
            }
        }
    }
}

fn prepare(settings: &Settings) -> Result<Prepared, Box<Error>> {
    let command = &settings.command;
    let credentials = match &settings.user {
        None => None,
        Some(spec) => Some(
            user::resolve(spec, user::PASSWD, user::GROUP).map_err(|problem| Error::User {
                spec: spec.text.clone(),
                failure: Failure::Lookup(problem),
            })?,
        ),
    };

    let c_string =
        |bytes: Vec<u8>| CString::new(bytes).map_err(|_| Error::setup("command", Errno::EINVAL));
    // HOME names the user's home, as gosu and su-exec set it.
    let home = match &credentials {
        Some(credentials) => Some(c_string([b"HOME=", &credentials.home[..]].concat())?),
        None => None,
    };
    let argv_owned = command
        .iter()
        .map(|word| c_string(word.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let program = command.first().map(Vec::as_slice).unwrap_or_default();
    let candidates = search_path(program, sys::getenv("PATH").as_deref())
        .into_iter()
        .map(c_string)
        .collect::<Result<Vec<_>, _>>()?;

    let own = text!("LISTEN_PID=", sys::pid());
    let mut listen_pid = None;
    let mut envp = Vec::new();
    for entry in sys::environment() {
        if home.is_some() && entry.to_bytes().starts_with(b"HOME=") {
            continue;
        }
        let index = envp.len();
        // Socket activation: LISTEN_PID names rinit, but the child is the one listening.
        if entry.to_bytes() == own.as_bytes() {
            listen_pid = Some(index);
        }
        envp.push(entry.as_ptr());
    }
    envp.extend(home.as_ref().map(|home| home.as_ptr()));
    envp.push(core::ptr::null());
    let mut argv: Vec<*const c_char> = argv_owned.iter().map(|a| a.as_ptr()).collect();
    argv.push(core::ptr::null());
    let mut sh_argv = alloc::vec![SHELL.as_ptr(), core::ptr::null()];
    sh_argv.extend(argv.iter().skip(1));
    let on_terminal = termios::isatty(terminal());
    Ok(Prepared {
        candidates,
        _argv: argv_owned,
        argv,
        envp,
        credentials,
        _home: home,
        listen_pid,
        terminal: on_terminal,
        // Started in the background (`rinit cmd &` from a shell), rinit must not take the
        // terminal from the shell.
        foreground: on_terminal && in_foreground(),
        sh_argv,
    })
}

/// dumb-init's terminal hand-over: rinit gives up its controlling terminal so that the child's
/// new session can make it its own. When a session leader gives it up, the kernel sends SIGHUP
/// and SIGCONT to the terminal's foreground group; if that is rinit's, those two are rinit's own.
fn release_terminal() -> Mask {
    let in_foreground = in_foreground();
    // SAFETY: TIOCNOTTY on descriptor 0 takes no argument (rustix has no wrapper for it).
    if unsafe { libc::ioctl(0, libc::TIOCNOTTY) } != 0 {
        return Mask::NONE;
    }
    // SAFETY: getsid(0) takes no pointer; it returns rinit's session id, or 0 when that
    // session's leader is outside rinit's PID namespace.
    let session_leader = unsafe { libc::getsid(0) } == sys::pid();
    match session_leader && in_foreground {
        true => Mask::of(&[libc::SIGHUP, libc::SIGCONT]),
        false => Mask::NONE,
    }
}

/// Once the command runs, rinit lets go of what it was handed and no longer needs: its working
/// directory (a busy directory cannot be unmounted: a volume would stay pinned) and every
/// inherited descriptor from 3 up but `keep` (an inherited pipe would never reach end-of-file
/// while rinit lives, an inherited lock would stay held). The command keeps its own copies.
pub fn let_go(keep: BorrowedFd) {
    let _ = process::chdir(c"/");
    let keep = keep.as_raw_fd() as u32;
    let close_range = |first: u32, last: u32| {
        // SAFETY: close_range takes plain integers; it only closes descriptors.
        first > last || unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) } == 0
    };
    let closed = match keep {
        0..=2 => close_range(3, u32::MAX),
        _ => close_range(3, keep - 1) & close_range(keep + 1, u32::MAX),
    };
    if !closed {
        // Linux < 5.9: close what /proc lists, one by one.
        for fd in sys::open_descriptors() {
            if fd >= 3 && fd as u32 != keep {
                // SAFETY: closes a descriptor rinit inherited and never uses.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Whether rinit's own process group is the foreground group of the terminal on descriptor 0.
/// Read as plain numbers through libc: both are 0 when the group lives outside rinit's PID
/// namespace (rinit as PID 1 under `unshare --pid` from a shell), which rustix's `Pid` cannot
/// hold, and two zeros may be two different groups. Then the terminal itself answers: a read
/// from a background group fails with EIO while SIGTTIN is blocked (rinit blocks every
/// signal), and one of zero bytes from the foreground returns 0 and consumes nothing.
fn in_foreground() -> bool {
    // SAFETY: tcgetpgrp and getpgrp take no pointers; tcgetpgrp fails (-1) without a terminal.
    let (foreground, own) = unsafe { (libc::tcgetpgrp(0), libc::getpgrp()) };
    if foreground != 0 || own != 0 {
        return foreground > 0 && foreground == own;
    }
    let mut nothing = [0u8; 0];
    rustix::io::read(terminal(), &mut nothing) == Ok(0)
}

/// Descriptor 0, the terminal when there is one.
fn terminal() -> BorrowedFd<'static> {
    // SAFETY: rinit never closes or replaces descriptor 0, and the terminal calls made on it
    // only fail (EBADF, ENOTTY) if it is closed or not a terminal.
    unsafe { stdin() }
}

/// The paths `execvp` would try for `program`, in order.
fn search_path(program: &[u8], path: Option<&[u8]>) -> Vec<Vec<u8>> {
    if program.is_empty() {
        return Vec::new(); // execvp: an empty name is no file at all (ENOENT)
    }
    if program.contains(&b'/') {
        return alloc::vec![program.to_vec()];
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(|b| *b == b':')
        .map(|dir| {
            // An empty PATH entry means the current directory.
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(program);
            full
        })
        .collect()
}

/// The child between fork and exec. Never returns.
fn child(settings: &Settings, inherited: &Inherited, mut prepared: Prepared, report: OwnedFd) -> ! {
    // rustix makes these raw syscalls: async-signal-safe.
    match settings.session {
        Session::OwnGroup => {
            let _ = process::setpgid(None, None);
            if prepared.foreground {
                // Foreground on the terminal so Ctrl-C and job control reach the command.
                // SIGTTOU is still blocked here, so a background rinit may do this.
                let _ = termios::tcsetpgrp(terminal(), process::getpid());
            }
        }
        Session::NewSession => {
            let _ = process::setsid();
            if prepared.terminal {
                // Takes the terminal only if no other session holds it.
                let _ = process::ioctl_tiocsctty(terminal());
            }
        }
        Session::Inherit => {}
    }
    // The command starts with exactly the mask and ignored signals rinit was given.
    signals::hand_back(inherited);
    // Last, once the terminal and the group are set up (as root): who the command runs as.
    if let Some(credentials) = &prepared.credentials {
        if let Err((step, errno)) = user::switch(credentials) {
            report_failure(&report, errno, false, Some(step));
        }
    }

    let mut listen_pid = [0u8; 32];
    if let Some(index) = prepared.listen_pid {
        write_listen_pid(&mut listen_pid, sys::pid());
        // A write into the child's own copy of the array: no allocation after fork.
        prepared.envp[index] = listen_pid.as_ptr().cast();
    }
    let mut failure = Errno::ENOENT;
    let mut found = false;
    for path in &prepared.candidates {
        // SAFETY: path, argv and envp are NUL-terminated strings in null-terminated arrays, all
        // built before fork and alive until exec.
        unsafe {
            libc::execve(
                path.as_ptr(),
                prepared.argv.as_ptr(),
                prepared.envp.as_ptr(),
            )
        };
        let errno = Errno::last();
        if errno == Errno::ENOEXEC {
            // Not a format the kernel runs (a script without "#!"): the shell reads it.
            prepared.sh_argv[1] = path.as_ptr();
            // SAFETY: as above; sh_argv was built before fork, only a pointer is written.
            unsafe {
                libc::execve(
                    SHELL.as_ptr(),
                    prepared.sh_argv.as_ptr(),
                    prepared.envp.as_ptr(),
                )
            };
        }
        // ENOENT for a file that exists: its interpreter ("#!" line) is missing.
        // SAFETY: access is async-signal-safe and reads a NUL-terminated path.
        found |= errno == Errno::ENOENT && unsafe { libc::access(path.as_ptr(), libc::F_OK) } == 0;
        match errno {
            // As execvp: keep looking through PATH, but remember a permission problem.
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => failure = Errno::EACCES,
            other => {
                failure = other;
                break;
            }
        }
    }
    report_failure(&report, failure, found, None)
}

/// In the child: tells the parent why the command could not start (the errno, whether a file
/// tried exists, and which step of `--user`'s switch failed, if one did), then exits.
fn report_failure(report: &OwnedFd, errno: Errno, found: bool, step: Option<Step>) -> ! {
    let mut report_bytes = [0u8; 8];
    report_bytes[..4].copy_from_slice(&errno.0.to_ne_bytes());
    report_bytes[4] = found as u8;
    report_bytes[5] = step.map_or(0, |step| step as u8);
    let _ = rustix::io::write(report, &report_bytes);
    // SAFETY: _exit is async-signal-safe and ends the child at once.
    unsafe { libc::_exit(error::NOT_FOUND.into()) }
}

/// Formats `LISTEN_PID=<pid>` into `buffer` without allocating.
fn write_listen_pid(buffer: &mut [u8; 32], pid: i32) {
    const KEY: &[u8] = b"LISTEN_PID=";
    buffer[..KEY.len()].copy_from_slice(KEY);
    let mut digits = [0u8; 12];
    let mut count = 0;
    let mut rest = pid.unsigned_abs();
    loop {
        digits[count] = b'0' + (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for (offset, digit) in digits[..count].iter().rev().enumerate() {
        buffer[KEY.len() + offset] = *digit;
    }
    buffer[KEY.len() + count] = 0;
}

/// Reads the child's report: nothing (EOF at exec) on success; on failure its errno, whether
/// some file it tried exists (a missing interpreter, not a missing command), and the step of
/// the user switch that failed, if that is what failed.
fn exec_error(report: &OwnedFd) -> Option<(Errno, bool, Option<Step>)> {
    let mut bytes = [0u8; 8];
    loop {
        match rustix::io::read(report, &mut bytes) {
            Ok(8) => {
                let errno = Errno(i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
                return Some((errno, bytes[4] != 0, Step::from_byte(bytes[5])));
            }
            Err(rustix::io::Errno::INTR) => {}
            _ => return None,
        }
    }
}

fn exec_failed(settings: &Settings, errno: Errno, found: bool) -> Box<Error> {
    let code = settings.exec_failure_code.unwrap_or(match errno {
        Errno::ENOENT | Errno::ENOTDIR => error::NOT_FOUND,
        Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR => error::NOT_EXECUTABLE,
        _ => error::SETUP,
    });
    let command = settings
        .command
        .first()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Box::new(Error::Exec {
        command: sys::lossy(command),
        errno,
        code,
        // Looked for in PATH, and not there at all: say so rather than "no such file".
        not_in_path: errno == Errno::ENOENT
            && !found
            && !command.is_empty()
            && !command.contains(&b'/'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_order() {
        let found = search_path(b"sh", Some(b"/a::/b"));
        assert_eq!(
            found,
            [b"/a/sh".to_vec(), b"./sh".to_vec(), b"/b/sh".to_vec()]
        );
        assert_eq!(search_path(b"./x", None), [b"./x".to_vec()]);
    }

    #[test]
    fn listen_pid_formatting() {
        let mut buffer = [0u8; 32];
        write_listen_pid(&mut buffer, 4_194_304);
        assert_eq!(&buffer[..19], b"LISTEN_PID=4194304\0");
    }
}
