//! Shutdown's reach: who "every process left" is, how they are signalled, and how rinit waits
//! for those that send it no SIGCHLD.
//!
//! As PID 1 it is the whole PID namespace: listed in /proc and signalled pid by pid, so that
//! rinit knows exactly whom it told (`kill(-1)`, which reaches all of it at once, serves for
//! SIGKILL and where /proc cannot list the namespace), and processes that are not rinit's
//! children (a shell entered with `docker exec` or `nsenter`) are waited for through pidfds. As a subreaper it is exactly rinit's descendants, found through /proc and signalled
//! through pidfds, never `kill(-1)`, which would reach every process of the user on the host,
//! and the other processes of its container's own cgroup ([`crate::cgroup`]): a shell entered
//! into a pod whose PID namespace is shared.
//! /proc is trusted only when it is this namespace's; without it rinit reaches what it can
//! name by itself: the command and its process group.

use crate::cgroup::Cgroup;
use crate::log::{Pids, INFO, WARN};
use crate::say;
use crate::settings::{Session, Settings};
use crate::signals;
use crate::sys::{self, Errno, Process};
use crate::text;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

/// How often rinit checks again for processes left that it can neither wait for through a
/// pidfd nor be told of by SIGCHLD (no usable /proc, or no pidfds).
pub const RECHECK: Duration = Duration::from_millis(RECHECK_MS);
const RECHECK_MS: u64 = 250;

/// Who "everyone left" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// rinit is PID 1: everything else in the namespace.
    Namespace,
    /// rinit is not PID 1: its own descendants.
    Descendants,
}

/// Everyone left, as rinit reaches and waits for them during the shutdown.
pub struct Rest {
    scope: Scope,
    own: i32,
    /// The command's pid; its process group has the same id unless it shares rinit's.
    command: Option<i32>,
    own_group: bool,
    /// `None` until first needed; then why /proc cannot list this namespace, if it cannot.
    proc: Option<Option<&'static str>>,
    /// Whether pidfds work here, once known: `Err` with why not (ENOSYS before Linux 5.3, or
    /// refused by a seccomp filter).
    pidfds: Option<Result<(), Errno>>,
    /// PID 1 only: pidfds of processes left that are not rinit's children, by pid.
    watched: Vec<(i32, OwnedFd)>,
    /// The processes the shutdown's SIGTERM reached or spared, by pid and start time (a pid
    /// reused since is a new process), so that one that comes later is told once, and nobody
    /// twice.
    told: Vec<(i32, u64)>,
    /// Processes are left that only a periodic check can see go.
    recheck: bool,
    /// That has been said, for the state it was said in: once per change, not every look.
    said_recheck: bool,
    /// pidfd_send_signal was refused and descendants are signalled by pid (said once).
    send_refused: bool,
    /// The members of the command's process group when a SIGTERM was sent to it, by pid and
    /// start time: they got it; one started since (a saver's helper) did not.
    group_told: Vec<(i32, u64)>,
    /// Not PID 1: the container's own cgroup, as decided when rinit started, whose processes
    /// that are not rinit's descendants (entered with `podman exec` into a shared PID
    /// namespace) the shutdown reaches too; or why there is none. `None` as PID 1.
    cgroup: Option<Result<Cgroup, String>>,
    /// That has been said (once, at -v).
    said_cgroup: bool,
}

impl Rest {
    pub fn new(
        settings: &Settings,
        command: Option<i32>,
        cgroup: Option<Result<Cgroup, String>>,
    ) -> Self {
        let own = sys::pid();
        Rest {
            scope: match own {
                1 => Scope::Namespace,
                _ => Scope::Descendants,
            },
            own,
            command,
            own_group: settings.session != Session::Inherit,
            proc: None,
            pidfds: None,
            watched: Vec::new(),
            told: Vec::new(),
            recheck: false,
            said_recheck: false,
            send_refused: false,
            group_told: Vec::new(),
            cgroup,
            said_cgroup: false,
        }
    }

