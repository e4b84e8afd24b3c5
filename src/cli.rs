//! The command line, the environment variables, and the name rinit was called under, turned
//! into one [`Settings`] value. Options stop at the first word that is not one (no permutation),
//! except under tini's names, where they are permuted as tini's getopt does unless
//! POSIXLY_CORRECT is set.

use crate::error::{self, Error, UsageKind};
use crate::log::{Span, DEBUG, TRACE};
use crate::settings::{Forward, Personality, Session, Settings, Subreaper};
use crate::signals;
use crate::text;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Boxed: it is most of the value, and built once.
    Run(alloc::boxed::Box<Settings>),
    /// Help, version or license text for stdout; rinit exits 0.
    Print(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Help,
    Version,
    License,
    Subreaper,
    ParentDeath,
    Verbose,
    WarnOnReap,
    Group,
    SingleChild,
    RemapExit,
    Rewrite,
    Pause,
    Grace,
    StopTimeout,
    StopDelay,
    StopSignal,
    User,
}

/// (short, long, option, takes a value)
const OPTIONS: [(Option<char>, &str, Opt, bool); 19] = [
    (Some('h'), "help", Opt::Help, false),
    (Some('V'), "version", Opt::Version, false),
    (Some('l'), "license", Opt::License, false),
    (Some('L'), "license", Opt::License, false),
    (Some('s'), "subreaper", Opt::Subreaper, false),
    (Some('p'), "pdeathsig", Opt::ParentDeath, true),
    (Some('v'), "verbose", Opt::Verbose, false),
    (Some('w'), "warn-on-reap", Opt::WarnOnReap, false),
    (Some('g'), "group", Opt::Group, false),
    (Some('c'), "single-child", Opt::SingleChild, false),
    (Some('e'), "remap-exit", Opt::RemapExit, true),
    (Some('r'), "rewrite", Opt::Rewrite, true),
    (Some('P'), "pause", Opt::Pause, false),
    (None, "grace", Opt::Grace, true),
    (None, "stop-timeout", Opt::StopTimeout, true),
    (None, "stop-delay", Opt::StopDelay, true),
    (None, "stop-signal", Opt::StopSignal, true),
    (Some('u'), "user", Opt::User, true),
    (None, "kill-process-group", Opt::Group, false),
];

const HELP: &str = "\
Usage: rinit [OPTIONS] [--] COMMAND [ARG...]
       rinit -P

A minimal init for containers: runs COMMAND as its child, forwards signals to it,
reaps every zombie, and exits with COMMAND's status.

Options (each also read from the environment variable shown):
  -c, --single-child      forward signals to the child only, not its process group
                          [RINIT_SINGLE_CHILD=1]
  -g, --group             forward signals to the child's process group (default)
                          [RINIT_GROUP=1]
  -r, --rewrite S:R       forward signal S as R; R=0 drops S; repeatable; names or
                          numbers, e.g. TERM:QUIT or SIGRTMIN+1:USR1 [RINIT_REWRITE=S:R,...]
      --grace DURATION    once COMMAND has exited by itself, the processes left get this
                          long after SIGTERM before SIGKILL (default 5s; none: no
                          limit); 0 exits with COMMAND, as tini does [RINIT_GRACE]
      --stop-signal SIGNAL[,SIGNAL...]
                          the signals that mean stop, as received or rewritten (default
                          TERM,INT); e.g. QUIT for an image whose STOPSIGNAL is SIGQUIT
                          [RINIT_STOP_SIGNAL]
      --stop-timeout DURATION
                          after the first stop signal, SIGKILL everything left after
                          DURATION (default none: the sender's deadline applies, e.g.
                          docker stop -t N; 0: at once, nothing forwarded)
                          [RINIT_STOP_TIMEOUT]
      --stop-delay DURATION
                          hold the first stop signal named (SIGTERM by default) this
                          long before forwarding it, so COMMAND keeps serving while
                          load balancers drop it; that signal again, or COMMAND's exit,
                          ends the hold (default 0; none: until then) [RINIT_STOP_DELAY]
                          DURATION: 500ms, 5s, 1.5m, 2h, seconds, or none (also inf)
  -u, --user USER[:GROUP] run COMMAND as USER (and GROUP): names from the image's
                          /etc/passwd and /etc/group, or numeric ids; rinit stays
                          root [RINIT_USER]
  -s, --subreaper         register as child subreaper when not PID 1, or fail
                          [RINIT_SUBREAPER=1]
  -p, --pdeathsig SIGNAL  receive SIGNAL when rinit's parent dies [RINIT_PDEATHSIG]
  -e, --remap-exit CODE   report exit code CODE (0-255, after the 128+N step) as 0;
                          repeatable, or a list [RINIT_REMAP_EXIT=CODE,...]
  -w, --warn-on-reap      log every reaped process that is not the child
                          [RINIT_WARN_ON_REAP=1]
  -P, --pause             run no command: reap, and exit 0 on a stop signal [RINIT_PAUSE=1]
  -v, --verbose           log signals, reaps and shutdown steps to stderr; repeat for
                          more [RINIT_VERBOSE=N]
  -V, --version           print the version
  -l, -L, --license       print the license
  -h, --help              print this help

Exit status: COMMAND's, or 128+N if it was killed by signal N; 126 if COMMAND cannot be
executed, 127 if it is not found, 2 for a usage error, 1 if rinit cannot start it.
Called as tini, docker-init, dumb-init or catatonit, rinit takes that program's defaults.
";

/// tini's options, in tini's order and usage line, worded rinit's way (tini's own help text is
/// not ours to copy); `{program}` is the name as called.
const TINI_HELP: &str = "\
Usage: {program} [OPTIONS] PROGRAM -- [ARGS] | --version

rinit, called as {program}: runs PROGRAM as its child with tini's defaults.

Options:
  --version       print the version
  -h              print this help
  -s              register as child subreaper when not PID 1 [TINI_SUBREAPER]
  -p SIGNAL       receive SIGNAL when the parent dies, e.g. -p SIGKILL
  -v              log more; repeat up to three times [TINI_VERBOSITY=N]
  -w              warn about every zombie reaped
  -g              forward signals to PROGRAM's process group [TINI_KILL_PROCESS_GROUP]
  -e EXIT_CODE    report EXIT_CODE (0-255) as 0; repeatable
  -l              print the license

