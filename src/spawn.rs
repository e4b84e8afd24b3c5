//! Starting the command: everything is prepared before `fork`, so that between fork and exec the
//! child makes only async-signal-safe syscalls; an exec failure travels back over a close-on-exec
//! pipe, so the parent can name the command and the error and pick the exit code.

use crate::error::{self, Error};
use crate::settings::{Session, Settings};
use crate::signals::{self, Inherited, Mask};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::{self, ForkResult, Pid};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Where `execvp` looks when PATH is unset (the same default as glibc and musl).
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";

/// Everything the child needs, built before fork: no allocation happens after it.
struct Prepared {
    candidates: Vec<CString>,
    _argv: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp: Vec<*const libc::c_char>,
    /// Index in `envp` of `LISTEN_PID=<rinit's pid>`, rewritten to the child's pid.
    listen_pid: Option<usize>,
    terminal: bool,
}

/// The running command.
pub struct Child {
    pub pid: i32,
    /// Signals the kernel sent rinit itself while handing the terminal over; the first of each
    /// is not for the command.
    pub ignore_once: Mask,
}

/// Forks and execs the command; returns once exec has succeeded.
pub fn spawn(settings: &Settings, inherited: &Inherited) -> Result<Child, Error> {
    let prepared = prepare(&settings.command)?;
    let ignore_once = match (settings.session, prepared.terminal) {
        (Session::NewSession, true) => release_terminal(),
        _ => Mask::NONE,
    };
    let (report_read, report_write) =
        unistd::pipe2(OFlag::O_CLOEXEC).map_err(|errno| Error::Setup {
            what: "pipe",
            errno,
        })?;
    // SAFETY: rinit is single-threaded, and the child calls only async-signal-safe functions
    // (setpgid, setsid, ioctl, tcsetpgrp, sigaction, rt_sigprocmask, execve, write, _exit).
    match unsafe { unistd::fork() } {
        Err(errno) => Err(Error::Setup {
            what: "fork",
            errno,
        }),
        Ok(ForkResult::Child) => child(settings, inherited, prepared, &report_write),
        Ok(ForkResult::Parent { child }) => {
            drop(report_write);
            if settings.session == Session::OwnGroup {
                // Also set in the parent: signals forwarded right after fork must find the group.
                // EACCES once the child has exec'd is harmless (the child already did it).
                let _ = unistd::setpgid(child, child);
            }
            match exec_error(report_read) {
                None => Ok(Child {
                    pid: child.as_raw(),
                    ignore_once,
                }),
                Some(errno) => {
                    let _ = nix::sys::wait::waitpid(child, None);
                    Err(exec_failed(settings, errno))
                }
            }
        }
    }
}

fn prepare(command: &[OsString]) -> Result<Prepared, Error> {
    let c_string = |bytes: Vec<u8>| {
        CString::new(bytes).map_err(|_| Error::Setup {
            what: "command",
            errno: Errno::EINVAL,
        })
    };
    let argv_owned = command
        .iter()
        .map(|word| c_string(word.as_bytes().to_vec()))
        .collect::<Result<Vec<_>, _>>()?;
    let program = command.first().map(OsString::as_os_str).unwrap_or_default();
    let candidates = search_path(program, std::env::var_os("PATH"))
        .into_iter()
        .map(c_string)
        .collect::<Result<Vec<_>, _>>()?;

    let own_pid = std::process::id().to_string();
    let mut listen_pid = None;
    let mut envp_owned = Vec::new();
    for (index, (key, value)) in std::env::vars_os().enumerate() {
        // Socket activation: LISTEN_PID names rinit, but the child is the one listening.
        if key == "LISTEN_PID" && value == OsStr::new(&own_pid) {
            listen_pid = Some(index);
        }
        let mut entry = key.into_vec();
        entry.push(b'=');
        entry.extend(value.into_vec());
        envp_owned.push(c_string(entry)?);
    }
    let pointers = |strings: &[CString]| {
        strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect::<Vec<_>>()
    };
    Ok(Prepared {
        candidates,
        argv: pointers(&argv_owned),
        _argv: argv_owned,
        envp: pointers(&envp_owned),
        _envp: envp_owned,
        listen_pid,
        terminal: unistd::isatty(std::io::stdin()).unwrap_or(false),
    })
}