    /// A SIGTERM is about to go to process group `group` (the command's): its members, as
    /// /proc lists them now, will have got it. Listed before the send, so that one forked
    /// after it is never counted; one forked in between (microseconds) may get a second
    /// SIGTERM later, which costs at worst a hurried save, where a missed one costs work.
    pub fn group_gets_sigterm(&mut self, group: i32) {
        for p in table().into_iter().filter(|p| p.group == group) {
            if !self.group_told.contains(&(p.pid, p.start)) {
                self.group_told.push((p.pid, p.start));
            }
        }
    }

    /// Whether `p` was in the command's group when a SIGTERM was sent to it.
    fn got_group_sigterm(&self, p: &Process) -> bool {
        self.group_told.contains(&(p.pid, p.start))
    }

    /// Sends each of `signals`, in order, to everyone left; the members of process group
    /// `spare` (the command's group, which the forwarded SIGTERM already reached) get only the
    /// last of them, SIGCONT, so that a stopped one can act on the SIGTERM it holds.
    /// `command_running`: the command is still unreaped (its pid cannot have been reused);
    /// `children_left`: waitpid saw a child still running. Returns the pids reached, for the
    /// log.
    pub fn signal(
        &mut self,
        settings: &Settings,
        signals: &[i32],
        spare: Option<i32>,
        command_running: bool,
        children_left: bool,
    ) -> Vec<i32> {
        let send_all = |target: i32| each(signals, |s| signals::send(target, s).is_ok());
        let wake = |target: i32| signals::send(target, libc::SIGCONT).is_ok();
        if self.scope == Scope::Namespace {
            if !anyone_else() {
                return Vec::new();
            }
            if !self.proc_usable(settings) {
                if spare.is_some() {
                    say!(
                        settings,
                        INFO,
                        "without /proc the command's process group cannot be told apart: \
                         it hears SIGTERM again"
                    );
                }
                send_all(-1);
                return Vec::new();
            }
            let live = self.live();
            if signals.contains(&libc::SIGKILL) {
                // kill(-1) reaches every process of the namespace but rinit, even those forked
                // since the listing, and never leaves it.
                send_all(-1);
                return live.iter().map(|p| p.pid).collect();
            }
            // One by one, and exactly those listed: then `told` holds who got it, and a
            // process that enters or is forked meanwhile is seen by the next look, never
            // told twice (kill(-1) would reach it unrecorded).
            let mut reached = Vec::new();
            for p in &live {
                let in_group = spare == Some(p.group);
                // The group as it was when told: one that left it since (setsid in its
                // handler) got that SIGTERM all the same.
                let got_it = spare.is_some() && self.got_group_sigterm(p);
                // A member of the spared group that started after its SIGTERM is its parent's
                // to stop while that parent lives (a saver's helper); left to rinit, nobody
                // else will: it is told now, or by a later look once it is re-parented.
                if in_group && !got_it && p.parent != self.own {
                    _ = wake(p.pid);
                    continue;
                }
                if !self.told.contains(&(p.pid, p.start)) {
                    self.told.push((p.pid, p.start));
                }
                match got_it {
                    true => _ = wake(p.pid),
                    false if send_all(p.pid) => reached.push(p.pid),
                    false => {}
                }
            }
            return reached;
        }
        // With no child left, a subreaper has no descendant left: nothing to look for but
        // the rest of its container.
        if !children_left && self.cgroup(settings).is_none() {
            return Vec::new();
        }
        if self.proc_usable(settings) {
            return self.signal_descendants(settings, signals, spare);
        }
        let mut reached = Vec::new();
        if let Some(command) = self.command {
            if command_running && send_all(command) {
                reached.push(command);
            }
            // The group's id stays reserved while any member is left.
            if self.own_group && spare == Some(command) {
                _ = wake(-command);
            } else if self.own_group && send_all(-command) {
                reached.push(-command);
            }
        }
        reached
    }

