//! What rinit was asked to do: one plain value built once by `cli` and passed down, and the
//! defaults of each name rinit answers to.

use alloc::vec::Vec;
use core::time::Duration;

/// The peer whose defaults apply, chosen by the name rinit was called under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    Rinit,
    /// `tini` and `docker-init`.
    Tini,
    DumbInit,
    Catatonit,
}

impl Personality {
    /// The personality for `argv[0]`'s basename; any unknown name is rinit's own.
    pub fn from_program_name(program: &str) -> Self {
        match crate::sys::basename(program) {
            "tini" | "tini-static" | "docker-init" => Personality::Tini,
            "dumb-init" => Personality::DumbInit,
            "catatonit" => Personality::Catatonit,
            _ => Personality::Rinit,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Personality::Rinit => "rinit",
            Personality::Tini => "tini",
            Personality::DumbInit => "dumb-init",
            Personality::Catatonit => "catatonit",
        }
    }
}

/// Who receives forwarded signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// The child's whole process group (`kill(-pgid)`), so a shell's workers hear it too.
    Group,
    /// Only the direct child.
    Child,
}

/// Where the child is placed before exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Its own process group, foreground on the terminal (rinit, tini, catatonit).
    OwnGroup,
    /// A new session with the terminal as controlling tty (dumb-init).
    NewSession,
    /// rinit's own group and session, untouched (dumb-init `-c`).
    Inherit,
}

/// Whether rinit registers as child subreaper when it is not PID 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subreaper {
    /// Do not register; tini warns that zombies will not be reaped.
    Off,
    /// Register, and carry on with a warning if the kernel refuses.
    Try,
    /// Register or fail (`-s`).
    Required,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub personality: Personality,
    /// The command and its arguments, as bytes; empty in pause mode.
    pub command: Vec<Vec<u8>>,
    pub pause: bool,
    pub forward: Forward,
    pub session: Session,
    pub subreaper: Subreaper,
    /// Signal rinit gets when its parent dies (PR_SET_PDEATHSIG).
    pub parent_death_signal: Option<i32>,
    /// 0 errors only, 1 warnings, 2 signals, reaps and shutdown steps, 3 debug, 4 trace.
    pub verbosity: u8,
    pub warn_on_reap: bool,
    /// Exit codes reported as 0, after the 128+N step.
    pub remap_exit: Vec<u8>,
    /// `(received, forwarded)`; forwarded 0 drops the signal.
    pub rewrite: Vec<(i32, i32)>,
    /// How long the processes left after a natural exit (no stop signal came) get between
    /// SIGTERM and SIGKILL; zero exits with the command, as tini does. `Duration::MAX`: no
    /// deadline.
    pub grace: Duration,
    /// rinit's own deadline for a stop, counted from the first SIGTERM/SIGINT: then everything
    /// left is SIGKILLed. `None` (the default): whoever sent the stop signal owns the deadline.
    pub stop_timeout: Option<Duration>,
    /// How long the first SIGTERM is held before it is forwarded (`--stop-delay`): the command
    /// keeps serving while load balancers drop it. Zero: forwarded at once. It holds the first
    /// of `stop_signals`.
    pub stop_delay: Duration,
    /// The signals that mean "stop" (`--stop-signal`; default SIGTERM, SIGINT), as received or
    /// as `-r` rewrites them: the image's STOPSIGNAL (nginx's SIGQUIT) starts a stop too.
    pub stop_signals: Vec<i32>,
    /// `--user`: who the command runs as; rinit itself stays who it was.
    pub user: Option<crate::user::Spec>,
    /// dumb-init: after forwarding SIGTSTP/SIGTTIN/SIGTTOU, stop rinit itself.
    pub stop_with_child: bool,
    /// dumb-init: SIGTERM the child's group when the child exits.
    pub term_group_on_exit: bool,
    /// One exit code for every exec failure (dumb-init 2, catatonit 1); `None` is the shell's
    /// convention that rinit and tini follow: 127 not found, 126 not executable, 1 otherwise.
    pub exec_failure_code: Option<u8>,
}

/// How long the processes left after the command exited by itself get before SIGKILL, when
/// nobody else bounds the wait (no stop signal came).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

impl Settings {
    /// The defaults of a personality, before options and environment.
    pub fn defaults(personality: Personality) -> Self {
        let mut settings = Settings {
            personality,
            command: Vec::new(),
            pause: false,
            forward: Forward::Group,
            session: Session::OwnGroup,
            subreaper: Subreaper::Try,
            parent_death_signal: None,
            verbosity: 1,
            warn_on_reap: false,
            remap_exit: Vec::new(),
            rewrite: Vec::new(),
            grace: DEFAULT_GRACE,
            stop_timeout: None,
            stop_delay: Duration::ZERO,
            stop_signals: alloc::vec![libc::SIGTERM, libc::SIGINT],
            user: None,
            stop_with_child: false,
            term_group_on_exit: false,
            exec_failure_code: None,
        };
        match personality {
            Personality::Rinit => {}
            Personality::Tini => {
                settings.forward = Forward::Child;
                settings.subreaper = Subreaper::Off;
                settings.grace = Duration::ZERO;
            }
            Personality::DumbInit => {
                settings.verbosity = 0; // dumb-init prints nothing but errors unless -v
                settings.session = Session::NewSession;
                settings.subreaper = Subreaper::Off;
                settings.grace = Duration::ZERO;
                settings.stop_with_child = true;
                settings.term_group_on_exit = true;
                settings.exec_failure_code = Some(2);
            }
            Personality::Catatonit => {
                settings.verbosity = 0; // catatonit prints errors only unless CATATONIT_DEBUG
                settings.forward = Forward::Child;
                settings.subreaper = Subreaper::Required; // not PID 1: subreaper, or fail
                settings.grace = Duration::ZERO;
                settings.exec_failure_code = Some(1);
            }
        }
        settings
    }

    /// Where forwarded signals go for a child with this pid: the pid or its group.
    pub fn target(&self, child: i32) -> i32 {
        match self.forwards_to_group() {
            true => -child,
            false => child,
        }
    }

    /// Whether forwarded signals reach the child's whole process group (whose id is the
    /// child's pid), not the child alone.
    pub fn forwards_to_group(&self) -> bool {
        matches!(
            (self.forward, self.session),
            (Forward::Group, Session::OwnGroup | Session::NewSession)
        )
    }

    /// The signal to forward for one received (0: drop it).
    pub fn rewritten(&self, received: i32) -> i32 {
        self.rewrite
            .iter()
            .rev()
            .find(|(from, _)| *from == received)
            .map_or(received, |(_, to)| *to)
    }

    /// Whether a signal received as `received` and forwarded as `forwarded` asks for a stop:
    /// either is one of the stop signals (`-r TERM:QUIT` keeps docker's SIGTERM a stop).
    pub fn is_stop(&self, received: i32, forwarded: i32) -> bool {
        forwarded != 0
            && (self.stop_signals.contains(&received) || self.stop_signals.contains(&forwarded))
    }

    /// The signal `--stop-delay` holds: the first stop signal named.
    pub fn held_signal(&self) -> Option<i32> {
        self.stop_signals.first().copied()
    }

    /// The exit code for a child that exited with `code` (already 128+N for a signal death).
    pub fn exit_code(&self, code: u8) -> u8 {
        if self.remap_exit.contains(&code) {
            0
        } else {
            code
        }
    }
}
