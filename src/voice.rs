//! How rinit speaks under each name it answers to. Under a peer's name every message the peer
//! has keeps the peer's format and wording, since scripts and the peers' own test suites match
//! them: tini's `[WARN  tini (7)] ...`, dumb-init's `[dumb-init] ...`, catatonit's
//! `ERROR (catatonit:7): ...`. What only rinit does (its shutdown steps) is worded rinit's way in
//! the peer's format. Everything goes to stderr: stdout belongs to the command (tini writes its
//! info and debug lines to stdout; rinit does not).
//!
//! Levels are verbosity thresholds: [`ERROR`] always shows, [`WARN`] at the default, then one
//! more per `-v`: [`INFO`], [`DEBUG`], [`TRACE`] (tini's fourth level).

use crate::error::{Error, UsageKind};
use crate::log::{self, DEBUG, ERROR, INFO, TRACE, WARN};
use crate::settings::{Personality, Settings};
use crate::signals::{self, Sender};
use crate::sys;
use crate::text;
use alloc::string::String;
use rustix::process::WaitStatus;

/// `say!(settings, level, piece, ...)`: logs the pieces (see [`crate::text!`]) as one line when
/// `settings.verbosity >= level`; below it, nothing is evaluated.
#[macro_export]
macro_rules! say {
    ($settings:expr, $level:expr, $($piece:expr),+ $(,)?) => {
        if $settings.verbosity >= $level {
            $crate::voice::line($settings.personality, $level, &$crate::text!($($piece),+));
        }
    };
}

/// One line at `level` on stderr, with the personality's prefix.
pub fn line(personality: Personality, level: u8, message: &str) {
    log::write_line(prefix(personality, level), message);
}

/// The start of a line at `level` under `personality`'s name.
pub fn prefix(personality: Personality, level: u8) -> String {
    let pid = sys::pid();
    match personality {
        Personality::Rinit => "rinit: ".into(),
        Personality::Tini => {
            let tag = match level {
                ERROR => "FATAL",
                WARN => "WARN ",
                INFO => "INFO ",
                DEBUG => "DEBUG",
                _ => "TRACE",
            };
            text!("[", tag, " tini (", pid, ")] ")
        }
        Personality::DumbInit => "[dumb-init] ".into(),
        Personality::Catatonit => {
            let tag = match level {
                ERROR => "ERROR",
                WARN => "WARN",
                INFO => "INFO",
                _ => "DEBUG",
            };
            text!(tag, " (catatonit:", pid, "): ")
        }
    }
}