    /// After reaping, while draining or killing: whether anyone rinit waits for is left.
    /// `children_left`: waitpid saw a child still running. `draining`: processes that entered
    /// the namespace since the SIGTERM get it now, once.
    pub fn left(&mut self, settings: &Settings, children_left: bool, draining: bool) -> bool {
        self.recheck = false;
        // An exited process's pidfd stays readable: one kept would end every wait at once.
        self.watched.retain(|(_, pidfd)| !exited(pidfd));
        // A subreaper's descendants all become its children as their parents die: with no
        // child left, none is left. PID 1 waits for its children the same way.
        if self.scope == Scope::Descendants {
            let cgroup = self.cgroup(settings).is_some();
            if !(cgroup || draining && children_left) || !self.proc_usable(settings) {
                return children_left;
            }
            let live = self.live();
            let entered = self.entered(settings, &live);
            // A process its parent left to rinit (a saver's helper, once the saver is done)
            // becomes rinit's child without a word, and one can enter the container at any
            // time: while draining, look every RECHECK.
            if draining {
                self.tell_arrivals(settings, &live, &entered);
            }
            let left = children_left || self.watch(settings, &entered);
            self.recheck |= draining && left;
            return left;
        }
        if !anyone_else() {
            return false;
        }
        if !self.proc_usable(settings) {
            if children_left {
                return true;
            }
            // Nobody can be named without /proc: look again every RECHECK while any is left.
            self.recheck = true;
            if !core::mem::replace(&mut self.said_recheck, true) {
                say!(
                    settings,
                    INFO,
                    "processes left that are not rinit's children; checking every ",
                    RECHECK_MS,
                    " ms"
                );
            }
            return true;
        }
        if children_left && !draining {
            return true;
        }
        let live = self.live();
        if draining {
            self.tell_arrivals(settings, &live, &[]);
            // Nothing tells an init that a process entered its namespace (setns sends no
            // signal): while draining, look again every RECHECK.
            self.recheck = true;
        }
        if children_left {
            return true;
        }
        // PID 1: processes entered into the namespace from outside (setns) have their parent
        // outside it; they send rinit no SIGCHLD.
        self.watch(settings, &live)
    }

    /// Watches each of `processes` (none of them rinit's children) through a pidfd, or, where
    /// pidfds are refused, by looking again every RECHECK; whether any is left.
    fn watch(&mut self, settings: &Settings, processes: &[Process]) -> bool {
        let mut new = Vec::new();
        for p in processes {
            if self.watched.iter().any(|(pid, _)| *pid == p.pid) {
                continue;
            }
            match sys::pidfd_open(p.pid) {
                // The pidfd names the process listed only if that one still has the pid.
                Ok(_) if !same(p) => {}
                Ok(pidfd) => {
                    self.watched.push((p.pid, pidfd));
                    new.push(p.pid);
                }
                Err(Errno::ESRCH) => {} // gone since the listing
                Err(errno) => {
                    self.say_pidfds(settings, Err(errno));
                    self.recheck = true;
                }
            }
        }
        if !new.is_empty() {
            say!(
                settings,
                INFO,
                "waiting for processes that are not rinit's children: ",
                Pids(&new),
                " (through pidfds)"
            );
        }
        waits(self.watched.len(), self.recheck)
    }

    /// Descriptors to wait on besides the signals: pidfds of processes left that are not
    /// rinit's children.
    pub fn watched(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.watched.iter().map(|(_, pidfd)| pidfd.as_fd())
    }

    /// How soon to look again without an event, when something left cannot be waited for.
    pub fn recheck(&self) -> Option<Duration> {
        self.recheck.then_some(RECHECK)
    }