rinit's own options and variables work under this name too: run it as rinit --help.
";

fn version_text() -> String {
    text!(
        "rinit version ",
        env!("CARGO_PKG_VERSION"),
        " - git.",
        env!("RINIT_GIT_HASH"),
        "\n"
    )
}

/// Parses `args` (argv, program name first) and the environment seen through `env`.
pub fn parse<A, E>(args: A, env: E) -> Result<Invocation, Box<Error>>
where
    A: IntoIterator<Item = Vec<u8>>,
    E: Fn(&str) -> Option<Vec<u8>>,
{
    let mut args = args.into_iter();
    let program = args.next().unwrap_or_default();
    let personality = Personality::from_program_name(&crate::sys::lossy(&program));
    let code = match personality {
        Personality::Rinit => error::USAGE,
        _ => 1, // tini, dumb-init and catatonit all exit 1 on a bad command line
    };
    let mut parser = Parser {
        settings: Settings::defaults(personality),
        blame: Blame {
            code,
            personality,
            program: crate::sys::lossy(&program),
        },
    };
    parser.apply_environment(&env)?;
    let permute = personality == Personality::Tini && env("POSIXLY_CORRECT").is_none();
    if let Some(text) = parser.apply_arguments(args.collect(), permute)? {
        return Ok(Invocation::Print(text));
    }
    parser.finish()?;
    Ok(Invocation::Run(alloc::boxed::Box::new(parser.settings)))
}

struct Parser {
    settings: Settings,
    blame: Blame,
}

/// What a usage error names besides its message: the exit code, and who rinit was called as.
#[derive(Clone)]
struct Blame {
    code: u8,
    personality: Personality,
    program: String,
}

impl Blame {
    fn error(&self, message: String, kind: UsageKind) -> Box<Error> {
        Box::new(Error::Usage {
            message,
            code: self.code,
            kind,
            personality: self.personality,
            program: self.program.clone(),
        })
    }
}

/// One option out of a word: which, as typed, and its value if the word held one.
type Split = (Opt, String, Option<String>);

impl Parser {
    fn usage(&self, message: String) -> Box<Error> {
        self.blame.error(message, UsageKind::Other)
    }

    /// `--help`'s text under the name rinit was called as.
    fn help(&self) -> String {
        match self.settings.personality {
            // One of tini's own names (tini, tini-static, docker-init): nothing to escape.
            Personality::Tini => {
                let program = &self.blame.program;
                let name = crate::sys::basename(program);
                let mut help = String::new();
                let mut rest = TINI_HELP;
                while let Some((before, after)) = crate::sys::split_once(rest, "{program}") {
                    help.push_str(before);
                    help.push_str(name);
                    rest = after;
                }
                help.push_str(rest);
                help
            }
            _ => HELP.to_string(),
        }
    }

    fn unknown(&self, option: String, message: String) -> Box<Error> {
        self.blame.error(message, UsageKind::UnknownOption(option))
    }

    /// `OPTION: 'VALUE' IS_NOT`: a value that does not parse.
    fn bad_value(&self, option: &str, value: &str, is_not: &str) -> Box<Error> {
        let kind = UsageKind::BadValue {
            option: option.into(),
            value: value.into(),
        };
        self.blame
            .error(text!(option, ": '", value, "' ", is_not), kind)
    }

    fn apply_environment<E: Fn(&str) -> Option<Vec<u8>>>(
        &mut self,
        env: &E,
    ) -> Result<(), Box<Error>> {
        let blame = self.blame.clone();
        let text = |name: &str| -> Result<Option<String>, Box<Error>> {
            match env(name) {
                None => Ok(None),
                Some(value) if value.is_empty() => Ok(None),
                Some(value) => String::from_utf8(value).map(Some).map_err(|_| {
                    let message = text!("environment variable ", name, " is not valid UTF-8");
                    blame.error(message, UsageKind::Other)
                }),
            }
        };
        let flag = |name: &str| -> Result<bool, Box<Error>> {
            let Some(value) = text(name)? else {
                return Ok(false);
            };
            match value.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(blame.error(
                    text!(
                        name,
                        "=",
                        value,
                        ": expected 1/0, true/false, yes/no or on/off"
                    ),
                    UsageKind::Other,
                )),
            }
        };

        // The peers' own variables first, so rinit's win over them.
        if env("TINI_SUBREAPER").is_some() {
            self.settings.subreaper = Subreaper::Required;
        }
        if env("TINI_KILL_PROCESS_GROUP").is_some() {
            self.settings.forward = Forward::Group;
        }
        if let Some(value) = text("TINI_VERBOSITY")? {
            self.settings.verbosity = self.level("TINI_VERBOSITY", &value)?;
        }
        if text("DUMB_INIT_SETSID")?.as_deref() == Some("0") {
            self.single_child();
        }
        if text("DUMB_INIT_DEBUG")?.as_deref() == Some("1") {
            self.settings.verbosity = DEBUG;
        }
        if env("CATATONIT_DEBUG").is_some() {
            self.settings.verbosity = DEBUG;
        }
        if self.settings.personality == Personality::Catatonit && env("CATATONIT_LOG").is_some() {
            return Err(self.usage("CATATONIT_LOG is reserved for future use".into()));
        }