/// Something worth a line, when the verbosity asks for it.
pub enum Note<'a> {
    /// The command started.
    Spawned { command: &'a [u8], pid: i32 },
    /// A signal arrived (SIGCHLD included: the peers log it too).
    Received { signal: i32, sender: Sender },
    /// A signal went to the command (`signal`, received as `received`) at `target`.
    Forwarded {
        signal: i32,
        received: i32,
        target: i32,
    },
    /// A signal went to nobody.
    Dropped { received: i32, why: &'static str },
    /// A process was reaped; `main`: it was the command.
    Reaped {
        pid: i32,
        status: WaitStatus,
        main: bool,
    },
    /// rinit stops itself after forwarding a job-control signal (dumb-init).
    SuspendingSelf,
    /// rinit exits with this code.
    Exiting { code: u8 },
    /// Not PID 1 and no subreaper: orphans escape rinit.
    NotSubreaper,
    /// Registered as child subreaper.
    Subreaper,
    /// A process died of SIGKILL while the container's memory cgroup counted an OOM kill:
    /// `command`, when it was the command; the cgroup's limit in bytes, if it has one.
    OutOfMemory {
        command: Option<&'a [u8]>,
        pid: i32,
        limit: Option<u64>,
    },
}

/// Writes `note` as `settings.personality` words it, if its level shows.
pub fn say(settings: &Settings, note: Note) {
    // Signals and reaps are rinit's hot path: below the lowest level a note can show at
    // under any name, nothing is formatted at all.
    if settings.verbosity < floor(settings, &note) {
        return;
    }
    if let Some((level, text)) = words(settings, note) {
        say!(settings, level, text);
    }
}

/// The lowest level `note` is written at under any name (see [`words`]).
fn floor(settings: &Settings, note: &Note) -> u8 {
    match note {
        Note::NotSubreaper => WARN,
        Note::Reaped { .. } if settings.warn_on_reap => WARN,
        Note::Spawned { .. } | Note::Received { .. } | Note::Forwarded { .. } => INFO,
        Note::Reaped { .. } => INFO,
        Note::Dropped { .. } | Note::SuspendingSelf | Note::Exiting { .. } => DEBUG,
        Note::Subreaper => TRACE,
        // Why the container exited 137: shown by default under every name.
        Note::OutOfMemory { .. } => ERROR,
    }
}

/// The level and text of a note; `None` where that name says nothing of it.
fn words(settings: &Settings, note: Note) -> Option<(u8, String)> {
    use Personality::*;
    let personality = settings.personality;
    Some(match (personality, note) {
        (Rinit, Note::Spawned { command, pid }) => {
            (INFO, text!("started ", lossy(command), " as pid ", pid))
        }
        (Tini, Note::Spawned { command, pid }) => (
            INFO,
            text!(
                "Spawned child process '",
                lossy(command),
                "' with pid '",
                pid,
                "'"
            ),
        ),
        (DumbInit, Note::Spawned { pid, .. }) => {
            (DEBUG, text!("Child spawned with PID ", pid, "."))
        }
        (Catatonit, Note::Spawned { command, pid }) => {
            (DEBUG, text!("pid1 (", pid, ") spawned: ", lossy(command)))
        }

        (Rinit | Catatonit, Note::Received { signal, .. }) if signal == libc::SIGCHLD => {
            return None
        }
        (Rinit | Catatonit, Note::Received { signal, sender }) => (
            INFO,
            text!(
                "received ",
                signals::name(signal),
                " from ",
                sender_of(sender)
            ),
        ),
        (Tini, Note::Received { signal, .. }) if signal == libc::SIGCHLD => {
            (DEBUG, "Received SIGCHLD".into())
        }
        // tini says it when it passes the signal on.
        (Tini, Note::Received { .. }) => return None,
        (DumbInit, Note::Received { signal, .. }) => {
            (DEBUG, text!("Received signal ", signal, "."))
        }

        (Tini, Note::Forwarded { received, .. }) => (
            DEBUG,
            text!("Passing signal: '", description(received), "'"),
        ),
        (
            DumbInit,
            Note::Forwarded {
                signal, received, ..
            },
        ) => {
            if signal != received {
                say!(
                    settings,
                    DEBUG,
                    "Translating signal ",
                    received,
                    " to ",
                    signal,
                    "."
                );
            }
            (DEBUG, text!("Forwarded signal ", signal, " to children."))
        }
        (
            Rinit | Catatonit,
            Note::Forwarded {
                signal,
                received,
                target,
            },
        ) => (
            INFO,
            text!(
                "forwarded ",
                signals::name(signal),
                match signal == received {
                    true => String::new(),
                    false => text!(" (received ", signals::name(received), ")"),
                },
                " to ",
                match target < 0 {
                    true => text!("process group ", -target),
                    false => text!("process ", target),
                }
            ),
        ),

        (
            DumbInit,
            Note::Dropped {
                received,
                why: "rewritten to 0",
            },
        ) => (
            DEBUG,
            text!(
                "Not forwarding signal ",
                received,
                " to children (ignored)."
            ),
        ),
        (
            DumbInit,
            Note::Dropped {
                received,
                why: "sent by the terminal hand-over",
            },
        ) => (DEBUG, text!("Ignoring tty hand-off signal ", received, ".")),
        (_, Note::Dropped { received, why }) => {
            (DEBUG, text!("dropped ", signals::name(received), ": ", why))
        }

        (Rinit, Note::Reaped { pid, status, main }) => match (main, settings.warn_on_reap) {
            (true, _) => (INFO, text!("child ", pid, " exited: ", outcome(status))),
            // -w: the same words, at the warning level that shows by default.
            (false, true) => (WARN, text!("reaped process ", pid, ": ", outcome(status))),
            (false, false) => (INFO, text!("reaped process ", pid, ": ", outcome(status))),
        },
        (Tini, Note::Reaped { pid, status, main }) => match (main, status.terminating_signal()) {
            (true, None) => (
                INFO,
                text!(
                    "Main child exited normally (with status '",
                    status.exit_status().unwrap_or(0),
                    "')"
                ),
            ),
            (true, Some(signal)) => (
                INFO,
                text!(
                    "Main child exited with signal (with signal '",
                    description(signal),
                    "')"
                ),
            ),
            (false, _) if settings.warn_on_reap => {
                (WARN, text!("Reaped zombie process with pid=", pid))
            }
            (false, _) => (DEBUG, text!("Reaped child with pid: '", pid, "'")),
        },
        (DumbInit, Note::Reaped { pid, status, .. }) => match status.terminating_signal() {
            None => (
                DEBUG,
                text!(
                    "A child with PID ",
                    pid,
                    " exited with exit status ",
                    status.exit_status().unwrap_or(0),
                    "."
                ),
            ),
            Some(signal) => (
                DEBUG,
                text!(
                    "A child with PID ",
                    pid,
                    " was terminated by signal ",
                    signal,
                    "."
                ),
            ),
        },
        (Catatonit, Note::Reaped { main: true, .. }) => return None,
        (Catatonit, Note::Reaped { pid, status, .. }) => match status.terminating_signal() {
            None => (
                DEBUG,
                text!(
                    "child process ",
                    pid,
                    " exited with code ",
                    status.exit_status().unwrap_or(0)
                ),
            ),
            Some(signal) => (
                DEBUG,
                text!("child process ", pid, " exited due to signal ", signal),
            ),
        },

        (DumbInit, Note::SuspendingSelf) => (DEBUG, "Suspending self due to TTY signal.".into()),
        (_, Note::SuspendingSelf) => (DEBUG, "stopping rinit too until SIGCONT".into()),

        (DumbInit, Note::Exiting { code }) => (
            DEBUG,
            text!("Child exited with status ", code, ". Goodbye."),
        ),
        (Tini, Note::Exiting { .. }) => (TRACE, "Exiting: child has exited".into()),
        (_, Note::Exiting { .. }) => return None,

        (Tini, Note::NotSubreaper) => {
            // tini's warning is three lines; the last two carry no prefix.
            say!(
                settings,
                WARN,
                "Tini is not running as PID 1 and isn't registered as a child subreaper."
            );
            if settings.verbosity >= WARN {
                log::verbatim(
                    "Zombie processes will not be re-parented to Tini, so zombie reaping won't work.\n\
                     To fix the problem, use the -s option or set the environment variable \
                     TINI_SUBREAPER to register Tini as a child subreaper, or run Tini as PID 1.",
                );
            }
            return None;
        }
        (Rinit, Note::NotSubreaper) => (
            WARN,
            "not PID 1 and not a child subreaper: orphans go to the host's init, so zombie \
             reaping won't work here (use -s or TINI_SUBREAPER, or run as PID 1)"
                .into(),
        ),
        // dumb-init never registers and never warns; catatonit always registers.
        (DumbInit | Catatonit, Note::NotSubreaper) => return None,
        (Tini, Note::Subreaper) => (TRACE, "Registered as child subreaper".into()),
        (_, Note::Subreaper) => return None,

        // No peer says this: rinit's words, at a level each name shows by default (rinit and
        // tini show warnings; dumb-init and catatonit only errors).
        (
            _,
            Note::OutOfMemory {
                command,
                pid,
                limit,
            },
        ) => {
            let who = match command {
                Some(command) => text!(lossy(basename_bytes(command)), " (pid ", pid, ")"),
                None => text!("process ", pid),
            };
            let limit = match limit {
                Some(bytes) => text!("memory limit ", crate::cgroup::size(bytes)),
                None => "the container has no memory limit of its own".into(),
            };
            let level = match personality {
                Rinit | Tini => WARN,
                DumbInit | Catatonit => ERROR,
            };
            (
                level,
                text!(
                    who,
                    " was killed by the kernel's out-of-memory killer (",
                    limit,
                    ")"
                ),
            )
        }
    })
}

/// Reports `error` on stderr as the name rinit was called under words it; returns its exit
/// code.
pub fn fail(personality: Personality, error: &Error) -> u8 {
    report(personality, error);
    error.exit_code()
}

fn report(personality: Personality, error: &Error) {
    use Personality::*;
    let line = |level: u8, text: &str| line(personality, level, text);
    match (personality, error) {
        (
            _,
            Error::Usage {
                kind: UsageKind::NoCommand,
                program,
                ..
            },
        ) => match personality {
            Rinit => {
                log::verbatim("Usage: rinit [OPTIONS] [--] COMMAND [ARG...]");
                line(ERROR, "no command given (see 'rinit --help')");
            }
            // The program name is the caller's: escaped like every value, never raw.
            Tini => {
                log::line_raw(&tini_usage(program));
                log::line_raw(&text!(
                    "Run '",
                    sys::basename(program),
                    " -h' for the options."
                ));
            }
            DumbInit => {
                log::line_raw(&text!("Usage: ", program, " [option] program [args]"));
                log::line_raw(&text!("Try ", program, " --help for full usage."));
            }
            Catatonit => {
                line(ERROR, "missing program name");
                log::verbatim(CATATONIT_USAGE);
            }
        },
        (Rinit, _) => line(ERROR, &text!(error)),
        // glibc getopt's own words, then the peer's usage line where it prints one.
        (
            _,
            Error::Usage {
                kind: UsageKind::UnknownOption(option),
                program,
                ..
            },
        ) => getopt_complaint(
            personality,
            program,
            option,
            ("unrecognized option '", "'"),
            "invalid option",
        ),
        (
            _,
            Error::Usage {
                kind: UsageKind::MissingValue(option),
                program,
                ..
            },
        ) => getopt_complaint(
            personality,
            program,
            option,
            ("option '", "' requires an argument"),
            "option requires an argument",
        ),
        (
            Tini,
            Error::Usage {
                kind: UsageKind::BadValue { option, value },
                ..
            },
        ) if matches!(option.as_str(), "--pdeathsig" | "--remap-exit") => {
            let letter = if option == "--pdeathsig" { "-p" } else { "-e" };
            line(
                ERROR,
                &text!("Not a valid option for ", letter, ": ", value),
            )
        }
        (_, Error::Usage { message, .. }) => line(ERROR, message),
        (Tini, Error::Exec { command, errno, .. }) => {
            line(ERROR, &text!("exec ", command, " failed: ", errno.text()))
        }
        (DumbInit, Error::Exec { command, errno, .. }) => {
            line(ERROR, &text!(command, ": ", errno.text()))
        }
        (Catatonit, Error::Exec { errno, .. }) => {
            line(ERROR, &text!("failed to exec pid1: ", errno.text()))
        }
        (
            Catatonit,
            Error::Setup {
                what: "prctl(PR_SET_CHILD_SUBREAPER)",
                errno,
            },
        ) => line(
            ERROR,
            &text!("failed to set child-reaper as non-pid1: ", errno.text()),
        ),
        (
            Tini,
            Error::Setup {
                what: "prctl(PR_SET_CHILD_SUBREAPER)",
                errno,
            },
        ) => line(
            ERROR,
            &text!("Failed to register as child subreaper: ", errno.text()),
        ),
        (DumbInit, Error::Setup { what: "fork", .. }) => line(ERROR, "Unable to fork. Exiting."),
        (_, Error::Setup { what, errno }) => line(ERROR, &text!(what, " failed: ", errno.text())),
        // No peer has --user: rinit's own words under every name.
        (_, Error::User { .. }) => line(ERROR, &text!(error)),
    }
}

/// glibc getopt's complaint about `option` as typed, then the peer's usage line: for a long
/// option `PROGRAM: BEFORE--OPTIONAFTER`, for a short one `PROGRAM: SHORT -- 'X'`.
fn getopt_complaint(
    personality: Personality,
    program: &str,
    option: &str,
    (before, after): (&str, &str),
    short: &str,
) {
    match option.strip_prefix("--") {
        Some(long) if !long.is_empty() => {
            log::line_raw(&text!(program, ": ", before, option, after))
        }
        // `-x`, or `--` for the letter '-' of a word that only short options may follow (after
        // the command under tini's names, `--frob` is the letters -, f, r, o, b).
        _ => log::line_raw(&text!(
            program,
            ": ",
            short,
            " -- '",
            option.strip_prefix('-').unwrap_or(option),
            "'"
        )),
    }
    peer_usage(personality, program);
}

/// The usage line a peer prints after getopt's complaint, under the name it was called as.
fn peer_usage(personality: Personality, program: &str) {
    match personality {
        Personality::Tini => log::line_raw(&tini_usage(program)),
        Personality::Catatonit => log::verbatim(CATATONIT_USAGE),
        _ => {}
    }
}

/// tini's usage line, under the name it was called as.
fn tini_usage(program: &str) -> String {
    text!(
        "Usage: ",
        sys::basename(program),
        " [OPTIONS] PROGRAM -- [ARGS] | --version"
    )
}

const CATATONIT_USAGE: &str = "usage: catatonit [-ghLPV] [--] <progname> [<arguments>...]";

fn basename_bytes(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

fn lossy(bytes: &[u8]) -> String {
    sys::lossy(bytes)
}

fn sender_of(sender: Sender) -> String {
    match sender {
        Sender::Process(pid) => text!("pid ", pid),
        Sender::Outside => "outside the PID namespace".into(),
        Sender::Kernel => "the kernel".into(),
    }
}

/// "exit code 3" or "killed by SIGTERM".
fn outcome(status: WaitStatus) -> String {
    match sys::death_signal(status) {
        Some(signal) => text!("killed by ", signals::name(signal)),
        None => text!("exit code ", status.exit_status().unwrap_or(0)),
    }
}

/// The C library's description of a signal ("Terminated"), as strsignal gives it.
fn description(signal: i32) -> String {
    // SAFETY: strsignal returns a NUL-terminated string that stays valid until the next call;
    // rinit is single-threaded and copies it at once.
    let text = unsafe { core::ffi::CStr::from_ptr(libc::strsignal(signal)) };
    sys::lossy(text.to_bytes())
}