    /// PID 1 while draining: SIGTERM and SIGCONT, once, to each process that came since the
    /// shutdown's SIGTERM with nobody in the namespace to stop it: one that entered the
    /// namespace (`docker exec`, `nsenter`: its parent is outside, which /proc shows as 0), and
    /// one re-parented to rinit (its parent exited: an arrival's child, or a child forked just
    /// before its parent got SIGTERM). A process with a live parent in the namespace is its
    /// parent's to stop, and is left alone. As a subreaper, only the second kind: rinit's
    /// children it has not told (a process whose parent is outside is not rinit's), and the
    /// processes of its container's cgroup that are not its descendants (`entered`) whose
    /// parent is not in the container either.
    fn tell_arrivals(&mut self, settings: &Settings, live: &[Process], entered: &[Process]) {
        // A process no longer listed has exited: one that takes its pid later is a new one.
        self.told
            .retain(|told| live.iter().any(|p| (p.pid, p.start) == *told));
        let mut arrived = Vec::new();
        // An entered process's parent in the container can only be another entered one (were
        // it rinit or a descendant, so would the process be).
        let is_entered = |pid: i32| entered.iter().any(|e| e.pid == pid);
        let entered_alone = |p: &Process| is_entered(p.pid) && !is_entered(p.parent);
        for p in live {
            let nobody_else = p.parent == self.own
                || (self.scope == Scope::Namespace && p.parent == 0)
                || entered_alone(p);
            if nobody_else && !self.told.contains(&(p.pid, p.start)) {
                self.told.push((p.pid, p.start));
                if each(&[libc::SIGTERM, libc::SIGCONT], |s| {
                    signals::send(p.pid, s).is_ok()
                }) {
                    arrived.push(p.pid);
                }
            }
        }
        if !arrived.is_empty() {
            say!(
                settings,
                INFO,
                "sent SIGTERM to processes that came since, with nobody else to stop them: \
                 ",
                Pids(&arrived)
            );
        }
    }

    /// Every live process /proc shows but rinit (PID 1 with a usable /proc: the namespace's).
    fn live(&self) -> Vec<Process> {
        table()
            .into_iter()
            .filter(|p| p.pid != self.own && !p.zombie)
            .collect()
    }

    /// Not PID 1: the container's own cgroup, if rinit's is; what was found is said once.
    /// As PID 1 /proc already lists the whole container, and more than its cgroup: none.
    fn cgroup(&mut self, settings: &Settings) -> Option<&Cgroup> {
        let found = self.cgroup.as_ref()?;
        if !core::mem::replace(&mut self.said_cgroup, true) {
            match found {
                Ok(cgroup) => say!(
                    settings,
                    INFO,
                    "the shutdown also reaches the rest of this container's cgroup (",
                    cgroup.dir(),
                    ")"
                ),
                Err(why) => say!(
                    settings,
                    INFO,
                    "the shutdown reaches rinit's descendants only: ",
                    why
                ),
            }
        }
        found.as_ref().ok()
    }

    /// The processes of `live` in the container's cgroup that are neither rinit nor its
    /// descendants, and that rinit may signal (none without that cgroup): one it may not (a
    /// root `podman exec` shell beside a non-root rinit) would never hear its SIGTERM, and
    /// waiting for it would only hold the container up.
    fn entered(&mut self, settings: &Settings, live: &[Process]) -> Vec<Process> {
        let Some(members) = self.cgroup(settings).map(Cgroup::processes) else {
            return Vec::new();
        };
        let ours = descendants(self.own, live);
        live.iter()
            .filter(|p| p.pid != self.own && members.contains(&p.pid) && !ours.contains(&p.pid))
            // Signal 0 only checks the permission.
            .filter(|p| signals::send(p.pid, 0).is_ok())
            .copied()
            .collect()
    }

