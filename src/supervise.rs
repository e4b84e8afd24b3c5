//! The signal loop: rinit sleeps in one blocking wait until a signal arrives, forwards it or
//! reaps, and walks the shutdown steps once the child is gone or was told to stop.

use crate::log::{DEBUG, INFO};
use crate::reap;
use crate::say;
use crate::settings::Settings;
use crate::shutdown::{self, Scope};
use crate::signals::{self, Mask};
use crate::spawn::Child;
use crate::sys;
use alloc::format;
use alloc::string::String;
use core::time::Duration;

pub struct Supervisor<'a> {
    settings: &'a Settings,
    /// The command's pid; `None` in pause mode.
    main: Option<i32>,
    /// The command's exit code once reaped (0 in pause mode once told to stop).
    status: Option<u8>,
    children_left: bool,
    scope: Scope,
    /// When the grace period started (first SIGTERM/SIGINT, or the command's exit), on the
    /// monotonic clock.
    grace_started: Option<Duration>,
    grace_over: bool,
    rest_terminated: bool,
    /// Signals to drop once: the kernel's SIGHUP/SIGCONT from the terminal hand-over.
    ignore_once: Mask,
}

impl<'a> Supervisor<'a> {
    pub fn new(settings: &'a Settings, child: Option<Child>) -> Self {
        Supervisor {
            settings,
            main: child.as_ref().map(|c| c.pid),
            ignore_once: child.map_or(Mask::NONE, |c| c.ignore_once),
            status: None,
            children_left: true,
            scope: Scope::current(),
            grace_started: None,
            grace_over: false,
            rest_terminated: false,
        }
    }

    /// Runs until the command and everyone rinit waits for are gone; returns the exit code.
    pub fn run(mut self) -> u8 {
        let listened = Mask::asynchronous();
        loop {
            let deadline = self
                .grace_started
                .filter(|_| !self.grace_over)
                .map(|start| start + self.settings.grace);
            let timeout = deadline.map(|d| d.saturating_sub(sys::now()));
            match signals::wait(listened, timeout) {
                Some(libc::SIGCHLD) => {
                    self.children_left = reap::reap(self.settings, self.main, &mut self.status)
                }
                Some(signal) => self.on_signal(signal),
                None => {}
            }
            if deadline.is_some_and(|d| sys::now() >= d) {
                self.grace_over = true;
            }
            if let Some(code) = self.step() {
                return self.settings.exit_code(code);
            }
        }
    }

    fn on_signal(&mut self, received: i32) {
        let settings = self.settings;
        let signal = settings.rewritten(received);
        say!(settings, INFO, "received {}", signals::name(received));
        if self.ignore_once.contains(received) {
            self.ignore_once = self.ignore_once.without(received);
            say!(
                settings,
                DEBUG,
                "dropped {}: sent by the terminal hand-over",
                signals::name(received)
            );
            return;
        }
        let stopping = matches!(signal, libc::SIGTERM | libc::SIGINT);
        if settings.pause {
            if stopping && self.status.is_none() {
                self.status = Some(0);
                self.children_left = reap::reap(settings, None, &mut None);
            }
            return;
        }
        if signal == 0 {
            say!(
                settings,
                DEBUG,
                "dropped {} (rewritten to 0)",
                signals::name(received)
            );
            return;
        }
        match self.main.filter(|_| self.status.is_none()) {
            Some(child) => {
                let target = settings.target(child);
                let _ = signals::send(target, signal);
                say!(
                    settings,
                    INFO,
                    "forwarded {} to {}",
                    signals::name(signal),
                    describe(target)
                );
            }
            // The command is gone: a second SIGTERM in the grace period goes to everyone left.
            None => drop(self.scope.signal(signal)),
        }
        if settings.stop_with_child
            && matches!(received, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
        {
            // dumb-init's job control: the child was stopped, so rinit stops too until SIGCONT.
            let _ = signals::send(sys::pid(), libc::SIGSTOP);
        }
        if stopping && !settings.grace.is_zero() && self.grace_started.is_none() {
            self.grace_started = Some(sys::now());
        }
    }

    /// What follows from the state after each wake-up; `Some(code)` when rinit should exit.
    fn step(&mut self) -> Option<u8> {
        let settings = self.settings;
        let Some(code) = self.status else {
            if let (true, Some(child)) = (self.grace_over, self.main) {
                say!(
                    settings,
                    INFO,
                    "child {child} still running after the grace period: SIGKILL"
                );
                let _ = signals::send(settings.target(child), libc::SIGKILL);
            }
            return None;
        };
        if settings.grace.is_zero() {
            if let (true, Some(child)) = (settings.term_group_on_exit, self.main) {
                let _ = signals::send(-child, libc::SIGTERM);
            }
            return Some(code);
        }
        if !self.children_left {
            return Some(code);
        }
        if self.grace_over {
            shutdown::kill_rest(settings, self.scope, self.grace_started);
            return Some(code);
        }
        if !self.rest_terminated {
            self.rest_terminated = true;
            self.grace_started.get_or_insert_with(sys::now);
            shutdown::terminate_rest(settings, self.scope);
        }
        None
    }
}

fn describe(target: i32) -> String {
    if target < 0 {
        format!("process group {}", -target)
    } else {
        format!("process {target}")
    }
}
