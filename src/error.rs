//! The few ways rinit itself can fail, each with a message a user can act on and an exit code.

use crate::sys::Errno;
use alloc::string::String;
use core::fmt;

/// Exit code for a command line or environment variable rinit cannot use (peers use 1).
pub const USAGE: u8 = 2;
/// Exit code when rinit cannot set itself up or start the command (fork, pipe, subreaper).
pub const SETUP: u8 = 1;
/// Exit code when the command exists but cannot be executed (shells use 126).
pub const NOT_EXECUTABLE: u8 = 126;
/// Exit code when the command is not found (shells use 127).
pub const NOT_FOUND: u8 = 127;

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// A bad option, value or environment variable; `code` depends on the personality.
    Usage { message: String, code: u8 },
    /// `execve` of the command failed in the child; reported by the parent.
    Exec {
        command: String,
        errno: Errno,
        code: u8,
    },
    /// A setup syscall failed (`what` names it, e.g. "fork").
    Setup { what: &'static str, errno: Errno },
}

impl Error {
    pub fn usage(message: impl Into<String>, code: u8) -> Self {
        Error::Usage {
            message: message.into(),
            code,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { code, .. } | Error::Exec { code, .. } => *code,
            Error::Setup { .. } => SETUP,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage { message, .. } => {
                write!(f, "{message} (see 'rinit --help')")
            }
            Error::Exec {
                command,
                errno: Errno::ENOENT,
                ..
            } if !command.contains('/') => {
                write!(f, "exec {command}: command not found in PATH")
            }
            Error::Exec { command, errno, .. } => write!(f, "exec {command}: {errno}"),
            Error::Setup {
                what: "fork",
                errno: Errno::EAGAIN,
            } => f.write_str(
                "fork: resource temporarily unavailable (process limit reached: pids cgroup or RLIMIT_NPROC)",
            ),
            Error::Setup { what, errno } => write!(f, "{what}: {errno}"),
        }
    }
}
