//! A seeded fuzzer for what a caller hands rinit: random argument vectors and environments
//! (non-UTF-8 bytes, empty and 100 KB words, option clusters, every valued option and every
//! RINIT_*/TINI_*/DUMB_INIT_* variable with garbage and huge numbers, control characters),
//! under every name rinit answers to, with commands that exit at once and commands that leave
//! a process behind. Each case runs the real binary; it must end (SIGTERM once rinit blocks it,
//! for pause mode and slow stops; a hang is 10 s), never die of a signal nor report an internal
//! error, exit with a documented code, and write only whole, escaped lines in the format of the
//! name it was called under.
//!
//! Run it as PID 1 of a PID namespace: whatever a case leaves behind is reaped here and dies
//! with the namespace.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
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

const VALUED: [&str; 11] = [
    "-p",
    "-e",
    "-r",
    "--pdeathsig",
    "--remap-exit",
    "--rewrite",
    "--grace",
    "--stop-timeout",
    "--stop-delay",
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

const VARIABLES: [&str; 19] = [
    "RINIT_STOP_TIMEOUT",
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

/// How every line rinit writes begins, under each name it answers to (getopt's own messages
/// are checked apart).
const LINE_STARTS: [&str; 17] = [
    "rinit: ",
    "[FATAL tini (",
    "[WARN  tini (",
    "[INFO  tini (",
    "[DEBUG tini (",
    "[TRACE tini (",
    "Zombie processes will not be re-parented to Tini",
    "To fix the problem, use the -s option",
    "[dumb-init] ",
    "ERROR (catatonit:",
    "WARN (catatonit:",
    "INFO (catatonit:",
    "DEBUG (catatonit:",
    "Usage: ",
    "usage: catatonit ",
    "Run '",
    "Try ",
];

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
        if command.is_empty() && rng.chance(30) {
            args.push(rng.garbage());
        }
        let mut case = Case { name, args, env };
        case.keep_pause_stoppable();
        case
    }

    /// Pause mode ends only on SIGTERM or SIGINT; a rewrite could turn them into anything.
    fn keep_pause_stoppable(&mut self) {
        let flag = |a: &Vec<u8>| a == b"-P" || a == b"--pause";
        let variable = |(name, value): &(&str, Vec<u8>)| {
            *name == "RINIT_PAUSE" && [&b"1"[..], b"true", b"yes", b"on"].contains(&&value[..])
        };
        if self.args.iter().any(flag) || self.env.iter().any(variable) {
            self.env.retain(|(name, _)| *name != "RINIT_REWRITE");
            let mut kept = Vec::new();
            let mut words = std::mem::take(&mut self.args).into_iter();
            while let Some(word) = words.next() {
                if word == b"-r" || word == b"--rewrite" {
                    words.next();
                } else if !(word.starts_with(b"-r") || word.starts_with(b"--rewrite=")) {
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
    fn check(&self, dir: &str, stderr_path: &str) -> Result<(), String> {
        let mut command = Command::new(format!("{dir}/{}", self.name));
        command
            .args(self.args.iter().map(|a| OsString::from_vec(a.clone())))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr_path).map_err(|e| e.to_string())?);
        for (name, value) in &self.env {
            command.env(name, OsString::from_vec(value.clone()));
        }
        let child = command.spawn().map_err(|e| format!("spawn: {e}"))?;
        let pid = Pid::from_raw(child.id() as i32);
        let start = Instant::now();
        let mut termed = false;
        let status = loop {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => break status,
                Err(e) => return Err(format!("waitpid: {e}")),
            }
            // Once rinit blocks SIGTERM (its first act), or after 300 ms where its mask does not
            // show it (qemu-user keeps the guest's mask to itself): never in the instant before
            // rinit runs, when no program can have blocked anything yet.
            let ready = crate::blocks_sigterm(pid.as_raw()) || start.elapsed() > READY_AT_MOST;
            if !termed && ready && start.elapsed() > Duration::from_millis(20) {
                let _ = kill(pid, Signal::SIGTERM);
                termed = true;
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
        // The command's own codes (0, 1, 7), usage (2, or 1 under a peer's name), exec
        // failures (126, 127; 1 or 2 under a peer's name), and 128+N for a signal.
        let documented = [0, 1, 2, 7, 126, 127].contains(&code) || (129..=192).contains(&code);
        if !documented {
            return Err(format!("undocumented exit code {code}"));
        }
        let stderr = std::fs::read(stderr_path).map_err(|e| e.to_string())?;
        let stderr = String::from_utf8_lossy(&stderr);
        if stderr.contains("internal error") {
            return Err(format!("internal error: {stderr}"));
        }
        for line in stderr.lines() {
            let known = LINE_STARTS.iter().any(|start| line.starts_with(start))
                || line.contains(": invalid option -- '")
                || line.contains(": unrecognized option '");
            if !known {
                return Err(format!("not a line of rinit's or a peer's: {line:?}"));
            }
            if line.chars().any(char::is_control) {
                return Err(format!("raw control character in: {line:?}"));
            }
        }
        Ok(())
    }
}

/// How long a case waits for rinit to show SIGTERM blocked before it sends SIGTERM anyway.
const READY_AT_MOST: Duration = Duration::from_millis(300);

pub fn run(seed: u64, cases: usize, dir: &str) -> i32 {
    let mut rng = Rng(seed | 1);
    let stderr_path = format!("{dir}/fuzz-stderr");
    for number in 0..cases {
        let case = Case::random(&mut rng);
        if let Err(problem) = case.check(dir, &stderr_path) {
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
