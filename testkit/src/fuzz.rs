//! A seeded fuzzer for what a caller hands rinit: random argument vectors and environments
//! (non-UTF-8 bytes, empty and 100 KB words, option clusters, every valued option and every
//! RINIT_*/TINI_*/DUMB_INIT_* variable with garbage and huge numbers, control characters),
//! under every name rinit answers to, with commands that exit at once and commands that leave
//! a process behind. Each case runs the real binary; it must end (SIGTERM once rinit listens,
//! for pause mode and slow stops; a hang is 10 s), never die of a signal nor report an internal
//! error, and then meet what the README and the code promise under the name it was called as
//! (see [`Case::judge`]):
//!
//! - stderr: raw bytes that are valid UTF-8 with no control character but the newline (none
//!   of C0, DEL or C1: rinit escapes them in every value), ending in a newline; every line in
//!   the format of that name alone (`rinit: `, `[LEVEL tini (PID)] `, `[dumb-init] `,
//!   `LEVEL (catatonit:PID): `, PID rinit's own), or one of the few fixed lines that name
//!   prints bare (tini's subreaper warning, the usage lines, getopt's complaints naming the
//!   program as called);
//! - a usage error is all of stderr, in one of that name's exact shapes, and exits with that
//!   name's usage code; an exec failure, a failed setup or `--user` is the last line, and exits
//!   with that name's code for it (the exact line where the case knows the command cannot run);
//!   a command that ran exits with its own code, 128+N, or 0 where `-e` may have remapped it;
//!   pause mode exits 0;
//! - stdout: empty, unless help, version or license was printed, and then byte for byte what
//!   `NAME --help`, `--version` or `--license` print (read once at the start).
//!
//! Run it as PID 1 of a PID namespace: whatever a case leaves behind is reaped here and dies
//! with the namespace.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NAMES: [&str; 6] = [
    "rinit",
    "tini",
    "tini-static",
    "docker-init",
    "dumb-init",
    "catatonit",
];

const FLAGS: [&str; 22] = [
    "-c",
    "-g",
    "-s",
    "-w",
    "-v",
    "-vv",
    "-vvvvvvv",
    "-V",
    "-h",
    "-l",
    "-L",
    "-vsw",
    "-cgv",
    "--single-child",
    "--group",
    "--subreaper",
    "--warn-on-reap",
    "--verbose",
    "--kill-process-group",
    "--version",
    "--help",
    "--license",
];

const VALUED: [&str; 12] = [
    "-p",
    "-e",
    "-r",
    "--pdeathsig",
    "--remap-exit",
    "--rewrite",
    "--grace",
    "--stop-timeout",
    "--stop-delay",
    "--stop-signal",
    "--user",
    "-u",
];

const VALUES: [&str; 46] = [
    "none",
    "inf",
    "2h",
    "0.1s",
    "nobody",
    "0:0",
    "4242:",
    ":7",
    "a:b:c",
    "app:nogroup",
    "0",
    "1",
    "15",
    "143",
    "255",
    "256",
    "TERM",
    "SIGTERM",
    "sigkill",
    "RTMIN+3",
    "RTMAX-1",
    "RTMIN+99",
    "64",
    "65",
    "-1",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999999999999",
    "1e3",
    "0x10",
    "5s",
    "500ms",
    "1.5m",
    "0.000000000000000000000000000001",
    "307445734561825860m",
    "TERM:QUIT",
    "TERM:0",
    "USR1:TERM",
    "15:3",
    "KILL:TERM",
    "HUP:RTMIN",
    "TERM:TSTP",
    "143,130 1",
    "yes",
    "on",
    "200",
];

const VARIABLES: [&str; 20] = [
    "RINIT_STOP_TIMEOUT",
    "RINIT_STOP_SIGNAL",
    "RINIT_STOP_DELAY",
    "RINIT_USER",
    "RINIT_VERBOSE",
    "RINIT_SUBREAPER",
    "RINIT_GROUP",
    "RINIT_SINGLE_CHILD",
    "RINIT_WARN_ON_REAP",
    "RINIT_PAUSE",
    "RINIT_PDEATHSIG",
    "RINIT_GRACE",
    "RINIT_REMAP_EXIT",
    "RINIT_REWRITE",
    "TINI_SUBREAPER",
    "TINI_KILL_PROCESS_GROUP",
    "TINI_VERBOSITY",
    "DUMB_INIT_SETSID",
    "DUMB_INIT_DEBUG",
    "POSIXLY_CORRECT",
];

const COMMANDS: [&[&str]; 8] = [
    &["/bin/true"],
    &["/bin/false"],
    &["/bin/sh", "-c", "exit 7"],
    &["/bin/sh", "-c", "sleep 0.05 &"],
    &["/bin/sh", "-c", "trap '' TERM; sleep 0.2 &"],
    &["/nonexistent/command"],
    &["/"],
    &[],
];

/// What every case runs with: the PATH, and nothing else, in the environment.
const PATH: &str = "/usr/bin:/bin";

/// What a case may print instead of running: help, version or license, in this order in
/// [`Oracle::prints`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Print {
    Help,
    Version,
    License,
}

/// The words that print (under every name: one option table serves them all).
const PRINTS: [(&str, Print); 7] = [
    ("-h", Print::Help),
    ("--help", Print::Help),
    ("-V", Print::Version),
    ("--version", Print::Version),
    ("-l", Print::License),
    ("-L", Print::License),
    ("--license", Print::License),
];

/// Variables that are on when set, whatever their value (README: "set means on"), or that
/// only change tini's permutation: they never make a usage error.
const SET_MEANS_ON: [&str; 3] = [
    "TINI_SUBREAPER",
    "TINI_KILL_PROCESS_GROUP",
    "POSIXLY_CORRECT",
];