/// dumb-init's terminal hand-over: rinit gives up its controlling terminal so that the child's
/// new session can make it its own. When a session leader gives it up, the kernel sends SIGHUP
/// and SIGCONT to the terminal's foreground group; if that is rinit's, those two are rinit's own.
fn release_terminal() -> Mask {
    let stdin = std::io::stdin();
    let in_foreground = unistd::tcgetpgrp(&stdin) == Ok(unistd::getpgrp());
    // SAFETY: TIOCNOTTY on fd 0 takes no argument.
    if unsafe { libc::ioctl(0, libc::TIOCNOTTY) } != 0 {
        return Mask::NONE;
    }
    let leader = unistd::getsid(None) == Ok(unistd::getpid());
    match leader && in_foreground {
        true => Mask::of(&[libc::SIGHUP, libc::SIGCONT]),
        false => Mask::NONE,
    }
}

/// The paths `execvp` would try for `program`, in order.
fn search_path(program: &OsStr, path: Option<OsString>) -> Vec<Vec<u8>> {
    let bytes = program.as_bytes();
    if bytes.contains(&b'/') {
        return vec![bytes.to_vec()];
    }
    let path = path.unwrap_or_else(|| DEFAULT_PATH.into());
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| {
            // An empty PATH entry means the current directory.
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(bytes);
            full
        })
        .collect()
}

/// The child between fork and exec. Never returns.
fn child(
    settings: &Settings,
    inherited: &Inherited,
    mut prepared: Prepared,
    report: &OwnedFd,
) -> ! {
    let stdin = std::io::stdin();
    match settings.session {
        Session::OwnGroup => {
            let _ = unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            if prepared.terminal {
                // Foreground on the terminal so Ctrl-C and job control reach the command.
                // SIGTTOU is still blocked here, so a background rinit may do this.
                let _ = unistd::tcsetpgrp(&stdin, unistd::getpid());
            }
        }
        Session::NewSession => {
            let _ = unistd::setsid();
            if prepared.terminal {
                // SAFETY: TIOCSCTTY on fd 0 takes an integer argument (0: do not steal).
                unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
            }
        }
        Session::Inherit => {}
    }
    // The command starts with exactly the mask and ignored signals rinit was given.
    signals::hand_back(inherited);

    let mut listen_pid = [0u8; 32];
    if let Some(index) = prepared.listen_pid {
        write_listen_pid(&mut listen_pid, unistd::getpid().as_raw());
        // A write into the child's own copy of the array: no allocation after fork.
        prepared.envp[index] = listen_pid.as_ptr().cast();
    }
    let mut failure = Errno::ENOENT;
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
        match Errno::last() {
            // As execvp: keep looking through PATH, but remember a permission problem.
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => failure = Errno::EACCES,
            other => {
                failure = other;
                break;
            }
        }
    }
    let bytes = (failure as i32).to_ne_bytes();
    // SAFETY: write and _exit are async-signal-safe; `bytes` is a live 4-byte buffer.
    unsafe {
        libc::write(report.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
        libc::_exit(error::NOT_FOUND.into())
    }
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

/// Reads the child's report: nothing (EOF at exec) on success, its errno on failure.
fn exec_error(report: OwnedFd) -> Option<Errno> {
    let mut bytes = [0u8; 4];
    let mut file = File::from(report);
    match file.read_exact(&mut bytes) {
        Ok(()) => Some(Errno::from_raw(i32::from_ne_bytes(bytes))),
        Err(_) => None,
    }
}

fn exec_failed(settings: &Settings, errno: Errno) -> Error {
    let code = settings.exec_failure_code.unwrap_or(match errno {
        Errno::ENOENT | Errno::ENOTDIR => error::NOT_FOUND,
        Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR => error::NOT_EXECUTABLE,
        _ => error::SETUP,
    });
    Error::Exec {
        command: settings
            .command
            .first()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default(),
        errno,
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_order() {
        let found = search_path(OsStr::new("sh"), Some("/a::/b".into()));
        assert_eq!(
            found,
            [b"/a/sh".to_vec(), b"./sh".to_vec(), b"/b/sh".to_vec()]
        );
        assert_eq!(search_path(OsStr::new("./x"), None), [b"./x".to_vec()]);
    }

    #[test]
    fn listen_pid_formatting() {
        let mut buffer = [0u8; 32];
        write_listen_pid(&mut buffer, 4_194_304);
        assert_eq!(&buffer[..19], b"LISTEN_PID=4194304\0");
    }
}
