//! The signal loop: rinit sleeps in one blocking wait (its signals, and while shutting down the
//! pidfds of processes that are not its children) with no timeout unless a deadline runs. Each
//! wake-up reaps, turns what happened into events for [`phases::Machine`], and carries out the
//! actions it returns. All decisions are the machine's; all syscalls are here.

use crate::cgroup::{Cgroup, Memory};
use crate::log::{Pids, Span, INFO};
use crate::phases::{Action, Event, Machine, Phase};
use crate::reap;
use crate::say;
use crate::settings::Settings;
use crate::shutdown::Rest;
use crate::signals::{self, Listener, Sender};
use crate::sys;
use crate::text;
use crate::voice::{self, Note};
use alloc::string::String;
use alloc::vec::Vec;

pub struct Supervisor<'a> {
    settings: &'a Settings,
    /// The command's pid; `None` in pause mode.
    main: Option<i32>,
    machine: Machine,
    rest: Rest,
    signals: Listener,
    /// What the last reaping saw: a child still running.
    children_left: bool,
    /// rinit's own pid, to tell the signals it raised on itself.
    own: i32,
    /// The container's OOM kills, read when a process dies of SIGKILL.
    memory: Memory,
}

impl<'a> Supervisor<'a> {
    pub fn new(
        settings: &'a Settings,
        child: Option<crate::spawn::Child>,
        signals: Listener,
        cgroup: Option<Result<Cgroup, String>>,
    ) -> Self {
        let main = child.as_ref().map(|c| c.pid);
        Supervisor {
            settings,
            main,
            machine: Machine::new(
                main.is_some(),
                child.map_or(signals::Mask::NONE, |c| c.ignore_once),
            ),
            memory: Memory::new(cgroup.as_ref().map(Result::is_ok)),
            rest: Rest::new(settings, main, cgroup),
            signals,
            children_left: true,
            own: sys::pid(),
        }
    }

    /// Runs until the command and everyone rinit waits for are gone; returns the exit code.
    pub fn run(mut self) -> u8 {
        // The first pass reaps before it waits: a child that died before rinit blocked SIGCHLD
        // (an orphan of whoever exec'd rinit as PID 1) sent a SIGCHLD the kernel discarded, as
        // it discards every signal to an init without a handler, so none would wake rinit.
        let mut first = true;
        loop {
            let mut events = Vec::new();
            let received = match core::mem::take(&mut first) {
                true => None,
                false => self.wait(),
            };
            if let Some(received) = received {
                let (signal, sender) = (received.signal, received.sender);
                voice::say(self.settings, Note::Received { signal, sender });
                // SIGCHLD only says "reap": one can stand for many exits, so reaping below
                // collects them all whatever woke rinit. A failed write raises SIGPIPE or
                // SIGXFSZ on the writer: rinit itself.
                match (signal, sender == Sender::Process(self.own)) {
                    (libc::SIGCHLD, _) => {}
                    (_, true) => events.push(Event::Raised(signal)),
                    (_, false) => events.push(Event::Signal(signal)),
                }
            }
            let mut status = None;
            // After rinit's own SIGKILL, a death by SIGKILL is rinit's doing.
            let memory = match self.machine.phase() {
                Phase::Killing => None,
                _ => Some(&mut self.memory),
            };
            self.children_left = reap::reap(self.settings, self.main, &mut status, memory);
            events.extend(status.map(Event::Exited));
            for event in events {
                if let Some(code) = self.handle(event) {
                    return code;
                }
            }
            let phase = self.machine.phase();
            if matches!(phase, Phase::Draining | Phase::Killing) {
                let draining = phase == Phase::Draining;
                let left = self.rest.left(self.settings, self.children_left, draining);
                if let Some(code) = self.handle(Event::Left(left)) {
                    return code;
                }
            }
            if self.machine.deadline().is_some_and(|d| sys::now() >= d) {
                if let Some(code) = self.handle(Event::Deadline) {
                    return code;
                }
            }
        }
    }