/// Every short option letter rinit takes under any name; those tini's getopt takes after the
/// command (tini's own `p:hvwgle:s`); and those that take a value.
const SHORT: &str = "hVlLspvwgcerPu";
const TINI_SHORT: &str = "phvwgles";
const VALUED_SHORT: &str = "peru";

/// Every long option, and those that take a value.
const LONG: [&str; 18] = [
    "help",
    "version",
    "license",
    "subreaper",
    "pdeathsig",
    "verbose",
    "warn-on-reap",
    "group",
    "single-child",
    "remap-exit",
    "rewrite",
    "pause",
    "grace",
    "stop-timeout",
    "stop-delay",
    "stop-signal",
    "user",
    "kill-process-group",
];
const VALUED_LONG: [&str; 8] = [
    "pdeathsig",
    "remap-exit",
    "rewrite",
    "grace",
    "stop-timeout",
    "stop-delay",
    "stop-signal",
    "user",
];

/// The lines rinit prints with no prefix (src/voice.rs), and the hint that ends every usage
/// error under rinit's own name (src/error.rs).
const RINIT_USAGE: &str = "Usage: rinit [OPTIONS] [--] COMMAND [ARG...]";
const RINIT_HINT: &str = " (see 'rinit --help')";
const TINI_NOT_SUBREAPER: &str =
    "Tini is not running as PID 1 and isn't registered as a child subreaper.";
const TINI_ZOMBIES: &str =
    "Zombie processes will not be re-parented to Tini, so zombie reaping won't work.";
const TINI_FIX: &str = "To fix the problem, use the -s option or set the environment variable \
                        TINI_SUBREAPER to register Tini as a child subreaper, or run Tini as PID 1.";
const CATATONIT_USAGE: &str = "usage: catatonit [-ghLPV] [--] <progname> [<arguments>...]";

/// The set-up steps a failure names (`Error::Setup`'s `what`), and how a `--user` failure
/// begins (the spec with its source: `--user app`, `-u app`, `RINIT_USER=app`).
const SETUP_STEPS: [&str; 7] = [
    "rt_sigprocmask",
    "signalfd",
    "prctl(PR_SET_PDEATHSIG)",
    "prctl(PR_SET_CHILD_SUBREAPER)",
    "pipe",
    "fork",
    "command",
];
const USER_SOURCES: [&str; 3] = ["--user ", "-u ", "RINIT_USER="];

/// xorshift64*: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Garbage: random bytes (never NUL, which argv and environ cannot hold), control
    /// characters, invalid UTF-8, sometimes 100 KB.
    fn garbage(&mut self) -> Vec<u8> {
        let length = match self.below(10) {
            0 => 0,
            1 => 100_000,
            _ => 1 + self.below(12),
        };
        (0..length).map(|_| 1 + self.below(255) as u8).collect()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.chance(80) {
            true => self.pick(&VALUES).as_bytes().to_vec(),
            false => self.garbage(),
        }
    }
}

/// One generated run.
struct Case {
    name: &'static str,
    args: Vec<Vec<u8>>,
    env: Vec<(&'static str, Vec<u8>)>,
    /// The entry of COMMANDS it ends with (after `--`), empty for none.
    command: &'static [&'static str],
    /// With no command: the garbage word it ends with, if any (a command word at times).
    trailing: Option<Vec<u8>>,
}

impl Case {
    fn random(rng: &mut Rng) -> Self {
        let name = *rng.pick(&NAMES);
        let mut args = Vec::new();
        for _ in 0..rng.below(6) {
            match rng.below(10) {
                0..=3 => args.push(rng.pick(&FLAGS).as_bytes().to_vec()),
                4..=6 => {
                    let option = *rng.pick(&VALUED);
                    let value = rng.value();
                    match rng.chance(30) {
                        // Attached: -e143, --grace=5s.
                        true if option.starts_with("--") => {
                            args.push([option.as_bytes(), b"=", &value].concat())
                        }
                        true => args.push([option.as_bytes(), &value].concat()),
                        false => {
                            args.push(option.as_bytes().to_vec());
                            args.push(value);
                        }
                    }
                }
                7 => args.push(if rng.chance(50) { "-P" } else { "--pause" }.into()),
                8 => {
                    let mut word = b"-".to_vec();
                    word.extend(rng.garbage());
                    args.push(word);
                }
                _ => args.push(
                    rng.pick(&["--frobnicate", "-x", "-", "", "-\n", "--grace="])
                        .as_bytes()
                        .to_vec(),
                ),
            }
        }
        let mut env = Vec::new();
        for _ in 0..rng.below(4) {
            env.push((*rng.pick(&VARIABLES), rng.value()));
        }
        let command = *rng.pick(&COMMANDS);
        if !command.is_empty() || rng.chance(20) {
            args.push(b"--".to_vec());
        }
        args.extend(command.iter().map(|w| w.as_bytes().to_vec()));
        let mut trailing = None;
        if command.is_empty() && rng.chance(30) {
            let word = rng.garbage();
            args.push(word.clone());
            trailing = Some(word);
        }
        let mut case = Case {
            name,
            args,
            env,
            command,
            trailing,
        };
        case.keep_pause_stoppable();
        case
    }