    /// Checks /proc once, and says so once if it cannot be used.
    fn proc_usable(&mut self, settings: &Settings) -> bool {
        let problem = *self.proc.get_or_insert_with(|| {
            // As PID 1, a listing that may miss processes must not decide who gets SIGTERM:
            // kill(-1) reaches them all. A subreaper reaches what it can see, as before.
            let hidden = self.scope == Scope::Namespace && sys::proc_hides_processes();
            let problem = sys::proc_unusable()
                .or(hidden.then_some("/proc is mounted with hidepid and may hide processes"));
            if let Some(problem) = problem {
                match self.scope {
                    Scope::Namespace => say!(
                        settings,
                        INFO,
                        problem,
                        ": the processes left are reached with kill(-1) and checked \
                         every ",
                        RECHECK_MS,
                        " ms"
                    ),
                    Scope::Descendants => say!(
                        settings,
                        WARN,
                        problem,
                        ": the shutdown reaches only the command and its process group"
                    ),
                }
            }
            problem
        });
        problem.is_none()
    }

    /// Signals rinit's descendants, but the members of group `spare`, through pidfds, each
    /// checked after opening to still descend from rinit, so that a pid reused since the
    /// listing is never signalled. Where pidfds are refused, by pid, checked just before.
    fn signal_descendants(
        &mut self,
        settings: &Settings,
        signals: &[i32],
        spare: Option<i32>,
    ) -> Vec<i32> {
        let table = table();
        let found = descendants(self.own, &table);
        let live: Vec<Process> = table.iter().filter(|p| !p.zombie).copied().collect();
        let entered: Vec<i32> = self
            .entered(settings, &live)
            .iter()
            .map(|p| p.pid)
            .collect();
        let own = self.own;
        // A descendant is checked to still descend from rinit, an entered process to still be
        // the one listed.
        let still_ours = |p: &Process| match entered.contains(&p.pid) {
            true => same(p),
            false => sys::process(p.pid)
                .is_some_and(|now| now.parent == own || found.contains(&now.parent)),
        };
        let mut reached = Vec::new();
        let mut refused = None;
        for p in table
            .iter()
            .filter(|p| found.contains(&p.pid) || entered.contains(&p.pid))
        {
            // As for PID 1: a member started since the group's SIGTERM and left to rinit is
            // told now.
            let got_it = spare.is_some() && self.got_group_sigterm(p);
            let spared = got_it || (spare == Some(p.group) && p.parent != self.own);
            // Told now or by the group's SIGTERM; a helper whose parent lives is not, and is
            // told once that parent has left it to rinit.
            if (!spared || got_it) && !self.told.contains(&(p.pid, p.start)) {
                self.told.push((p.pid, p.start));
            }
            let signals = match spared {
                true => &[libc::SIGCONT][..],
                false => signals,
            };
            let sent = match sys::pidfd_open(p.pid) {
                Ok(pidfd) => {
                    self.say_pidfds(settings, Ok(()));
                    // A live process keeps its pid: if the one at this pid still descends from
                    // rinit, it is the pidfd's; if the pidfd's has died, the send fails.
                    still_ours(p)
                        && each(signals, |s| match sys::pidfd_send_signal(&pidfd, s) {
                            Ok(()) => true,
                            Err(Errno::ESRCH) => false, // exited since
                            // Refused (a seccomp filter, Linux < 5.1): by pid, as checked.
                            // Refused by pid too, it was a plain permission problem, not the
                            // call (a non-root rinit and a setuid descendant).
                            Err(errno) => {
                                let sent = signals::send(p.pid, s).is_ok();
                                if sent {
                                    refused = Some(errno);
                                }
                                sent
                            }
                        })
                }
                Err(Errno::ESRCH) => false, // gone since the listing
                Err(errno) => {
                    self.say_pidfds(settings, Err(errno));
                    still_ours(p) && each(signals, |s| signals::send(p.pid, s).is_ok())
                }
            };
            if sent && !spared {
                reached.push(p.pid);
            }
        }
        if let Some(errno) = refused.filter(|_| !self.send_refused) {
            self.send_refused = true;
            say!(
                settings,
                INFO,
                "pidfd_send_signal ",
                refusal(errno),
                ": signalling descendants by pid, each checked in /proc \
                 just before"
            );
        }
        reached
    }