    /// Sleeps until a signal arrives, a watched process exits, or the deadline (or a recheck)
    /// comes; returns the signal that arrived, if one did. The timeout is computed afresh
    /// each time.
    fn wait(&self) -> Option<signals::Received> {
        let until_deadline = self
            .machine
            .deadline()
            .map(|d| d.saturating_sub(sys::now()));
        let timeout = match (until_deadline, self.rest.recheck()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if timeout.is_none() && self.rest.watched().next().is_none() {
            // Nothing but signals to wait for: one blocking read, as cheap as sigwaitinfo.
            return self.signals.read();
        }
        let mut fds = alloc::vec![self.signals.fd()];
        fds.extend(self.rest.watched());
        match sys::poll_readable(&fds, timeout)[0] {
            true => self.signals.read(),
            false => None,
        }
    }

    /// Feeds one event to the machine and carries out its actions; `Some(code)` to exit.
    fn handle(&mut self, event: Event) -> Option<u8> {
        let before = self.machine.phase();
        let actions = self.machine.handle(self.settings, event, sys::now());
        let running = self.machine.running();
        for action in actions {
            if let Some(code) = self.act(action, before, running) {
                return Some(self.settings.exit_code(code));
            }
        }
        None
    }

    fn act(&mut self, action: Action, phase: Phase, command_running: bool) -> Option<u8> {
        let settings = self.settings;
        match action {
            Action::Forward { signal, received } => {
                if let Some(child) = self.main {
                    let target = settings.target(child);
                    if signal == libc::SIGTERM && target < 0 {
                        self.rest.group_gets_sigterm(child);
                    }
                    let _ = signals::send(target, signal);
                    let note = Note::Forwarded {
                        signal,
                        received,
                        target,
                    };
                    voice::say(settings, note);
                }
            }
            Action::Drop { received, why } => voice::say(settings, Note::Dropped { received, why }),
            Action::Hold { received, delay } => {
                let until = match delay {
                    core::time::Duration::MAX => "until a second one or the command's exit".into(),
                    delay => text!("for ", Span(delay)),
                };
                say!(
                    settings,
                    INFO,
                    "holding ",
                    signals::name(received),
                    " ",
                    until,
                    " (--stop-delay): the command keeps running"
                )
            }
            Action::Terminate {
                signal,
                spare_group,
            } => {
                let spare = self.main.filter(|_| spare_group);
                let pids = self.rest.signal(
                    settings,
                    &[signal, libc::SIGCONT],
                    spare,
                    false,
                    self.children_left,
                );
                if !pids.is_empty() {
                    say!(
                        settings,
                        INFO,
                        "sent ",
                        signals::name(signal),
                        " to the processes left",
                        match spare {
                            Some(_) => " but the command's group, which the stop reached",
                            None => "",
                        },
                        ": ",
                        Pids(&pids)
                    );
                }
            }
            Action::Kill { why } => {
                if command_running && phase != Phase::Killing {
                    say!(
                        settings,
                        INFO,
                        "child ",
                        self.main.unwrap_or(0),
                        " still running when ",
                        why,
                        ": SIGKILL"
                    );
                }
                let pids = self.rest.signal(
                    settings,
                    &[libc::SIGKILL],
                    None,
                    command_running,
                    self.children_left,
                );
                if let (true, Some(child)) = (command_running, self.main) {
                    // Unreaped, so its pid is still its own.
                    let _ = signals::send(child, libc::SIGKILL);
                }
                if !pids.is_empty() && phase != Phase::Killing {
                    say!(settings, INFO, why, ": sent SIGKILL to ", Pids(&pids));
                }
            }
            Action::TermGroup => {
                if let Some(child) = self.main {
                    let _ = signals::send(-child, libc::SIGTERM);
                }
            }
            Action::StopSelf => {
                voice::say(settings, Note::SuspendingSelf);
                let _ = signals::send(sys::pid(), libc::SIGSTOP);
            }
            Action::Exit(code) => {
                voice::say(settings, Note::Exiting { code });
                return Some(code);
            }
        }
        None
    }
}