    /// Pause mode ends only on a stop signal (SIGTERM, which the fuzzer sends, by default); a
    /// rewrite could turn SIGTERM into anything, and `--stop-signal` name others.
    fn keep_pause_stoppable(&mut self) {
        let flag = |a: &Vec<u8>| a == b"-P" || a == b"--pause";
        let variable = |(name, value): &(&str, Vec<u8>)| {
            *name == "RINIT_PAUSE" && [&b"1"[..], b"true", b"yes", b"on"].contains(&&value[..])
        };
        if self.args.iter().any(flag) || self.env.iter().any(variable) {
            self.env
                .retain(|(name, _)| !["RINIT_REWRITE", "RINIT_STOP_SIGNAL"].contains(name));
            let mut kept = Vec::new();
            let mut words = std::mem::take(&mut self.args).into_iter();
            while let Some(word) = words.next() {
                if word == b"-r" || word == b"--rewrite" || word == b"--stop-signal" {
                    words.next();
                } else if !(word.starts_with(b"-r")
                    || word.starts_with(b"--rewrite=")
                    || word.starts_with(b"--stop-signal="))
                {
                    kept.push(word);
                }
            }
            self.args = kept;
        }
    }

    fn describe(&self) -> String {
        let shown = |bytes: &[u8]| match bytes.len() > 200 {
            true => format!("<{} bytes>", bytes.len()),
            false => format!("{:?}", String::from_utf8_lossy(bytes)),
        };
        let args: Vec<String> = self.args.iter().map(|a| shown(a)).collect();
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(n, v)| format!("{n}={}", shown(v)))
            .collect();
        format!("{} {} [env: {}]", self.name, args.join(" "), env.join(" "))
    }

    /// Runs the case; `Err` says what went wrong.
    fn check(&self, dir: &str, oracle: &Oracle) -> Result<(), String> {
        let file = |path: &str| std::fs::File::create(path).map_err(|e| format!("{path}: {e}"));
        let mut command = Command::new(format!("{dir}/{}", self.name));
        command
            .args(self.args.iter().map(|a| OsString::from_vec(a.clone())))
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .stdout(file(&oracle.stdout_path)?)
            .stderr(file(&oracle.stderr_path)?);
        for (name, value) in &self.env {
            command.env(name, OsString::from_vec(value.clone()));
        }
        let child = command.spawn().map_err(|e| format!("spawn: {e}"))?;
        let pid = Pid::from_raw(child.id() as i32);
        let start = Instant::now();
        let mut termed = None;
        let mut continued = false;
        let status = loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => break status,
                Err(e) => return Err(format!("waitpid: {e}")),
            }
            // Once rinit reads signals from its signalfd (opened right after it blocks them all):
            // its mask cannot tell, since qemu-user blocks host signals during its own start-up,
            // before the emulated rinit has blocked anything, and a SIGTERM then kills it. A case
            // that ends before (a print, a usage error) needs none; one that never gets there
            // gets it after READY_AT_MOST anyway.
            let ready = listening(pid.as_raw()) || start.elapsed() > READY_AT_MOST;
            if termed.is_none() && ready {
                let _ = kill(pid, Signal::SIGTERM);
                termed = Some(Instant::now());
            }
            // A SIGTERM rewritten to SIGTSTP (or another stop) stops a command still running,
            // and rinit rightly waits for it: as a user would, resume it, once.
            let stopping = termed.is_some_and(|at| at.elapsed() > Duration::from_secs(1));
            if stopping && !continued && self.may_stop_its_command() {
                let _ = kill(pid, Signal::SIGCONT);
                continued = true;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                return Err("hung: still running 10 s after start".into());
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        let code = match status {
            WaitStatus::Exited(_, code) => code,
            other => return Err(format!("did not exit: {other:?}")),
        };
        let stdout = std::fs::read(&oracle.stdout_path).map_err(|e| e.to_string())?;
        let stderr = std::fs::read(&oracle.stderr_path).map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&stderr).contains("internal error") {
            return Err(format!("internal error: {}", excerpt(&stderr)));
        }
        if self.foreign_command() {
            // Not rinit's output, nor its command's: neither can be judged.
            return Ok(());
        }
        self.judge(dir, oracle, pid.as_raw(), code, &stdout, &stderr)
            .map_err(|problem| {
                format!(
                    "{problem}\n  exit code {code}\n  stderr: {}\n  stdout: {}",
                    excerpt(&stderr),
                    excerpt(&stdout)
                )
            })
    }

    /// Holds what rinit wrote and its exit code to what it promises under this name.
    fn judge(
        &self,
        dir: &str,
        oracle: &Oracle,
        pid: i32,
        code: i32,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Result<(), String> {
        let text = raw_stderr(stderr)?;
        let which = NAMES.iter().position(|n| *n == self.name).unwrap_or(0);
        let expected = self.expected_print();
        if !stdout.is_empty() || expected.is_some() {
            let printed = oracle.prints[which].iter().position(|p| p == stdout);
            match (printed, expected) {
                (None, None) => {
                    return Err("stdout holds what no help, version or license is".into())
                }
                (None, Some(print)) if stdout.is_empty() => {
                    return Err(format!("nothing on stdout: {print:?} was expected"))
                }
                (None, Some(print)) => {
                    return Err(format!(
                        "stdout is not the {print:?} text `{} --{}` prints",
                        self.name,
                        format!("{print:?}").to_lowercase()
                    ))
                }
                (Some(at), Some(print)) if at != print as usize => {
                    return Err(format!(
                        "printed the {:?} text, not the {print:?} text",
                        [Print::Help, Print::Version, Print::License][at]
                    ))
                }
                _ => {}
            }
            if !stderr.is_empty() {
                return Err("a print with something on stderr".into());
            }
            if code != 0 {
                return Err(format!("a print that exits {code}, not 0"));
            }
            return Ok(());
        }
        let voice = Voice {
            peer: Peer::of(self.name),
            name: self.name,
            program: format!("{dir}/{}", self.name),
            pid,
            errnos: &oracle.errnos,
        };
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        let outcome = voice.read(&lines)?;
        let (what, allowed): (&str, Vec<i32>) = match outcome {
            Outcome::Usage => ("a usage error", vec![voice.peer.usage_code()]),
            Outcome::Failed => ("a failed set-up or --user", vec![1]),
            Outcome::Exec { code, message } => {
                if let Some(expected) = self.expected_exec_failure(&voice) {
                    if message != expected {
                        return Err(format!(
                            "the exec failure reads {message:?}, not {expected:?}"
                        ));
                    }
                } else if self.runnable() {
                    return Err(format!(
                        "an exec failure of a command that runs: {message:?}"
                    ));
                }
                ("this exec failure", vec![code])
            }
            Outcome::Ran => match self.command {
                [] => ("pause mode ended by SIGTERM", vec![0]),
                ["/nonexistent/command"] | ["/"] => {
                    return Err(format!(
                        "{} cannot run, yet no exec failure was reported",
                        self.command[0]
                    ))
                }
                _ => ("the command's end", self.command_codes()),
            },
        };
        if !allowed.contains(&code) {
            return Err(format!(
                "exit code {code} after {what} under the name {}: expected one of {allowed:?}",
                self.name
            ));
        }
        Ok(())
    }

    /// Which text the case must print: where the words before the first that prints are all
    /// flags that take no value, and no variable is set that could be refused first (a print
    /// returns before the flags' conflicts are checked). Other prints are judged by what they
    /// print alone (any of the name's three texts); the parser's full logic is not repeated.
    fn expected_print(&self) -> Option<Print> {
        if !self.env.iter().all(|(name, _)| SET_MEANS_ON.contains(name)) {
            return None;
        }
        for word in &self.args {
            if let Some((_, print)) = PRINTS.iter().find(|(w, _)| w.as_bytes() == &word[..]) {
                return Some(*print);
            }
            if !FLAGS.iter().any(|flag| flag.as_bytes() == &word[..]) {
                return None;
            }
        }
        None
    }

    /// A word before the case's `--` that starts the command itself ("" or "-", or a `--`
    /// that garbage made), which then runs (or rather fails to) in place of the case's
    /// command.
    fn stray_command_word(&self) -> bool {
        let ends = self.args.iter().filter(|a| *a == b"--").count();
        self.args.iter().any(|a| a.is_empty() || a == b"-") || ends > 1
    }

    /// The exact exec failure where the case knows its command cannot run.
    fn expected_exec_failure(&self, voice: &Voice) -> Option<String> {
        if self.stray_command_word() {
            return None;
        }
        match self.command {
            ["/nonexistent/command"] => Some(voice.exec_failure(self.command[0], libc::ENOENT)),
            ["/"] => Some(voice.exec_failure(self.command[0], libc::EACCES)),
            _ => None,
        }
    }

    /// Whether the case's command exists and can be executed (by any user).
    fn runnable(&self) -> bool {
        !self.stray_command_word() && !matches!(self.command, [] | ["/nonexistent/command"] | ["/"])
    }

    /// The codes of a command that ran: its own, 143 for the SIGTERM this fuzzer sends, 0 if
    /// `-e` could have remapped it, 137 if `--stop-timeout` could have killed it, any 128+N if
    /// a rewrite could have turned SIGTERM into another signal. "Could" is read from the words
    /// alone (a letter in a cluster or garbage counts): the parser's full logic is not
    /// repeated, so this accepts a little more than rinit does, never less.
    fn command_codes(&self) -> Vec<i32> {
        let own = match self.command {
            ["/bin/false"] => 1,
            ["/bin/sh", "-c", "exit 7"] => 7,
            _ => 0,
        };
        let mut codes = vec![own, 128 + libc::SIGTERM];
        let rewrite = self.mentions("--rewrite", Some(b'r'), "RINIT_REWRITE");
        if self.mentions("--remap-exit", Some(b'e'), "RINIT_REMAP_EXIT") {
            codes.push(0);
        }
        if rewrite || self.mentions("--stop-timeout", None, "RINIT_STOP_TIMEOUT") {
            codes.push(128 + libc::SIGKILL);
        }
        if rewrite {
            codes.extend(129..=128 + 64);
        }
        codes
    }

    /// Whether a word could set the option: it starts with `long`, or it is a single-dash word
    /// holding `letter`; or `variable` is set.
    fn mentions(&self, long: &str, letter: Option<u8>, variable: &str) -> bool {
        let short = |word: &[u8]| {
            letter.is_some_and(|letter| {
                word.first() == Some(&b'-') && word.get(1) != Some(&b'-') && word.contains(&letter)
            })
        };
        self.env.iter().any(|(name, _)| *name == variable)
            || self
                .args
                .iter()
                .any(|word| word.starts_with(long.as_bytes()) || short(word))
    }

    /// Whether a rewrite could turn the SIGTERM this fuzzer sends into a job-control stop.
    fn may_stop_its_command(&self) -> bool {
        const STOPS: [&str; 8] = ["tstp", "ttin", "ttou", "stop", ":19", ":20", ":21", ":22"];
        let stops = |word: &[u8]| {
            let word = String::from_utf8_lossy(word).to_ascii_lowercase();
            STOPS.iter().any(|stop| word.contains(stop))
        };
        self.mentions("--rewrite", Some(b'r'), "RINIT_REWRITE")
            && (self.args.iter().any(|word| stops(word))
                || self.env.iter().any(|(_, value)| stops(value)))
    }

    /// Whether the garbage word a case ends with names a program that exists (`[` in
    /// /usr/bin, say), which then runs as the command and writes what it will.
    fn foreign_command(&self) -> bool {
        let Some(word) = self.trailing.as_deref().filter(|w| !w.is_empty()) else {
            return false;
        };
        let paths: Vec<Vec<u8>> = match word.contains(&b'/') {
            true => vec![word.to_vec()],
            false => PATH
                .split(':')
                .map(|dir| [dir.as_bytes(), b"/", word].concat())
                .collect(),
        };
        paths.iter().any(|path| {
            std::fs::metadata(Path::new(OsStr::from_bytes(path)))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    }
}

/// stderr as text, once its raw bytes pass: valid UTF-8, no control character but the
/// newline (C0, DEL, C1: every value is shown escaped), and a newline at the end.
fn raw_stderr(stderr: &[u8]) -> Result<&str, String> {
    let line = |at: usize| stderr[..at].iter().filter(|b| **b == b'\n').count() + 1;
    if let Some(at) = stderr
        .iter()
        .position(|&b| (b < 0x20 && b != b'\n') || b == 0x7f)
    {
        return Err(format!(
            "raw control byte {:#04x} on line {} of stderr",
            stderr[at],
            line(at)
        ));
    }
    let text = std::str::from_utf8(stderr).map_err(|e| {
        format!(
            "stderr is not valid UTF-8 (line {}): {e}",
            line(e.valid_up_to())
        )
    })?;
    if let Some((at, c)) = text
        .char_indices()
        .find(|(_, c)| ('\u{80}'..='\u{9f}').contains(c))
    {
        return Err(format!(
            "raw C1 control character U+{:04X} on line {} of stderr",
            c as u32,
            line(at)
        ));
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("stderr's last line does not end in a newline".into());
    }
    Ok(text)
}

/// The start of `bytes`, readable, for a failure's message.
fn excerpt(bytes: &[u8]) -> String {
    const MOST: usize = 600;
    let shown = format!(
        "{:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(MOST)])
    );
    match bytes.len() > MOST {
        true => format!("{shown}... ({} bytes)", bytes.len()),
        false => shown,
    }
}

/// Whose defaults and voice a name takes (README: "A drop-in for tini, docker-init,
/// dumb-init and catatonit").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Rinit,
    Tini,
    DumbInit,
    Catatonit,
}

impl Peer {
    fn of(name: &str) -> Self {
        match name {
            "tini" | "tini-static" | "docker-init" => Peer::Tini,
            "dumb-init" => Peer::DumbInit,
            "catatonit" => Peer::Catatonit,
            _ => Peer::Rinit,
        }
    }

    /// 2 under rinit's name, 1 under the peers' (README: "Exit codes", the drop-in table).
    fn usage_code(self) -> i32 {
        match self {
            Peer::Rinit => 2,
            _ => 1,
        }
    }

    /// The exit code of an exec failure with `errno`: the shell's 127 (not found), 126 (not
    /// executable) or 1 under rinit's and tini's names, 2 under dumb-init's, 1 under
    /// catatonit's.
    fn exec_code(self, errno: i32) -> i32 {
        match self {
            Peer::DumbInit => 2,
            Peer::Catatonit => 1,
            Peer::Rinit | Peer::Tini => match errno {
                libc::ENOENT | libc::ENOTDIR => 127,
                libc::EACCES | libc::ENOEXEC | libc::EISDIR => 126,
                _ => 1,
            },
        }
    }
}

/// How a run ended, as stderr tells it.
#[derive(Debug)]
enum Outcome {
    /// Only notes (or nothing): the command ran, or pause mode did.
    Ran,
    Usage,
    /// exec of the command failed: the code the name gives it, and the message.
    Exec {
        code: i32,
        message: String,
    },
    /// A set-up step or `--user` failed.
    Failed,
}

/// What one line of stderr is.
enum Line {
    Note,
    /// rinit's last word: how it failed.
    End(Outcome),
}

/// The C library's error texts, as rinit prints them: strerror's words under the peers'
/// names, first letter lower-cased under rinit's (`Errno::describe`).
struct Errnos(Vec<(i32, String)>);

impl Errnos {
    fn new() -> Self {
        Errnos(
            (1..=133)
                .map(|errno| {
                    let text = std::io::Error::from_raw_os_error(errno).to_string();
                    let suffix = format!(" (os error {errno})");
                    (
                        errno,
                        text.strip_suffix(&suffix).unwrap_or(&text).to_string(),
                    )
                })
                .collect(),
        )
    }

    fn text(&self, errno: i32, lower: bool) -> String {
        let text = self
            .0
            .iter()
            .find(|(e, _)| *e == errno)
            .map_or(String::new(), |(_, text)| text.clone());
        match lower {
            true => lower_first(&text),
            false => text,
        }
    }

    fn find(&self, text: &str, lower: bool) -> Option<i32> {
        self.0
            .iter()
            .find(|(_, t)| match lower {
                true => lower_first(t) == text,
                false => t == text,
            })
            .map(|(errno, _)| *errno)
    }
}

fn lower_first(text: &str) -> String {
    let mut text = text.to_string();
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    text
}

/// `text` between `before` and `after`, if it is that.
fn between<'t>(text: &'t str, before: &str, after: &str) -> Option<&'t str> {
    text.strip_prefix(before)?.strip_suffix(after)
}