    /// Says once how processes that are not rinit's children are reached and waited for.
    fn say_pidfds(&mut self, settings: &Settings, available: Result<(), Errno>) {
        if self.pidfds.replace(available).is_some() {
            return;
        }
        let why: String = match available {
            Ok(()) => {
                say!(settings, INFO, "signalling through pidfds");
                return;
            }
            Err(Errno::ENOSYS) => "no pidfds (Linux < 5.3)".into(),
            Err(errno) => text!("pidfd_open ", refusal(errno)),
        };
        match self.scope {
            Scope::Namespace => say!(
                settings,
                INFO,
                why,
                ": processes that are not rinit's children are checked every ",
                RECHECK_MS,
                " ms"
            ),
            Scope::Descendants => say!(
                settings,
                INFO,
                why,
                ": signalling descendants by pid, each checked in /proc just before"
            ),
        }
    }
}

/// How a pidfd call's failure reads: a refusal names the likely cause, a shortage (EMFILE,
/// ENFILE, ENOMEM) is only what it is.
fn refusal(errno: Errno) -> String {
    match errno.0 {
        libc::EPERM | libc::EACCES | libc::ENOSYS => {
            text!("refused (", errno, "; a seccomp filter?)")
        }
        _ => text!("failed (", errno, ")"),
    }
}

/// PID 1: whether any other process is in the namespace (kill(-1, 0) checks every process of
/// the namespace but rinit: ESRCH when there is none).
fn anyone_else() -> bool {
    rustix::process::test_kill_process_group(rustix::process::Pid::INIT)
        != Err(rustix::io::Errno::SRCH)
}

/// Calls `send` for every signal, in order, none skipped; whether any was sent.
fn each(signals: &[i32], mut send: impl FnMut(i32) -> bool) -> bool {
    let mut sent = false;
    for signal in signals {
        sent |= send(*signal);
    }
    sent
}

/// Whether the process behind `pidfd` has exited (its pidfd polls readable).
fn exited(pidfd: &OwnedFd) -> bool {
    sys::poll_readable(&[pidfd.as_fd()], Some(Duration::ZERO))[0]
}

/// Every process /proc shows.
fn table() -> Vec<Process> {
    sys::processes()
        .into_iter()
        .filter_map(sys::process)
        .collect()
}

/// `own`'s descendants in `table`: children, their children, and so on, whatever session or
/// group, live or not.
fn descendants(own: i32, table: &[Process]) -> Vec<i32> {
    let mut found = alloc::vec![own];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(table.iter().filter(|p| p.parent == parent).map(|p| p.pid));
        next += 1;
    }
    found.remove(0);
    found
}

/// Whether the process at `p`'s pid is still `p` (a later one has a later start time).
fn same(p: &Process) -> bool {
    sys::process(p.pid).is_some_and(|now| now.start == p.start)
}

/// Whether rinit waits on: any process left that is not its child, watched through a pidfd
/// (in the drain and after its SIGKILL alike: one killed may still be exiting), or any it must
/// look for again.
fn waits(watched: usize, recheck: bool) -> bool {
    watched > 0 || recheck
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, parent: i32) -> Process {
        Process {
            pid,
            parent,
            group: pid,
            zombie: false,
            start: 0,
        }
    }

    #[test]
    fn descendants_follow_parents_at_any_depth_and_nothing_else() {
        let table = [p(1, 0), p(10, 1), p(20, 10), p(21, 10), p(30, 21), p(40, 1)];
        assert_eq!(descendants(10, &table), [20, 21, 30]);
        assert_eq!(descendants(40, &table), Vec::<i32>::new());
    }

    #[test]
    fn one_watched_process_left_is_waited_for() {
        assert!(waits(1, false));
        assert!(waits(0, true));
        assert!(!waits(0, false));
    }

    #[test]
    fn a_refusal_names_a_filter_and_a_shortage_does_not() {
        assert_eq!(
            refusal(Errno(libc::EPERM)),
            "refused (operation not permitted; a seccomp filter?)"
        );
        assert_eq!(refusal(Errno(libc::EMFILE)), "failed (too many open files)");
    }
}