        if let Some(value) = text("RINIT_VERBOSE")? {
            // As many -v: 1 logs signals, reaps and shutdown steps.
            self.settings.verbosity = self
                .level("RINIT_VERBOSE", &value)?
                .saturating_add(1)
                .min(TRACE);
        }
        if flag("RINIT_SUBREAPER")? {
            self.settings.subreaper = Subreaper::Required;
        }
        match (flag("RINIT_GROUP")?, flag("RINIT_SINGLE_CHILD")?) {
            (true, true) => {
                return Err(self.usage(
                    "RINIT_GROUP=1 and RINIT_SINGLE_CHILD=1 contradict each other: set one".into(),
                ))
            }
            (true, false) => self.settings.forward = Forward::Group,
            (false, true) => self.single_child(),
            (false, false) => {}
        }
        if flag("RINIT_WARN_ON_REAP")? {
            self.settings.warn_on_reap = true;
        }
        if flag("RINIT_PAUSE")? {
            self.settings.pause = true;
        }
        if let Some(value) = text("RINIT_PDEATHSIG")? {
            self.settings.parent_death_signal = Some(self.signal("RINIT_PDEATHSIG", &value)?);
        }
        if let Some(value) = text("RINIT_GRACE")? {
            self.settings.grace = self.duration("RINIT_GRACE", &value)?;
        }
        if let Some(value) = text("RINIT_STOP_TIMEOUT")? {
            self.settings.stop_timeout = Some(self.duration("RINIT_STOP_TIMEOUT", &value)?);
        }
        if let Some(value) = text("RINIT_USER")? {
            self.settings.user = Some(self.user("RINIT_USER", &value)?);
        }
        if let Some(value) = text("RINIT_STOP_DELAY")? {
            self.settings.stop_delay = self.duration("RINIT_STOP_DELAY", &value)?;
        }
        if let Some(value) = text("RINIT_STOP_SIGNAL")? {
            self.settings.stop_signals =
                self.listed("RINIT_STOP_SIGNAL", &value, Self::stop_signal)?;
        }
        if let Some(value) = text("RINIT_REMAP_EXIT")? {
            for item in list(&value) {
                let code = self.exit_code("RINIT_REMAP_EXIT", item)?;
                self.settings.remap_exit.push(code);
            }
        }
        if let Some(value) = text("RINIT_REWRITE")? {
            for item in list(&value) {
                let pair = self.rewrite("RINIT_REWRITE", item)?;
                self.settings.rewrite.push(pair);
            }
        }
        Ok(())
    }

    /// Applies the options; returns text to print for help, version and license.
    fn apply_arguments(
        &mut self,
        args: Vec<Vec<u8>>,
        permute: bool,
    ) -> Result<Option<String>, Box<Error>> {
        let mut verbose = 0u8;
        let (mut group, mut single_child) = (false, false);
        let mut remap_from_flags = Vec::new();
        let mut rewrite_from_flags = Vec::new();
        let mut command = Vec::new();
        let mut words = args.into_iter();
        while let Some(word) = words.next() {
            let Ok(text) = core::str::from_utf8(&word) else {
                if word.first() == Some(&b'-') {
                    return Err(self.usage(text!(
                        "option '",
                        crate::sys::lossy(&word),
                        "' is not valid UTF-8"
                    )));
                }
                command.push(word);
                if permute {
                    continue;
                }
                command.extend(words.by_ref());
                break;
            };
            if text == "--" {
                command.extend(words.by_ref());
                break;
            }
            if permute && !command.is_empty() && text.starts_with('-') && text != "-" {
                self.check_tini_option(text)?;
            }
            if !text.starts_with('-') || text == "-" {
                command.push(word);
                if permute {
                    continue;
                }
                command.extend(words.by_ref());
                break;
            }
            for (opt, typed, inline) in self.split_option(text)? {
                let (_, long, _, takes_value) = OPTIONS
                    .iter()
                    .find(|(_, _, o, _)| *o == opt)
                    .copied()
                    .unwrap_or((None, "", opt, false));
                let value = match (takes_value, inline) {
                    (false, _) => String::new(),
                    (true, Some(value)) => value,
                    (true, None) => match words.next().map(String::from_utf8) {
                        Some(Ok(value)) => value,
                        Some(Err(_)) => {
                            return Err(self.usage(text!("--", long, ": value is not valid UTF-8")))
                        }
                        None => {
                            let message = text!(typed, " needs a value");
                            return Err(self.blame.error(message, UsageKind::MissingValue(typed)));
                        }
                    },
                };
                let name = text!("--", long);
                match opt {
                    Opt::Help => return Ok(Some(self.help())),
                    Opt::Version => return Ok(Some(version_text())),
                    Opt::License => return Ok(Some(LICENSE.to_string())),
                    Opt::Subreaper => self.settings.subreaper = Subreaper::Required,
                    Opt::ParentDeath => {
                        self.settings.parent_death_signal = Some(self.signal(&name, &value)?)
                    }
                    Opt::Verbose => verbose = verbose.saturating_add(1),
                    Opt::WarnOnReap => self.settings.warn_on_reap = true,
                    Opt::Group => {
                        group = true;
                        self.settings.forward = Forward::Group;
                    }
                    Opt::SingleChild => {
                        single_child = true;
                        self.single_child();
                    }
                    // Lists, as their variables take them: -e 3,4 and -r TERM:USR1,INT:0.
                    Opt::RemapExit => {
                        remap_from_flags.extend(self.listed(&name, &value, Self::exit_code)?)
                    }
                    Opt::Rewrite => {
                        rewrite_from_flags.extend(self.listed(&name, &value, Self::rewrite)?)
                    }
                    Opt::Pause => self.settings.pause = true,
                    Opt::Grace => self.settings.grace = self.duration(&name, &value)?,
                    Opt::StopTimeout => {
                        self.settings.stop_timeout = Some(self.duration(&name, &value)?)
                    }
                    Opt::StopDelay => self.settings.stop_delay = self.duration(&name, &value)?,
                    Opt::StopSignal => {
                        self.settings.stop_signals =
                            self.listed(&name, &value, Self::stop_signal)?
                    }
                    Opt::User => self.settings.user = Some(self.user(&typed, &value)?),
                }
            }
        }
        if group && single_child {
            return Err(self.usage(
                "-c (--single-child) and -g (--group) contradict each other: give one".into(),
            ));
        }
        // A flag wins over its environment variable.
        if verbose > 0 {
            self.settings.verbosity = match self.settings.personality {
                // dumb-init has one switch: -v turns its debug lines on.
                Personality::DumbInit => DEBUG,
                _ => verbose.saturating_add(1).min(TRACE),
            };
        }
        if !remap_from_flags.is_empty() {
            self.settings.remap_exit = remap_from_flags;
        }
        if !rewrite_from_flags.is_empty() {
            self.settings.rewrite = rewrite_from_flags;
        }
        self.settings.command = command;
        Ok(None)
    }

    /// `--name`, `--name=value`, or a cluster of short options like `-vvs` or `-e143`.
    /// Each with the option as typed (`-e`, `--remap-exit`), for messages.
    fn split_option(&self, text: &str) -> Result<Vec<Split>, Box<Error>> {
        if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let Some((_, _, opt, takes_value)) = OPTIONS.iter().find(|o| o.1 == name) else {
                return Err(self.unknown(text!("--", name), text!("unknown option --", name)));
            };
            if inline.is_some() && !takes_value {
                return Err(self.usage(text!("--", name, " takes no value")));
            }
            return Ok(alloc::vec![(*opt, text!("--", name), inline)]);
        }
        let mut found = Vec::new();
        let cluster = &text[1..];
        for (at, letter) in cluster.char_indices() {
            let Some((_, _, opt, takes_value)) = OPTIONS.iter().find(|o| o.0 == Some(letter))
            else {
                return Err(self.unknown(text!("-", letter), text!("unknown option -", letter)));
            };
            if *takes_value {
                let rest = &cluster[at + letter.len_utf8()..];
                found.push((
                    *opt,
                    text!("-", letter),
                    (!rest.is_empty()).then(|| rest.to_string()),
                ));
                break;
            }
            found.push((*opt, text!("-", letter), None));
        }
        Ok(found)
    }

    /// tini permutes the words after the command with getopt, which knows only tini's own
    /// options: anything else there is tini's usage error (`tini sh -c x` must be written
    /// `tini -- sh -c x`, with tini as with rinit).
    fn check_tini_option(&self, text: &str) -> Result<(), Box<Error>> {
        const TINI: &str = "p:hvwgle:s";
        for (at, letter) in text.char_indices().skip(1) {
            let known = letter != ':' && letter != '-' && TINI.chars().any(|c| c == letter);
            if !known {
                let message = text!("unknown option -", letter, " after the command");
                return Err(self.unknown(text!("-", letter), message));
            }
            // A letter that takes a value (followed by ':' in TINI) takes the rest of the word.
            if matches!(letter, 'p' | 'e') && at + 1 < text.len() {
                break;
            }
        }
        Ok(())
    }

    fn single_child(&mut self) {
        self.settings.forward = Forward::Child;
        if self.settings.personality == Personality::DumbInit {
            // dumb-init -c leaves the child in its own group and session.
            self.settings.session = Session::Inherit;
            self.settings.term_group_on_exit = false;
        }
    }

    fn signal(&self, source: &str, value: &str) -> Result<i32, Box<Error>> {
        signals::parse(value).ok_or_else(|| {
            let is_not = text!(
                "is not a signal (use a name like TERM or SIGRTMIN+1, or a number 1-",
                signals::RTMAX,
                ")"
            );
            self.bad_value(source, value, &is_not)
        })
    }

    /// A signal that can mean "stop": one that reaches rinit's forwarding.
    fn stop_signal(&self, source: &str, value: &str) -> Result<i32, Box<Error>> {
        let signal = self.signal(source, value)?;
        if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&signal) {
            return Err(self.usage(text!(
                source,
                ": ",
                signals::name(signal),
                " never reaches rinit's forwarding, so it cannot mean stop"
            )));
        }
        Ok(signal)
    }

    /// A verbosity level: any decimal number, more than the highest level counting as it.
    fn level(&self, source: &str, value: &str) -> Result<u8, Box<Error>> {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            // RINIT_VERBOSE counts -v's (level N+1); TINI_VERBOSITY is the level itself.
            let highest = match source {
                "RINIT_VERBOSE" => TRACE - 1,
                _ => TRACE,
            };
            return Err(self.usage(text!(
                source,
                "=",
                value,
                ": expected a whole number from 0 to ",
                highest,
                " (more counts as ",
                highest,
                ")"
            )));
        }
        let level = value.parse::<u64>().unwrap_or(u64::MAX);
        Ok(level.min(u64::from(TRACE)) as u8)
    }

    /// An option's list value (`-e 3,4`), each item parsed by `parse`; a value that lists
    /// nothing ('', ',') is parsed whole, and so refused as a bad value.
    fn listed<T>(
        &self,
        source: &str,
        value: &str,
        parse: fn(&Self, &str, &str) -> Result<T, Box<Error>>,
    ) -> Result<Vec<T>, Box<Error>> {
        let items: Vec<&str> = list(value).collect();
        match items.is_empty() {
            true => parse(self, source, value).map(|one| alloc::vec![one]),
            false => items
                .into_iter()
                .map(|item| parse(self, source, item))
                .collect(),
        }
    }

    fn exit_code(&self, source: &str, value: &str) -> Result<u8, Box<Error>> {
        value
            .parse()
            .map_err(|_| self.bad_value(source, value, "is not an exit code 0-255"))
    }

    fn rewrite(&self, source: &str, value: &str) -> Result<(i32, i32), Box<Error>> {
        let Some((from, to)) = value.split_once(':') else {
            return Err(self.bad_value(
                source,
                value,
                "is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop)",
            ));
        };
        let from = self.signal(source, from)?;
        if [libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&from) {
            return Err(self.usage(text!(
                source,
                ": ",
                signals::name(from),
                " never reaches rinit's forwarding, so it cannot be rewritten"
            )));
        }
        let to = if to == "0" {
            0
        } else {
            self.signal(source, to)?
        };
        Ok((from, to))
    }

    fn duration(&self, source: &str, value: &str) -> Result<Duration, Box<Error>> {
        parse_duration(value).ok_or_else(|| {
            self.bad_value(
                source,
                value,
                "is not a duration (use e.g. 500ms, 5s, 1m, 2h, seconds, or none)",
            )
        })
    }

    /// `--user`'s value; the spec keeps its source as written, for later messages
    /// (`--user app`, `RINIT_USER=app`).
    fn user(&self, source: &str, value: &str) -> Result<crate::user::Spec, Box<Error>> {
        let mut spec = crate::user::Spec::parse(value).ok_or_else(|| {
            self.bad_value(
                source,
                value,
                "is not USER[:GROUP] (names or numbers, e.g. app, 1000 or app:web)",
            )
        })?;
        // `--user app`, `-u app`; a variable reads `RINIT_USER=app`.
        spec.text = match source.starts_with('-') {
            true => text!(source, " ", value),
            false => text!(source, "=", value),
        };
        Ok(spec)
    }

    fn finish(&mut self) -> Result<(), Box<Error>> {
        let settings = &mut self.settings;
        if settings.pause && !settings.command.is_empty() {
            return Err(self.usage("--pause runs no command; remove the command".to_string()));
        }
        if settings.pause && settings.user.is_some() {
            return Err(self.usage(
                "--pause runs no command, so --user (RINIT_USER) has nothing to run".to_string(),
            ));
        }
        if settings.pause && !settings.stop_delay.is_zero() {
            return Err(self.usage(
                "--pause runs no command, so --stop-delay (RINIT_STOP_DELAY) has nothing to hold"
                    .to_string(),
            ));
        }
        if !settings.pause && settings.command.is_empty() {
            let message = "no command given".into();
            return Err(self.blame.error(message, UsageKind::NoCommand));
        }
        let (delay, timeout) = (settings.stop_delay, settings.stop_timeout);
        if let Some(timeout) = timeout.filter(|t| !delay.is_zero() && *t != Duration::MAX) {
            if timeout <= delay {
                return Err(self.usage(text!(
                    "--stop-timeout ",
                    Span(timeout),
                    " is not longer than --stop-delay ",
                    match delay {
                        Duration::MAX => "none".into(),
                        delay => text!(Span(delay)),
                    },
                    ": the command \
                     would be SIGKILLed before it ever got its stop signal \
                     (RINIT_STOP_TIMEOUT, RINIT_STOP_DELAY)"
                )));
            }
        }
        // tini's -p SIGKILL is its users' habit, kept under its names. Elsewhere the signal
        // would end rinit itself (SIGSTOP: freeze it) and leave the command without its init.
        let fatal = [libc::SIGKILL, libc::SIGSTOP];
        if let Some(signal) = settings.parent_death_signal.filter(|s| fatal.contains(s)) {
            if settings.personality != Personality::Tini {
                return Err(self.usage(text!(
                    "--pdeathsig (RINIT_PDEATHSIG): ",
                    signals::name(signal),
                    " would ",
                    match signal {
                        libc::SIGKILL => "kill",
                        _ => "stop",
                    },
                    " rinit itself and leave the \
                     command without its init; name a signal rinit forwards, e.g. TERM"
                )));
            }
        }
        if settings.personality == Personality::DumbInit && settings.session == Session::NewSession
        {
            // A new session's group is orphaned: the kernel drops SIGTSTP/SIGTTIN/SIGTTOU sent
            // to it, so they are forwarded as SIGSTOP unless the user rewrote them.
            for tty_signal in [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
                if !settings.rewrite.iter().any(|(from, _)| *from == tty_signal) {
                    settings.rewrite.insert(0, (tty_signal, libc::SIGSTOP));
                }
            }
        }
        Ok(())
    }
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
}