/// One character as rinit shows it: itself, or escaped (`\n`, `\t`, `\r`, `\x1b`, `\x9b`).
fn one_character(text: &str) -> bool {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => !c.is_control(),
        _ => {
            matches!(text, "\\n" | "\\t" | "\\r")
                || between(text, "\\x", "")
                    .is_some_and(|hex| hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        }
    }
}

/// How rinit speaks under one name (src/voice.rs), as one run of it: its pid is in the
/// peers' prefixes, and argv[0] in getopt's complaints and dumb-init's usage lines.
struct Voice<'a> {
    peer: Peer,
    /// What it was called as (argv[0]'s basename).
    name: &'a str,
    /// argv[0] as given: DIR/NAME.
    program: String,
    pid: i32,
    errnos: &'a Errnos,
}

impl Voice<'_> {
    /// Reads stderr, line by line, into how the run ended; `Err` for a line this name never
    /// writes, or one out of place.
    fn read(&self, lines: &[&str]) -> Result<Outcome, String> {
        if self.usage_error(lines)? {
            return Ok(Outcome::Usage);
        }
        for (at, line) in lines.iter().enumerate() {
            if let Line::End(outcome) = self.line(lines, at)? {
                if let Some(next) = lines.get(at + 1) {
                    return Err(format!("a line after rinit's last word {line:?}: {next:?}"));
                }
                return Ok(outcome);
            }
        }
        Ok(Outcome::Ran)
    }

    /// Whether stderr is a usage error: all of it, in one of the exact shapes this name has
    /// (nothing is written before the command line is read, nor after it is refused).
    fn usage_error(&self, lines: &[&str]) -> Result<bool, String> {
        let no_command = self.no_command();
        let tini_usage = format!(
            "Usage: {} [OPTIONS] PROGRAM -- [ARGS] | --version",
            self.name
        );
        if lines == no_command {
            return Ok(true);
        }
        Ok(match (self.peer, lines) {
            (Peer::Rinit, [line]) => {
                match line
                    .strip_prefix("rinit: ")
                    .and_then(|m| m.strip_suffix(RINIT_HINT))
                {
                    Some(message) if self.usage_message(message) => true,
                    Some(message) => {
                        return Err(format!(
                            "a usage error in no wording rinit has: {message:?}"
                        ))
                    }
                    None => false,
                }
            }
            // getopt's complaint, then the peer's usage line where it prints one.
            (Peer::Tini, [first, second]) => self.getopt(first) && *second == tini_usage,
            (Peer::DumbInit, [line]) if self.getopt(line) => true,
            (Peer::Catatonit, [first, second]) => self.getopt(first) && *second == CATATONIT_USAGE,
            (_, [line]) => self.split(line)?.is_some_and(|(level, message)| {
                self.error_level(level) && self.usage_message(message)
            }),
            _ => false,
        })
    }

    /// One line that is not part of a usage error: a note, or rinit's last word.
    fn line(&self, lines: &[&str], at: usize) -> Result<Line, String> {
        let line = lines[at];
        let Some((level, message)) = self.split(line)? else {
            return self.bare_line(lines, at).map(|()| Line::Note);
        };
        if let Some(outcome) = self.failure(message)? {
            if !self.error_level(level) {
                return Err(format!("a failure below the error level: {line:?}"));
            }
            return Ok(Line::End(outcome));
        }
        if self.usage_message(message) || message.ends_with(RINIT_HINT) {
            return Err(format!("a usage error with more around it: {line:?}"));
        }
        match (self.peer, level) {
            (Peer::Tini, "FATAL") | (Peer::Catatonit, "ERROR") => Err(format!(
                "an error in no wording rinit has under this name: {line:?}"
            )),
            (Peer::Tini, "WARN ")
                if message == TINI_NOT_SUBREAPER && lines.get(at + 1) != Some(&TINI_ZOMBIES) =>
            {
                Err(format!(
                    "tini's subreaper warning without its second line: {line:?}"
                ))
            }
            _ => Ok(Line::Note),
        }
    }

    /// A line with no prefix outside a usage error: only the last two of tini's warning, in
    /// their place.
    fn bare_line(&self, lines: &[&str], at: usize) -> Result<(), String> {
        let line = lines[at];
        let previous = at.checked_sub(1).map(|at| lines[at]);
        let warning = format!("[WARN  tini ({})] {TINI_NOT_SUBREAPER}", self.pid);
        match self.peer {
            Peer::Tini
                if line == TINI_ZOMBIES
                    && previous == Some(&warning)
                    && lines.get(at + 1) == Some(&TINI_FIX) =>
            {
                Ok(())
            }
            Peer::Tini if line == TINI_FIX && previous == Some(TINI_ZOMBIES) => Ok(()),
            _ if self.getopt(line) => Err(format!("getopt's complaint out of place: {line:?}")),
            _ if ["Usage: ", "usage: ", "Try ", "Run '"]
                .iter()
                .any(|start| line.starts_with(start)) =>
            {
                Err(format!(
                    "{line:?} is no part of a usage error {} writes: with no command it writes \
                     exactly {:?}",
                    self.name,
                    self.no_command()
                ))
            }
            _ => Err(format!(
                "not a line rinit writes as {} (or not in its place): {line:?}",
                self.name
            )),
        }
    }

    /// The two lines this name writes for a missing command.
    fn no_command(&self) -> [String; 2] {
        let (name, program) = (self.name, self.program.as_str());
        match self.peer {
            Peer::Rinit => [
                RINIT_USAGE.into(),
                format!("rinit: no command given{RINIT_HINT}"),
            ],
            Peer::Tini => [
                format!("Usage: {name} [OPTIONS] PROGRAM -- [ARGS] | --version"),
                format!("Run '{name} -h' for the options."),
            ],
            Peer::DumbInit => [
                format!("Usage: {program} [option] program [args]"),
                format!("Try {program} --help for full usage."),
            ],
            Peer::Catatonit => [
                format!("ERROR (catatonit:{}): missing program name", self.pid),
                CATATONIT_USAGE.into(),
            ],
        }
    }

    /// The level and message of a line in this name's format (no level under rinit's and
    /// dumb-init's); `None` for a line without its prefix; `Err` for a peer's prefix with
    /// another pid than rinit's.
    fn split<'l>(&self, line: &'l str) -> Result<Option<(&'static str, &'l str)>, String> {
        let tagged = |levels: &[&'static str], start: &str, end: &str| {
            for level in levels {
                let Some(rest) = line.strip_prefix(&start.replace("LEVEL", level)) else {
                    continue;
                };
                let Some((pid, message)) = rest.split_once(end) else {
                    return Err(format!("a prefix with no end: {line:?}"));
                };
                if pid != self.pid.to_string() {
                    return Err(format!(
                        "pid {pid:?} in the prefix is not rinit's ({}): {line:?}",
                        self.pid
                    ));
                }
                return Ok(Some((*level, message)));
            }
            Ok(None)
        };
        match self.peer {
            Peer::Rinit => Ok(line.strip_prefix("rinit: ").map(|m| ("", m))),
            Peer::DumbInit => Ok(line.strip_prefix("[dumb-init] ").map(|m| ("", m))),
            Peer::Tini => tagged(
                &["FATAL", "WARN ", "INFO ", "DEBUG", "TRACE"],
                "[LEVEL tini (",
                ")] ",
            ),
            Peer::Catatonit => tagged(
                &["ERROR", "WARN", "INFO", "DEBUG"],
                "LEVEL (catatonit:",
                "): ",
            ),
        }
    }

    /// Whether a line at `level` may be an error: tini's FATAL, catatonit's ERROR, and any
    /// line under the names whose format has no level.
    fn error_level(&self, level: &str) -> bool {
        match self.peer {
            Peer::Tini => level == "FATAL",
            Peer::Catatonit => level == "ERROR",
            Peer::Rinit | Peer::DumbInit => true,
        }
    }

    /// How a failure other than a usage error reads, if `message` is one.
    fn failure(&self, message: &str) -> Result<Option<Outcome>, String> {
        if USER_SOURCES
            .iter()
            .any(|source| message.starts_with(source))
        {
            return Ok(Some(Outcome::Failed));
        }
        let setup = match self.peer {
            Peer::Rinit => SETUP_STEPS
                .iter()
                .any(|step| message.starts_with(&format!("{step}: "))),
            peer => {
                SETUP_STEPS
                    .iter()
                    .any(|step| message.starts_with(&format!("{step} failed: ")))
                    || match peer {
                        Peer::Tini => {
                            message.starts_with("Failed to register as child subreaper: ")
                        }
                        Peer::Catatonit => {
                            message.starts_with("failed to set child-reaper as non-pid1: ")
                        }
                        _ => message == "Unable to fork. Exiting.",
                    }
            }
        };
        if setup {
            return Ok(Some(Outcome::Failed));
        }
        let exec = |code: i32| {
            Ok(Some(Outcome::Exec {
                code,
                message: message.to_string(),
            }))
        };
        let text = match self.peer {
            Peer::Rinit => match message.strip_prefix("exec ") {
                Some(rest) if rest.ends_with(": command not found in PATH") => return exec(127),
                Some(rest) => rest.rsplit_once(": ").map(|(_, text)| text),
                None => return Ok(None),
            },
            Peer::Tini => match message.strip_prefix("exec ") {
                Some(rest) => rest.rsplit_once(" failed: ").map(|(_, text)| text),
                None => return Ok(None),
            },
            // `COMMAND: strerror`, told from a note by the error text.
            Peer::DumbInit => match message.rsplit_once(": ") {
                Some((_, text)) if self.errnos.find(text, false).is_some() => Some(text),
                _ => return Ok(None),
            },
            Peer::Catatonit => match message.strip_prefix("failed to exec pid1: ") {
                Some(text) => Some(text),
                None => return Ok(None),
            },
        };
        match text.and_then(|text| self.errnos.find(text, self.peer == Peer::Rinit)) {
            Some(errno) => exec(self.peer.exec_code(errno)),
            None => Err(format!(
                "an exec failure with no error text of the C library's: {message:?}"
            )),
        }
    }

    /// The exact message of a failed exec of `command` with `errno` under this name.
    fn exec_failure(&self, command: &str, errno: i32) -> String {
        let text = self.errnos.text(errno, self.peer == Peer::Rinit);
        match self.peer {
            Peer::Rinit => format!("exec {command}: {text}"),
            Peer::Tini => format!("exec {command} failed: {text}"),
            Peer::DumbInit => format!("{command}: {text}"),
            Peer::Catatonit => format!("failed to exec pid1: {text}"),
        }
    }

    /// Whether `line` is glibc getopt's complaint as rinit words it under a peer's name, with
    /// the program named as called and an option that really is unknown or takes a value.
    fn getopt(&self, line: &str) -> bool {
        if self.peer == Peer::Rinit {
            return false;
        }
        let Some(rest) = line
            .strip_prefix(self.program.as_str())
            .and_then(|rest| rest.strip_prefix(": "))
        else {
            return false;
        };
        // Under tini's names only tini's own letters are known after the command.
        let known = match self.peer {
            Peer::Tini => TINI_SHORT,
            _ => SHORT,
        };
        if let Some(letter) = between(rest, "invalid option -- '", "'") {
            return one_character(letter) && !(letter.len() == 1 && known.contains(letter));
        }
        if let Some(option) = between(rest, "unrecognized option '--", "'") {
            return !option.is_empty() && !LONG.contains(&option);
        }
        if let Some(letter) = between(rest, "option requires an argument -- '", "'") {
            return letter.len() == 1 && VALUED_SHORT.contains(letter);
        }
        if let Some(option) = between(rest, "option '--", "' requires an argument") {
            return VALUED_LONG.contains(&option);
        }
        false
    }

    /// Whether `message` is one of the usage errors src/cli.rs words (values escaped inside),
    /// as this name words it: under a peer's name an unknown option or a missing value is
    /// getopt's complaint instead, and under tini's a bad `-p` or `-e` value is tini's own
    /// sentence.
    fn usage_message(&self, m: &str) -> bool {
        let (rinit, tini) = (self.peer == Peer::Rinit, self.peer == Peer::Tini);
        let bad_value = |option: &str, end: &str| {
            m.contains(end) && !(tini && m.starts_with(&format!("{option}: '")))
        };
        (m.starts_with("environment variable ") && m.ends_with(" is not valid UTF-8"))
            || m.ends_with(": expected 1/0, true/false, yes/no or on/off")
            || m == "CATATONIT_LOG is reserved for future use"
            || m == "RINIT_GROUP=1 and RINIT_SINGLE_CHILD=1 contradict each other: set one"
            || m == "-c (--single-child) and -g (--group) contradict each other: give one"
            || (m.starts_with("option '") && m.ends_with("' is not valid UTF-8"))
            || (m.starts_with("--") && m.ends_with(": value is not valid UTF-8"))
            || (m.starts_with("--") && m.ends_with(" takes no value"))
            || bad_value(
                "--pdeathsig",
                "' is not a signal (use a name like TERM or SIGRTMIN+1, or a number 1-",
            )
            || m.contains(": expected a whole number from 0 to ")
            || bad_value("--remap-exit", "' is not an exit code 0-255")
            || m.ends_with("' is not SIGNAL:SIGNAL (e.g. TERM:QUIT, or TERM:0 to drop)")
            || m.ends_with(" never reaches rinit's forwarding, so it cannot be rewritten")
            || m.ends_with("' is not a duration (use e.g. 500ms, 5s, 1m, 2h, seconds, or none)")
            || m.ends_with("' is not USER[:GROUP] (names or numbers, e.g. app, 1000 or app:web)")
            || m == "--pause runs no command; remove the command"
            || m == "--pause runs no command, so --user (RINIT_USER) has nothing to run"
            || m
                == "--pause runs no command, so --stop-delay (RINIT_STOP_DELAY) has nothing to hold"
            || m.ends_with(" never reaches rinit's forwarding, so it cannot mean stop")
            || (m.starts_with("--stop-timeout ")
                && m.ends_with(
                    ": the command would be SIGKILLed before it ever got its stop signal \
                     (RINIT_STOP_TIMEOUT, RINIT_STOP_DELAY)",
                ))
            || (!tini
                && m.starts_with("--pdeathsig (RINIT_PDEATHSIG): SIG")
                && m.ends_with(
                    " rinit itself and leave the command without its init; name a signal \
                     rinit forwards, e.g. TERM",
                ))
            || (rinit && (m.ends_with(" needs a value") || m.starts_with("unknown option -")))
            || (tini
                && (m.starts_with("Not a valid option for -p: ")
                    || m.starts_with("Not a valid option for -e: ")))
    }
}

