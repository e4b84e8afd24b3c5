//! Shutdown: every process rinit is responsible for gets SIGTERM (and SIGCONT, so a stopped one
//! can act on it), time to finish, then SIGKILL. As PID 1 that is the whole PID namespace; as a
//! subreaper it is exactly rinit's descendants, never `kill(-1)`, which would reach every
//! process of the user on the host.

use crate::log::INFO;
use crate::reap;
use crate::say;
use crate::settings::Settings;
use crate::signals::{self, Mask};
use crate::sys;
use alloc::format;
use alloc::vec::Vec;
use core::time::Duration;

/// Who "everyone left" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// rinit is PID 1: everything else in the namespace.
    Namespace,
    /// rinit is not PID 1: its own descendants, found through /proc.
    Descendants,
}

impl Scope {
    pub fn current() -> Self {
        if sys::pid() == 1 {
            Scope::Namespace
        } else {
            Scope::Descendants
        }
    }

    /// Sends `signal` to everyone left; returns who was there, for the log.
    pub fn signal(self, signal: i32) -> Vec<i32> {
        let own = sys::pid();
        let targets = match self {
            Scope::Namespace => others(own),
            Scope::Descendants => descendants(own),
        };
        match self {
            // One kill(-1) reaches processes the /proc listing missed, even ones forked meanwhile.
            Scope::Namespace => drop(signals::send(-1, signal)),
            Scope::Descendants => {
                for pid in &targets {
                    let _ = signals::send(*pid, signal);
                }
            }
        }
        targets
    }
}

/// SIGTERM and SIGCONT to everyone left.
pub fn terminate_rest(settings: &Settings, scope: Scope) {
    let pids = scope.signal(libc::SIGTERM);
    scope.signal(libc::SIGCONT);
    say!(
        settings,
        INFO,
        "sent SIGTERM to the processes left: {pids:?}"
    );
}

/// SIGKILL to everyone left, repeated until no child is left to reap (a process may fork, or an
/// orphan be re-parented to rinit, while this runs). `since` is when the grace period began.
pub fn kill_rest(settings: &Settings, scope: Scope, since: Option<Duration>) {
    let waited = since.map_or(Duration::ZERO, |start| sys::now().saturating_sub(start));
    let mut unused = None;
    loop {
        let pids = scope.signal(libc::SIGKILL);
        if !pids.is_empty() {
            say!(
                settings,
                INFO,
                "sent SIGKILL after {} ms to {pids:?}",
                waited.as_millis()
            );
        }
        if !reap::reap(settings, None, &mut unused) {
            return;
        }
        // A killed process is gone within moments; wake on its SIGCHLD, or look again soon.
        signals::wait(Mask::of(&[libc::SIGCHLD]), Some(Duration::from_millis(20)));
    }
}

/// Every pid in /proc but rinit's own.
fn others(own: i32) -> Vec<i32> {
    let mut pids = sys::processes();
    pids.retain(|pid| *pid != own);
    pids
}

/// rinit's descendants: children, their children, and so on, whatever session or group.
fn descendants(own: i32) -> Vec<i32> {
    let table = parents();
    let mut found = alloc::vec![own];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            table
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// (pid, parent pid) of every process /proc shows.
fn parents() -> Vec<(i32, i32)> {
    sys::processes()
        .into_iter()
        .filter_map(|pid| {
            let stat = sys::read_file(&format!("/proc/{pid}/stat"))?;
            // The command name in parentheses may hold spaces and ')': read after the last one.
            let after_name = &stat[stat.iter().rposition(|b| *b == b')')? + 1..];
            let parent = core::str::from_utf8(after_name)
                .ok()?
                .split_whitespace()
                .nth(1)?;
            Some((pid, parent.parse().ok()?))
        })
        .collect()
}