/// `500ms`, `5s`, `1.5s`, `2m`, `1h`, or a plain number of seconds; exact to the nanosecond.
/// `none` (or `inf`), and a value longer than the clock can count (about 584 billion years),
/// are `Duration::MAX`, which means no deadline; a non-zero value shorter than a nanosecond is
/// one nanosecond, never zero (which would mean "exit at once").
pub fn parse_duration(text: &str) -> Option<Duration> {
    if matches!(text, "none" | "inf") {
        return Some(Duration::MAX);
    }
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, Duration::from_millis(1))
    } else if let Some(n) = text.strip_suffix('s') {
        (n, Duration::from_secs(1))
    } else if let Some(n) = text.strip_suffix('m') {
        (n, Duration::from_secs(60))
    } else if let Some(n) = text.strip_suffix('h') {
        (n, Duration::from_secs(3600))
    } else {
        (text, Duration::from_secs(1))
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    // Duration's own checked arithmetic: u64 seconds and u32 nanoseconds (u128 nanoseconds
    // cost a few kilobytes of arithmetic on 32-bit targets). A sum past the clock's range is
    // no deadline; leading zeros never overflow.
    let sum = |total: Duration, digit: u8, unit: Duration| {
        total.checked_add(unit.checked_mul(u32::from(digit - b'0'))?)
    };
    let mut total = Duration::ZERO;
    for digit in whole.bytes() {
        match total
            .checked_mul(10)
            .and_then(|tens| sum(tens, digit, unit))
        {
            Some(more) => total = more,
            None => return Some(Duration::MAX),
        }
    }
    let mut scale = unit;
    for digit in fraction.bytes() {
        scale /= 10;
        match sum(total, digit, scale) {
            Some(more) => total = more,
            None => return Some(Duration::MAX),
        }
    }
    if total.is_zero() && fraction.bytes().any(|b| b != b'0') {
        total = Duration::from_nanos(1);
    }
    Some(total)
}