/// What every case is judged against.
struct Oracle {
    errnos: Errnos,
    /// What `NAME --help`, `--version` and `--license` print, for each of NAMES.
    prints: Vec<[Vec<u8>; 3]>,
    stdout_path: String,
    stderr_path: String,
}

/// Runs `DIR/NAME --help`, `--version` and `--license` under each name: each must print on
/// stdout alone and exit 0, and the short forms (`-h`, `-V`, `-l`, `-L`) the same texts.
fn references(dir: &str) -> Result<Vec<[Vec<u8>; 3]>, String> {
    let run = |name: &str, flag: &str| -> Result<Vec<u8>, String> {
        let out = Command::new(format!("{dir}/{name}"))
            .arg(flag)
            .env_clear()
            .env("PATH", PATH)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{name} {flag}: {e}"))?;
        if out.status.code() != Some(0) || !out.stderr.is_empty() || out.stdout.is_empty() {
            return Err(format!(
                "`{name} {flag}` must print on stdout alone and exit 0: {}, stdout {}, stderr {}",
                out.status,
                excerpt(&out.stdout),
                excerpt(&out.stderr)
            ));
        }
        Ok(out.stdout)
    };
    NAMES
        .iter()
        .map(|name| {
            let texts = [
                run(name, "--help")?,
                run(name, "--version")?,
                run(name, "--license")?,
            ];
            for (short, print) in [
                ("-h", Print::Help),
                ("-V", Print::Version),
                ("-l", Print::License),
                ("-L", Print::License),
            ] {
                if run(name, short)? != texts[print as usize] {
                    return Err(format!(
                        "`{name} {short}` does not print what {print:?} does"
                    ));
                }
            }
            if texts[0] == texts[1] || texts[1] == texts[2] || texts[0] == texts[2] {
                return Err(format!(
                    "{name}: help, version and license are not three texts"
                ));
            }
            if !texts[1].starts_with(b"rinit version ") {
                return Err(format!(
                    "`{name} --version` does not say `rinit version`: {}",
                    excerpt(&texts[1])
                ));
            }
            Ok(texts)
        })
        .collect()
}

/// How long a case waits for rinit's signalfd before it sends SIGTERM anyway.
const READY_AT_MOST: Duration = Duration::from_secs(2);

/// Whether process `pid` has a signalfd open.
fn listening(pid: i32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|to| to.as_os_str() == "anon_inode:[signalfd]")
        })
    })
}

pub fn run(seed: u64, cases: usize, dir: &str) -> i32 {
    let prints = match references(dir) {
        Ok(prints) => prints,
        Err(problem) => {
            println!("the reference prints failed: {problem}");
            return 1;
        }
    };
    let oracle = Oracle {
        errnos: Errnos::new(),
        prints,
        stdout_path: format!("{dir}/fuzz-stdout"),
        stderr_path: format!("{dir}/fuzz-stderr"),
    };
    let mut rng = Rng(seed | 1);
    for number in 0..cases {
        let case = Case::random(&mut rng);
        if let Err(problem) = case.check(dir, &oracle) {
            println!(
                "case {number} of seed {seed} failed: {problem}\n{}",
                case.describe()
            );
            return 1;
        }
        // Orphans a case left come to this process, PID 1 of the namespace: collect them.
        while let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
            waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG))
        {}
    }
    println!("cases={cases} seed={seed}");
    0
}
