//! Reaping: collecting every child that has exited, adopted orphans included, and turning the
//! main child's wait status into an exit code.

use crate::error::Error;
use crate::log::{INFO, WARN};
use crate::say;
use crate::settings::{Settings, Subreaper};
use crate::sys::{self, Errno};
use alloc::format;
use alloc::string::String;

/// Registers rinit as child subreaper when it is not PID 1, as its settings ask: orphans of
/// its descendants are then re-parented to rinit instead of the host's init.
pub fn become_subreaper(settings: &Settings) -> Result<(), Error> {
    if sys::pid() == 1 {
        return Ok(());
    }
    match settings.subreaper {
        Subreaper::Off => {
            say!(
                settings,
                WARN,
                "not PID 1 and not a child subreaper: orphans go to the host's init, so zombie \
                 reaping won't work here (use -s or TINI_SUBREAPER, or run as PID 1)"
            );
            Ok(())
        }
        // SAFETY: PR_SET_CHILD_SUBREAPER takes a plain flag.
        mode => match Errno::result(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }) {
            Ok(_) => Ok(()),
            Err(errno) if mode == Subreaper::Required => Err(Error::Setup {
                what: "prctl(PR_SET_CHILD_SUBREAPER)",
                errno,
            }),
            Err(errno) => {
                say!(
                    settings,
                    WARN,
                    "cannot register as child subreaper ({errno}); orphans will not be reaped"
                );
                Ok(())
            }
        },
    }
}

/// Collects every exited child without blocking. One SIGCHLD can stand for many exits, so it
/// loops until the kernel has nothing more. Stores the main child's exit code in `main_status`;
/// returns whether any child is still running.
pub fn reap(settings: &Settings, main: Option<i32>, main_status: &mut Option<u8>) -> bool {
    loop {
        let mut raw = 0;
        // SAFETY: `raw` is a live int for the status; WNOHANG makes the call return at once.
        let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
        match pid {
            0 => return true,
            -1 if Errno::last() == Errno::EINTR => continue,
            // ECHILD: no children at all.
            -1 => return false,
            pid => {
                let code = exit_code(raw);
                if Some(pid) == main {
                    say!(settings, INFO, "child {pid} exited: {}", describe(raw));
                    *main_status = Some(code);
                } else if settings.warn_on_reap {
                    // tini's words, for scripts that grep for them.
                    crate::log::line(format_args!("Reaped zombie process with pid={pid}"));
                } else {
                    say!(settings, INFO, "reaped process {pid}: {}", describe(raw));
                }
            }
        }
    }
}

/// The shell's convention: the exit code, or 128+N for a death by signal N.
pub fn exit_code(status: i32) -> u8 {
    if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)).clamp(0, 255) as u8
    } else {
        libc::WEXITSTATUS(status) as u8
    }
}

fn describe(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        format!("killed by {}", crate::signals::name(libc::WTERMSIG(status)))
    } else {
        format!("exit code {}", libc::WEXITSTATUS(status))
    }
}