const LICENSE: &str = include_str!("../LICENSE");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse_with(args: &[&str], vars: &[(&str, &str)]) -> Result<Invocation, Box<Error>> {
        let vars: HashMap<String, Vec<u8>> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        parse(args.iter().map(|a| a.as_bytes().to_vec()), |name| {
            vars.get(name).cloned()
        })
    }

    fn settings(args: &[&str], vars: &[(&str, &str)]) -> Settings {
        match parse_with(args, vars) {
            Ok(Invocation::Run(settings)) => *settings,
            other => panic!("expected settings for {args:?}, got {other:?}"),
        }
    }

    fn usage_error(args: &[&str], vars: &[(&str, &str)]) -> (String, u8) {
        match parse_with(args, vars).map_err(|error| *error) {
            Err(Error::Usage { message, code, .. }) => (message, code),
            other => panic!("expected a usage error for {args:?}, got {other:?}"),
        }
    }

    fn command(s: &Settings) -> Vec<String> {
        s.command
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    #[test]
    fn options_stop_at_the_first_command_word() {
        let s = settings(&["rinit", "-v", "sh", "-c", "echo -v"], &[]);
        assert_eq!(command(&s), ["sh", "-c", "echo -v"]);
        assert_eq!(s.verbosity, 2);
        let s = settings(&["rinit", "--", "-weird-name"], &[]);
        assert_eq!(command(&s), ["-weird-name"]);
    }

    #[test]
    fn rinit_defaults() {
        let s = settings(&["/usr/bin/rinit", "true"], &[]);
        assert_eq!(s.personality, Personality::Rinit);
        assert_eq!(s.forward, Forward::Group);
        assert_eq!(s.session, Session::OwnGroup);
        assert_eq!(s.subreaper, Subreaper::Try);
        assert_eq!(s.grace, crate::settings::DEFAULT_GRACE);
        assert_eq!(s.stop_timeout, None);
        assert_eq!(s.verbosity, 1);
    }

    #[test]
    fn clustered_and_attached_values() {
        let s = settings(&["rinit", "-vvsw", "-e143", "-e", "130", "-pHUP", "x"], &[]);
        assert_eq!(s.verbosity, 3);
        assert_eq!(s.subreaper, Subreaper::Required);
        assert!(s.warn_on_reap);
        assert_eq!(s.remap_exit, [143, 130]);
        assert_eq!(s.parent_death_signal, Some(libc::SIGHUP));
        let s = settings(
            &[
                "rinit",
                "--grace=250ms",
                "--stop-timeout",
                "1m",
                "--stop-delay=1.5s",
                "--rewrite",
                "TERM:QUIT",
                "x",
            ],
            &[],
        );
        assert_eq!(s.grace, Duration::from_millis(250));
        assert_eq!(s.stop_timeout, Some(Duration::from_secs(60)));
        assert_eq!(s.stop_delay, Duration::from_millis(1500));
        assert_eq!(s.rewrite, [(libc::SIGTERM, libc::SIGQUIT)]);
    }

    #[test]
    fn rewrites_take_names_numbers_realtime_and_zero() {
        let s = settings(
            &[
                "rinit",
                "-r",
                "15:3",
                "-r",
                "SIGHUP:0",
                "-r",
                "RTMIN+1:USR1",
                "x",
            ],
            &[],
        );
        assert_eq!(s.rewritten(libc::SIGTERM), libc::SIGQUIT);
        assert_eq!(s.rewritten(libc::SIGHUP), 0);
        assert_eq!(s.rewritten(signals::RTMIN + 1), libc::SIGUSR1);
        assert_eq!(s.rewritten(libc::SIGINT), libc::SIGINT);
    }

    #[test]
    fn bad_values_are_clear_usage_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["rinit"], "no command given"),
            (&["rinit", "-x", "true"], "unknown option -x"),
            (
                &["rinit", "--frobnicate", "true"],
                "unknown option --frobnicate",
            ),
            (&["rinit", "-e", "256", "true"], "'256' is not an exit code"),
            (&["rinit", "-e"], "-e needs a value"),
            (&["rinit", "--grace"], "--grace needs a value"),
            (&["rinit", "-c", "-g", "true"], "contradict each other"),
            (&["rinit", "-e", "", "true"], "'' is not an exit code"),
            (
                &["rinit", "-e", "3", "-e", ",", "true"],
                "',' is not an exit code",
            ),
            (&["rinit", "-r", " ", "true"], "' ' is not SIGNAL:SIGNAL"),
            (
                &["rinit", "-p", "TERMINATE", "true"],
                "'TERMINATE' is not a signal",
            ),
            (&["rinit", "-r", "TERM", "true"], "not SIGNAL:SIGNAL"),
            (&["rinit", "-r", "KILL:TERM", "true"], "cannot be rewritten"),
            (&["rinit", "-r", "TERM:99", "true"], "'99' is not a signal"),
            (
                &["rinit", "--grace", "soon", "true"],
                "'soon' is not a duration",
            ),
            (
                &["rinit", "--stop-timeout", "-5", "true"],
                "--stop-timeout: '-5' is not a duration",
            ),
            (
                &["rinit", "--stop-delay", "5x", "true"],
                "--stop-delay: '5x' is not a duration",
            ),
            (&["rinit", "-P", "true"], "--pause runs no command"),
            (&["rinit", "--pause=1"], "takes no value"),
        ];
        for (args, expected) in cases {
            let (message, code) = usage_error(args, &[]);
            assert!(message.contains(expected), "{args:?}: {message}");
            assert_eq!(code, error::USAGE);
        }
    }

    #[test]
    fn environment_variables_and_flags_win() {
        let s = settings(
            &["rinit", "x"],
            &[
                ("RINIT_VERBOSE", "2"),
                ("RINIT_SINGLE_CHILD", "1"),
                ("RINIT_GRACE", "2s"),
                ("RINIT_STOP_TIMEOUT", "none"),
                ("RINIT_REMAP_EXIT", "143,130"),
                ("RINIT_REWRITE", "TERM:QUIT HUP:0"),
                ("RINIT_PDEATHSIG", "SIGUSR1"),
                ("RINIT_PAUSE", "0"),
            ],
        );
        assert_eq!(s.verbosity, 3);
        assert_eq!(s.forward, Forward::Child);
        assert_eq!(s.grace, Duration::from_secs(2));
        assert_eq!(s.stop_timeout, Some(Duration::MAX));
        assert_eq!(s.remap_exit, [143, 130]);
        assert_eq!(s.rewrite.len(), 2);
        assert_eq!(s.parent_death_signal, Some(libc::SIGUSR1));
        assert!(!s.pause);
        let s = settings(
            &["rinit", "-v", "-g", "-e", "1", "--grace", "0", "x"],
            &[
                ("RINIT_VERBOSE", "3"),
                ("RINIT_SINGLE_CHILD", "1"),
                ("RINIT_REMAP_EXIT", "143"),
                ("RINIT_GRACE", "9s"),
            ],
        );
        assert_eq!(s.verbosity, 2);
        assert_eq!(s.forward, Forward::Group);
        assert_eq!(s.remap_exit, [1]);
        assert_eq!(s.grace, Duration::ZERO);
    }

    #[test]
    fn invalid_environment_values_are_errors() {
        for (name, value, expected) in [
            ("RINIT_VERBOSE", "lots", "RINIT_VERBOSE=lots"),
            (
                "RINIT_PAUSE",
                "maybe",
                "RINIT_PAUSE=maybe: expected 1/0, true/false, yes/no or on/off",
            ),
            ("RINIT_GRACE", "-1s", "'-1s' is not a duration"),
            (
                "RINIT_STOP_TIMEOUT",
                "soon",
                "RINIT_STOP_TIMEOUT: 'soon' is not",
            ),
            ("RINIT_REWRITE", "TERM", "not SIGNAL:SIGNAL"),
            ("RINIT_PDEATHSIG", "0", "is not a signal"),
            ("TINI_VERBOSITY", "x", "TINI_VERBOSITY=x"),
            (
                "RINIT_VERBOSE",
                "yes",
                "RINIT_VERBOSE=yes: expected a whole number from 0 to 3 (more counts as 3)",
            ),
            (
                "TINI_VERBOSITY",
                "-1",
                "TINI_VERBOSITY=-1: expected a whole number from 0 to 4 (more counts as 4)",
            ),
        ] {
            let (message, _) = usage_error(&["rinit", "true"], &[(name, value)]);
            assert!(message.contains(expected), "{name}={value}: {message}");
        }
    }

    #[test]
    fn verbosity_past_the_highest_level_counts_as_it() {
        for (name, value) in [
            ("RINIT_VERBOSE", "200"),
            ("RINIT_VERBOSE", "99999999999999999999999"),
            ("TINI_VERBOSITY", "255"),
        ] {
            assert_eq!(settings(&["rinit", "x"], &[(name, value)]).verbosity, TRACE);
        }
        assert_eq!(settings(&["rinit", "-vvvvvv", "x"], &[]).verbosity, TRACE);
        assert_eq!(
            settings(&["rinit", "x"], &[("RINIT_VERBOSE", "0")]).verbosity,
            1
        );
    }

    #[test]
    fn option_words_that_are_not_utf8_are_usage_errors_never_the_command() {
        for word in [
            b"-\xff".to_vec(),
            b"-e\xff".to_vec(),
            b"--gr\xe9ce".to_vec(),
        ] {
            let args = [b"rinit".to_vec(), word, b"true".to_vec()];
            match parse(args, |_| None).map_err(|error| *error) {
                Err(Error::Usage { message, .. }) => {
                    assert!(message.contains("is not valid UTF-8"), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
        // A command word may be any bytes.
        let args = [b"rinit".to_vec(), b"caf\xe9".to_vec()];
        assert!(matches!(parse(args, |_| None), Ok(Invocation::Run(_))));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("0.25s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration(".5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5ms"), Some(Duration::from_micros(1500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0.5h"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("none"), Some(Duration::MAX));
        assert_eq!(parse_duration("inf"), Some(Duration::MAX));
        for bad in [
            "", "s", "ms", "h", ".", "-1", "1d", "1e3", "five", "1.2.3", "+1", "None", "infinity",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    /// The parser as it was with u128 nanoseconds, to hold today's against.
    fn reference_duration(text: &str) -> Option<Duration> {
        if matches!(text, "none" | "inf") {
            return Some(Duration::MAX);
        }
        let units = [
            ("ms", 1_000_000u128),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
        ];
        let (number, per_unit) = units
            .iter()
            .find_map(|(suffix, per)| text.strip_suffix(suffix).map(|n| (n, *per)))
            .unwrap_or((text, 1_000_000_000));
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
            return None;
        }
        let mut nanos: u128 = 0;
        for digit in whole.bytes() {
            nanos = nanos
                .saturating_mul(10)
                .saturating_add(u128::from(digit - b'0'));
        }
        nanos = nanos.saturating_mul(per_unit);
        let mut scale = per_unit;
        for digit in fraction.bytes() {
            scale /= 10;
            nanos = nanos.saturating_add(u128::from(digit - b'0') * scale);
        }
        if nanos == 0 && fraction.bytes().any(|b| b != b'0') {
            nanos = 1;
        }
        if nanos >= Duration::MAX.as_nanos() {
            return Some(Duration::MAX);
        }
        Some(Duration::new(
            (nanos / 1_000_000_000) as u64,
            (nanos % 1_000_000_000) as u32,
        ))
    }

    #[test]
    fn durations_parse_as_the_u128_parser_did() {
        let edges = [
            "18446744073709551615",
            "18446744073709551616",
            "18446744073709551615999",
        ];
        for edge in edges {
            for unit in ["", "ms", "s", "m", "h"] {
                for tail in ["", ".999999999999", ".5", ".0000000001"] {
                    let text = format!("{edge}{tail}{unit}");
                    assert_eq!(parse_duration(&text), reference_duration(&text), "{text}");
                }
            }
        }
        let mut random = crate::Random(0x2545_f491_4f6c_dd1d);
        // Whole parts of every length to past u64's 20 digits, fractions past the nanosecond,
        // zeros often (the 1 ns rule), now and then a stray dot.
        for _ in 0..200_000 {
            let mut text = String::new();
            let whole = random.below(24);
            let fraction = random.below(3).min(1) * random.below(36);
            for i in 0..whole + fraction {
                if i == whole {
                    text.push('.');
                }
                let digit = if random.below(3) == 0 {
                    0
                } else {
                    random.below(10) as u8
                };
                text.push((b'0' + digit) as char);
            }
            if random.below(50) == 0 {
                text.insert(random.below(text.len() + 1), '.');
            }
            text.push_str(["", "ms", "s", "m", "h", "x"][random.below(6)]);
            assert_eq!(parse_duration(&text), reference_duration(&text), "{text}");
        }
    }

    #[test]
    fn huge_and_tiny_durations_saturate_never_overflow() {
        for huge in [
            "18446744073709551615",
            "18446744073709551616",
            "307445734561825860m",
            "99999999999999999999999999999999999999999999999999m",
            "18446744073709551615.999999999999999999999999999999",
        ] {
            // Near or at the clock's limit: any deadline this far out is no deadline.
            let parsed = parse_duration(huge).map_or(0, |d| d.as_secs());
            assert!(parsed >= 18_446_744_073_709_551_600, "{huge}: {parsed}");
        }
        assert_eq!(
            parse_duration("0.000000000000000000000000000001"),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(
            parse_duration("1.123456789123456789123456789123"),
            Some(Duration::new(1, 123_456_789))
        );
        assert_eq!(
            parse_duration("000000000000000000000000000000005s"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_duration("0.000"), Some(Duration::ZERO));
    }

    #[test]
    fn stop_signals_are_a_list_the_first_held_and_refusals_are_usage_errors() {
        assert_eq!(
            settings(&["rinit", "true"], &[]).stop_signals,
            [libc::SIGTERM, libc::SIGINT]
        );
        let s = settings(&["rinit", "--stop-signal", "QUIT,SIGTERM", "true"], &[]);
        assert_eq!(s.stop_signals, [libc::SIGQUIT, libc::SIGTERM]);
        assert_eq!(s.held_signal(), Some(libc::SIGQUIT));
        // The flag wins over the variable.
        let s = settings(
            &["rinit", "--stop-signal=WINCH", "true"],
            &[("RINIT_STOP_SIGNAL", "QUIT")],
        );
        assert_eq!(s.stop_signals, [libc::SIGWINCH]);
        assert!(s.is_stop(libc::SIGWINCH, libc::SIGWINCH));
        assert!(!s.is_stop(libc::SIGTERM, libc::SIGTERM));
        for (args, vars, message) in [
            (
                &["rinit", "--stop-signal", ",", "true"][..],
                &[][..],
                "is not a signal",
            ),
            (
                &["rinit", "--stop-signal", "STOP", "true"],
                &[],
                "cannot mean stop",
            ),
            (
                &["rinit", "--stop-timeout", "1s", "true"],
                &[("RINIT_STOP_DELAY", "1s")],
                "is not longer than --stop-delay 1s",
            ),
            (
                &["rinit", "-p", "STOP", "true"],
                &[],
                "would stop rinit itself",
            ),
        ] {
            let (said, code) = usage_error(args, vars);
            assert!(said.contains(message), "{args:?}: {said}");
            assert_eq!(code, 2, "{args:?}");
        }
        // tini's -p SIGKILL stands, and a timeout longer than the delay is fine.
        assert_eq!(
            settings(&["tini", "-p", "SIGKILL", "true"], &[]).parent_death_signal,
            Some(libc::SIGKILL)
        );
        settings(
            &[
                "rinit",
                "--stop-timeout",
                "2s",
                "--stop-delay",
                "1s",
                "true",
            ],
            &[],
        );
    }

    #[test]
    fn help_version_and_license_print() {
        for (flag, expected) in [
            ("--help", "Usage: rinit"),
            ("-h", "Usage: rinit"),
            ("--version", "rinit version "),
            ("-V", " - git."),
            ("-l", "MIT License"),
            ("-L", "MIT License"),
        ] {
            match parse_with(&["rinit", flag], &[]) {
                Ok(Invocation::Print(text)) => assert!(text.contains(expected), "{flag}"),
                other => panic!("{flag}: {other:?}"),
            }
        }
    }

    #[test]
    fn tini_personality() {
        let s = settings(&["docker-init", "--", "x"], &[]);
        assert_eq!(s.personality, Personality::Tini);
        assert_eq!(s.forward, Forward::Child);
        assert_eq!(s.subreaper, Subreaper::Off);
        assert_eq!(s.grace, Duration::ZERO);
        // tini's getopt permutes: options after the command are still tini's.
        let s = settings(&["tini", "sh", "-s", "x"], &[]);
        assert_eq!(command(&s), ["sh", "x"]);
        assert_eq!(s.subreaper, Subreaper::Required);
        let s = settings(&["tini", "sh", "-s", "x"], &[("POSIXLY_CORRECT", "1")]);
        assert_eq!(command(&s), ["sh", "-s", "x"]);
        // There too, a letter that takes a value (`p:`, `e:`) takes the rest of its word,
        // whatever letters that holds; another letter's word is all options.
        let s = settings(&["tini", "sh", "-spSIGHUP", "-ve143", "x"], &[]);
        assert_eq!(command(&s), ["sh", "x"]);
        assert_eq!(s.parent_death_signal, Some(libc::SIGHUP));
        assert_eq!(s.remap_exit, [143]);
        let (message, _) = usage_error(&["tini", "sh", "-sHUP"], &[]);
        assert!(
            message.contains("unknown option -H after the command"),
            "{message}"
        );
        let s = settings(
            &["tini", "x"],
            &[
                ("TINI_SUBREAPER", ""),
                ("TINI_KILL_PROCESS_GROUP", "1"),
                ("TINI_VERBOSITY", "3"),
            ],
        );
        assert_eq!(s.subreaper, Subreaper::Required);
        assert_eq!(s.forward, Forward::Group);
        assert_eq!(s.verbosity, 3);
        let (_, code) = usage_error(&["tini"], &[]);
        assert_eq!(code, 1);
    }

    #[test]
    fn dumb_init_personality() {
        let s = settings(&["dumb-init", "x"], &[]);
        assert_eq!(s.session, Session::NewSession);
        assert_eq!(s.forward, Forward::Group);
        assert_eq!(s.rewritten(libc::SIGTSTP), libc::SIGSTOP);
        assert_eq!(s.exec_failure_code, Some(2));
        let s = settings(&["dumb-init", "-r", "TSTP:USR1", "x"], &[]);
        assert_eq!(s.rewritten(libc::SIGTSTP), libc::SIGUSR1);
        assert_eq!(s.rewritten(libc::SIGTTIN), libc::SIGSTOP);
        for s in [
            settings(&["dumb-init", "-c", "x"], &[]),
            settings(&["dumb-init", "x"], &[("DUMB_INIT_SETSID", "0")]),
        ] {
            assert_eq!(s.session, Session::Inherit);
            assert_eq!(s.forward, Forward::Child);
            assert_eq!(s.rewritten(libc::SIGTSTP), libc::SIGTSTP);
        }
        let s = settings(&["dumb-init", "x"], &[("DUMB_INIT_DEBUG", "1")]);
        assert_eq!(s.verbosity, 3);
    }

    #[test]
    fn catatonit_personality() {
        let s = settings(&["catatonit", "-P"], &[]);
        assert!(s.pause);
        assert_eq!(s.forward, Forward::Child);
        assert_eq!(s.exec_failure_code, Some(1));
        let s = settings(&["catatonit", "-g", "x"], &[]);
        assert_eq!(s.forward, Forward::Group);
    }
}
