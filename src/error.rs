//! The few ways rinit itself can fail, each with a message a user can act on and an exit code.
//! How each is worded under each name rinit answers to is [`crate::voice`]'s.

use crate::log::Piece;
use crate::settings::Personality;
use crate::sys::Errno;
use alloc::boxed::Box;
use alloc::string::String;

/// Exit code for a command line or environment variable rinit cannot use (peers use 1).
pub const USAGE: u8 = 2;
/// Exit code when rinit cannot set itself up or start the command (fork, pipe, subreaper).
pub const SETUP: u8 = 1;
/// Exit code when the command exists but cannot be executed (shells use 126).
pub const NOT_EXECUTABLE: u8 = 126;
/// Exit code when the command is not found (shells use 127).
pub const NOT_FOUND: u8 = 127;

/// What was wrong with the command line, for the peers' own wordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageKind {
    /// No command, and not pause mode.
    NoCommand,
    /// An option the name rinit was called under does not have (`-x`, `--frobnicate`).
    UnknownOption(String),
    /// An option that takes a value came last, without one: as typed (`-e`, `--remap-exit`).
    MissingValue(String),
    /// An option's value that does not parse: the option as written (`-p`) and the value.
    BadValue { option: String, value: String },
    /// Anything else (an environment variable, a conflict).
    Other,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// A bad option, value or environment variable; `message` is rinit's own wording.
    Usage {
        message: String,
        code: u8,
        kind: UsageKind,
        /// The name rinit was called under, and `argv[0]` as given (getopt's messages use it).
        personality: Personality,
        program: String,
    },
    /// `execve` of the command failed in the child; reported by the parent.
    Exec {
        command: String,
        errno: Errno,
        code: u8,
        /// Searched for in PATH and found nowhere (rather than found but not runnable).
        not_in_path: bool,
    },
    /// A setup syscall failed (`what` names it, e.g. "fork").
    Setup { what: &'static str, errno: Errno },
    /// `--user` could not be looked up or switched to; `spec` as written, with its source
    /// (`--user app`, `RINIT_USER=app`).
    User {
        spec: String,
        failure: crate::user::Failure,
    },
}

impl Error {
    /// A setup syscall's failure: `what` names it (e.g. "fork"). Errors travel boxed: a pointer
    /// in every Result is cheaper to move than the enum (a kilobyte or so of copies in the
    /// binary).
    pub fn setup(what: &'static str, errno: Errno) -> Box<Error> {
        Box::new(Error::Setup { what, errno })
    }

    /// The name rinit was called under, where the error knows it (usage errors).
    pub fn personality(&self) -> Personality {
        match self {
            Error::Usage { personality, .. } => *personality,
            _ => Personality::Rinit,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { code, .. } | Error::Exec { code, .. } => *code,
            Error::Setup { .. } | Error::User { .. } => SETUP,
        }
    }
}

/// rinit's own wording, the one used under its own name.
impl Piece for Error {
    fn put(&self, text: &mut String) {
        match self {
            Error::Usage { message, .. } => {
                crate::put!(text; message, " (see 'rinit --help')");
            }
            Error::Exec {
                command,
                not_in_path: true,
                ..
            } => crate::put!(text; "exec ", command, ": command not found in PATH"),
            Error::Exec { command, errno, .. } if command.is_empty() => {
                crate::put!(text; "exec '': ", errno)
            }
            Error::Exec { command, errno, .. } => crate::put!(text; "exec ", command, ": ", errno),
            Error::Setup {
                what: "fork",
                errno: Errno::EAGAIN,
            } => text.push_str(
                "fork: resource temporarily unavailable (process limit reached: pids cgroup or RLIMIT_NPROC)",
            ),
            Error::Setup { what, errno } => crate::put!(text; what, ": ", errno),
            Error::User { spec, failure } => crate::put!(text; spec, ": ", failure),
        }
    }
}
