//! Reaping: collecting every child that has exited, adopted orphans included, and turning the
//! main child's wait status into an exit code.

use crate::cgroup::Memory;
use crate::error::Error;
use crate::log::WARN;
use crate::say;
use crate::settings::{Settings, Subreaper};
use crate::sys::{self, Errno};
use crate::voice::{self, Note};
use alloc::boxed::Box;
use rustix::process::{self, Pid, WaitOptions, WaitStatus};

/// Registers rinit as child subreaper when it is not PID 1, as its settings ask: orphans of
/// its descendants are then re-parented to rinit instead of the host's init.
pub fn become_subreaper(settings: &Settings) -> Result<(), Box<Error>> {
    if sys::pid() == 1 {
        return Ok(());
    }
    match settings.subreaper {
        // A parent that made rinit a subreaper before exec'ing it left it one (tini checks too).
        Subreaper::Off if matches!(process::child_subreaper(), Ok(Some(_))) => Ok(()),
        Subreaper::Off => {
            voice::say(settings, Note::NotSubreaper);
            Ok(())
        }
        // The argument is only a flag; rustix spells "on" as a pid.
        mode => match process::set_child_subreaper(Some(Pid::INIT)).map_err(Errno::from) {
            Ok(()) => {
                voice::say(settings, Note::Subreaper);
                Ok(())
            }
            Err(errno) if mode == Subreaper::Required => {
                Err(Error::setup("prctl(PR_SET_CHILD_SUBREAPER)", errno))
            }
            Err(errno) => {
                say!(
                    settings,
                    WARN,
                    "cannot register as child subreaper (",
                    errno,
                    "); orphans will not be reaped"
                );
                Ok(())
            }
        },
    }
}

/// Collects every exited child without blocking. One SIGCHLD can stand for many exits, so it
/// loops until the kernel has nothing more. Stores the main child's exit code in `main_status`;
/// returns whether any child is still running. A death by SIGKILL is checked against the
/// container's count of OOM kills (`memory`; `None` once rinit has sent SIGKILL itself), and
/// only such a death reads it.
pub fn reap(
    settings: &Settings,
    main: Option<i32>,
    main_status: &mut Option<u8>,
    mut memory: Option<&mut Memory>,
) -> bool {
    loop {
        // wait(), not waitpid(None): that would be waitpid(0), rinit's own process group only.
        match process::wait(WaitOptions::NOHANG) {
            Ok(None) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            // ECHILD: no children at all.
            Err(_) => return false,
            Ok(Some((pid, status))) => {
                let pid = pid.as_raw_nonzero().get();
                let main = Some(pid) == main;
                if main {
                    *main_status = Some(exit_code(status));
                }
                voice::say(settings, Note::Reaped { pid, status, main });
                let memory = memory.as_deref_mut();
                if let (Some(libc::SIGKILL), Some(memory)) = (sys::death_signal(status), memory) {
                    if let Some(limit) = memory.killed_by_oom() {
                        let command = settings.command.first().filter(|_| main);
                        let command = command.map(alloc::vec::Vec::as_slice);
                        voice::say(
                            settings,
                            Note::OutOfMemory {
                                command,
                                pid,
                                limit,
                            },
                        );
                    }
                }
            }
        }
    }
}

/// The shell's convention: the exit code, or 128+N for a death by signal N.
pub fn exit_code(status: WaitStatus) -> u8 {
    match sys::death_signal(status) {
        Some(signal) => (128 + signal).clamp(0, 255) as u8,
        None => status.exit_status().unwrap_or(0) as u8,
    }
}
