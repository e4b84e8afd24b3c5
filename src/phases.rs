//! The supervisor's decisions, apart from their effects. [`Machine::handle`] takes one event
//! (a signal, the command's exit, whether anyone is left, the deadline) and the time, and
//! returns the actions; `supervise` carries them out. No syscalls here: unit tests drive it.
//!
//! The phases of a run, and what ends each:
//! - running: the command runs and gets every signal. A stop signal (`--stop-signal`, SIGTERM
//!   and SIGINT by default, as received or as `-r` rewrites it) leads to stopping; the
//!   command's exit to draining. With `--stop-delay`, the first of the stop signals named
//!   (SIGTERM by default) is held that long before it is forwarded (the command keeps serving
//!   while load balancers drop it); that signal again, or the command's exit, ends the hold.
//!   `--stop-timeout 0` SIGKILLs everything at the first stop signal, forwarding nothing.
//! - stopping: the stop signal was forwarded and the command is finishing. By default rinit sets
//!   no deadline: whoever sent the signal owns it (docker's `stop -t`, Kubernetes'
//!   terminationGracePeriodSeconds). Only `--stop-timeout` sets one, from the first stop signal.
//! - draining: the command has exited; every process left got SIGTERM and SIGCONT once (those
//!   the forwarded stop already reached, the command's process group, are spared), and rinit
//!   waits for them all. After a natural exit (no stop signal) the grace period (default 5 s)
//!   bounds this; a later stop signal hands the deadline to its sender (or `--stop-timeout`).
//! - killing: the deadline passed; everyone left, the command included, got SIGKILL, and rinit
//!   waits at most [`KILL_WAIT`] for them to be reaped.
//!
//! A grace of zero skips draining and killing: rinit exits when the command does, as tini does.

use crate::settings::Settings;
use crate::signals::Mask;
use alloc::vec::Vec;
use core::time::Duration;

/// How long rinit waits after its SIGKILL for the killed to be reaped before it exits anyway:
/// as a subreaper without /proc some may be out of its reach.
pub const KILL_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running,
    Stopping,
    Draining,
    Killing,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A signal as received, before `-r` rewriting (SIGCHLD never: it only makes rinit reap).
    Signal(i32),
    /// A signal rinit raised on itself: the SIGPIPE or SIGXFSZ of a failed write to its
    /// stderr. Never forwarded: the command must not die of rinit's broken log.
    Raised(i32),
    /// The command was reaped with this exit code (128+N for a death by signal N).
    Exited(u8),
    /// While draining or killing, after reaping: whether any process rinit waits for is left.
    Left(bool),
    /// The time [`Machine::deadline`] named has come.
    Deadline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send `signal` (received as `received`) to the command, or to its process group.
    Forward { signal: i32, received: i32 },
    /// `received` is held for `delay` (`--stop-delay`) before it is forwarded; for the log.
    Hold { received: i32, delay: Duration },
    /// The signal goes to nobody; `why` is for the log.
    Drop { received: i32, why: &'static str },
    /// `signal`, then SIGCONT (so a stopped process can act on it), to every process left;
    /// with `spare_group`, the command's process group, which the forwarded SIGTERM already
    /// reached, gets SIGCONT alone (a second SIGTERM reads as "quit now" to many programs).
    Terminate { signal: i32, spare_group: bool },
    /// SIGKILL to every process left, the command included; `why`: which deadline ended.
    Kill { why: &'static str },
    /// dumb-init: SIGTERM to the command's process group as rinit exits.
    TermGroup,
    /// dumb-init's job control: the command was stopped, so rinit stops too until SIGCONT.
    StopSelf,
    /// Exit with this code (before `-e` remapping).
    Exit(u8),
}

/// The supervisor's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    phase: Phase,
    /// The command runs: false in pause mode, and once it is reaped.
    running: bool,
    /// The command's exit code once reaped; 0 in pause mode once told to stop.
    status: Option<u8>,
    /// When rinit's own deadline falls, on the monotonic clock; `None`: it has none.
    deadline: Option<Duration>,
    /// The SIGTERM `--stop-delay` holds, as `(signal to forward, received)`, and when it is
    /// released (`None`: a delay too long for the clock, released only by a second SIGTERM).
    held: Option<(i32, i32)>,
    release_at: Option<Duration>,
    /// The first of the stop signals (SIGTERM by default) has come: `--stop-delay` holds no
    /// other.
    held_seen: bool,
    /// A stop signal has arrived: from then on its sender owns the deadline.
    stop_seen: bool,
    /// A stop signal was forwarded to the command's whole process group.
    stop_reached_group: bool,
    /// Signals to drop once: the kernel's SIGHUP/SIGCONT from dumb-init's terminal hand-over.
    ignore_once: Mask,
}

impl Machine {
    /// `running`: a command was started (false in pause mode).
    pub fn new(running: bool, ignore_once: Mask) -> Self {
        Machine {
            phase: Phase::Running,
            running,
            status: None,
            deadline: None,
            held: None,
            release_at: None,
            held_seen: false,
            stop_seen: false,
            stop_reached_group: false,
            ignore_once,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the command is started and not yet reaped (its pid is still its own).
    pub fn running(&self) -> bool {
        self.running
    }

    /// When rinit next has to act without an event; `None`: it waits for events alone.
    pub fn deadline(&self) -> Option<Duration> {
        match (self.deadline, self.release_at) {
            (Some(deadline), Some(release)) => Some(deadline.min(release)),
            (deadline, release) => deadline.or(release),
        }
    }

    /// The transition: the actions for `event` at time `now`, in order.
    pub fn handle(&mut self, settings: &Settings, event: Event, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Signal(received) => self.on_signal(settings, received, now, &mut actions),
            // The kernel names rinit itself as the sender of the SIGHUP and SIGCONT its own
            // TIOCNOTTY makes it send: they use up the hand-over's mask all the same.
            Event::Raised(received) if self.ignore_once.contains(received) => {
                self.ignore_once = self.ignore_once.without(received);
                actions.push(Action::Drop {
                    received,
                    why: "sent by the terminal hand-over",
                });
            }
            Event::Raised(received) => actions.push(Action::Drop {
                received,
                why: "raised by rinit itself",
            }),
            Event::Exited(code) => {
                self.status = Some(code);
                self.running = false;
                // A held SIGTERM has nobody left to go to.
                (self.held, self.release_at) = (None, None);
                if matches!(self.phase, Phase::Running | Phase::Stopping) {
                    self.command_gone(settings, now, &mut actions);
                }
            }
            Event::Left(left) => match (self.phase, left) {
                (Phase::Draining | Phase::Killing, false) => self.exit(&mut actions),
                // Whatever was forked or re-parented to rinit since the SIGKILL.
                (Phase::Killing, true) => actions.push(Action::Kill {
                    why: "more were left",
                }),
                _ => {}
            },
            Event::Deadline if self.release_at.is_some_and(|at| now >= at) => {
                self.release_at = None;
                if let Some((signal, received)) = self.held.take() {
                    self.forward(settings, signal, received, &mut actions);
                }
                if self.deadline.is_some_and(|at| now >= at) {
                    actions.extend(self.handle(settings, Event::Deadline, now));
                }
            }
            Event::Deadline => match self.phase {
                Phase::Stopping | Phase::Draining => {
                    let why = match self.stop_seen {
                        true => "the stop timeout ended",
                        false => "the grace period ended",
                    };
                    self.kill(now, why, &mut actions);
                }
                Phase::Killing => self.exit(&mut actions),
                Phase::Running | Phase::Done => {}
            },
        }
        actions
    }

    fn on_signal(
        &mut self,
        settings: &Settings,
        received: i32,
        now: Duration,
        actions: &mut Vec<Action>,
    ) {
        if self.ignore_once.contains(received) {
            self.ignore_once = self.ignore_once.without(received);
            actions.push(Action::Drop {
                received,
                why: "sent by the terminal hand-over",
            });
            return;
        }
        let signal = settings.rewritten(received);
        if signal == 0 {
            actions.push(Action::Drop {
                received,
                why: "rewritten to 0",
            });
            return;
        }
        let stop = settings.is_stop(received, signal);
        let first_stop = stop && !self.stop_seen;
        self.stop_seen |= stop;
        // Held as received or as rewritten, as a stop is judged.
        let held = settings
            .held_signal()
            .is_some_and(|h| h == received || h == signal);
        let first_held = held && !self.held_seen;
        self.held_seen |= held;
        let ends = matches!(self.phase, Phase::Killing | Phase::Done);
        if first_stop && settings.stop_timeout == Some(Duration::ZERO) && !ends {
            // `--stop-timeout 0`: SIGKILL at once; forwarding first would let handlers run.
            self.status = self.status.or((!self.running).then_some(0));
            self.kill(now, "the stop timeout ended", actions);
            return;
        }
        match self.phase {
            Phase::Running | Phase::Stopping if self.running => {
                if first_held && !settings.stop_delay.is_zero() {
                    self.held = Some((signal, received));
                    self.release_at = now.checked_add(settings.stop_delay);
                    actions.push(Action::Hold {
                        received,
                        delay: settings.stop_delay,
                    });
                } else {
                    if held && self.held.take().is_some() {
                        // The held signal again ends the hold: this one goes now, in its place.
                        self.release_at = None;
                    }
                    self.forward(settings, signal, received, actions);
                }
                if first_stop {
                    // A stop's deadline counts from its arrival, a hold included.
                    self.phase = Phase::Stopping;
                    self.deadline = stop_deadline(settings, now);
                }
            }
            // Pause mode: no command; a stop signal ends the run.
            Phase::Running if stop => {
                self.status = Some(0);
                self.deadline = stop_deadline(settings, now);
                self.command_gone(settings, now, actions);
            }
            Phase::Running => actions.push(Action::Drop {
                received,
                why: "pause mode runs no command",
            }),
            Phase::Draining if stop => {
                // A new stop request: everyone left hears it, once more, as SIGTERM: the stop
                // signal is the command's (nginx's SIGQUIT would dump a worker's core).
                actions.push(Action::Terminate {
                    signal: libc::SIGTERM,
                    spare_group: false,
                });
                if first_stop {
                    // The grace after a natural exit must not cut short the stop window of
                    // whoever sent this signal.
                    self.deadline = stop_deadline(settings, now);
                }
            }
            _ => actions.push(Action::Drop {
                received,
                why: "the command has exited",
            }),
        }
    }

    /// Forwards `signal` to the command (or its group), with dumb-init's job control.
    fn forward(
        &mut self,
        settings: &Settings,
        signal: i32,
        received: i32,
        actions: &mut Vec<Action>,
    ) {
        actions.push(Action::Forward { signal, received });
        if settings.stop_with_child
            && matches!(received, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU)
        {
            actions.push(Action::StopSelf);
        }
        // Only SIGTERM spares the group later: a shell starts its background jobs with SIGINT
        // ignored, so a forwarded SIGINT may have reached nobody but the command.
        self.stop_reached_group |= signal == libc::SIGTERM && settings.forwards_to_group();
    }

    /// The command has exited (or pause mode was told to stop).
    fn command_gone(&mut self, settings: &Settings, now: Duration, actions: &mut Vec<Action>) {
        if settings.grace.is_zero() {
            if settings.term_group_on_exit {
                actions.push(Action::TermGroup);
            }
            self.exit(actions);
            return;
        }
        actions.push(Action::Terminate {
            signal: libc::SIGTERM,
            spare_group: self.stop_reached_group,
        });
        self.phase = Phase::Draining;
        if !self.stop_seen {
            // A grace too long for the clock is no deadline at all.
            self.deadline = now.checked_add(settings.grace);
        }
        // After a stop signal the deadline stays what the stop set: `--stop-timeout`'s, or none.
    }

    /// SIGKILL to everyone left; then rinit waits at most [`KILL_WAIT`] for them.
    fn kill(&mut self, now: Duration, why: &'static str, actions: &mut Vec<Action>) {
        (self.held, self.release_at) = (None, None);
        actions.push(Action::Kill { why });
        self.phase = Phase::Killing;
        self.deadline = now.checked_add(KILL_WAIT);
    }

    fn exit(&mut self, actions: &mut Vec<Action>) {
        self.phase = Phase::Done;
        self.deadline = None;
        // Reaped or not, a command still there at the end was SIGKILLed.
        actions.push(Action::Exit(
            self.status.unwrap_or(128 + libc::SIGKILL as u8),
        ));
    }
}

/// rinit's own deadline for a stop: only with `--stop-timeout`. A timeout too long for the
/// clock is no deadline at all.
fn stop_deadline(settings: &Settings, now: Duration) -> Option<Duration> {
    settings
        .stop_timeout
        .and_then(|timeout| now.checked_add(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Personality, Settings};
    use libc::{SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGUSR1};
    use Action::*;

    const T0: Duration = Duration::from_secs(100);

    fn rinit() -> Settings {
        Settings::defaults(Personality::Rinit)
    }

    fn with_grace(seconds: u64) -> Settings {
        Settings {
            grace: Duration::from_secs(seconds),
            ..rinit()
        }
    }

    fn with_stop_timeout(seconds: u64) -> Settings {
        Settings {
            stop_timeout: Some(Duration::from_secs(seconds)),
            ..rinit()
        }
    }

    /// SIGTERM to everyone left; `spare_group`: but the group the stop already reached.
    fn terminate(spare_group: bool) -> Action {
        Terminate {
            signal: SIGTERM,
            spare_group,
        }
    }

    fn secs(s: u64) -> Duration {
        T0 + Duration::from_secs(s)
    }

    fn running() -> Machine {
        Machine::new(true, Mask::NONE)
    }

    fn term() -> Action {
        Forward {
            signal: SIGTERM,
            received: SIGTERM,
        }
    }

    #[test]
    fn a_stop_sets_no_deadline_of_rinits_own_by_default() {
        let s = rinit();
        let mut m = running();
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), T0), [term()]);
        assert_eq!((m.phase(), m.deadline()), (Phase::Stopping, None));
        // The command takes as long as it needs (the engine's SIGKILL bounds it), then exits;
        // the rest get SIGTERM, but not the group the forwarded stop reached.
        assert_eq!(m.handle(&s, Event::Exited(0), secs(7)), [terminate(true)]);
        assert_eq!((m.phase(), m.deadline()), (Phase::Draining, None));
        assert_eq!(m.handle(&s, Event::Left(true), secs(8)), []);
        assert_eq!(m.handle(&s, Event::Left(false), secs(9)), [Exit(0)]);
        assert_eq!(m.phase(), Phase::Done);
    }

    #[test]
    fn a_stop_timeout_bounds_a_stop_from_the_first_stop_signal() {
        let s = with_stop_timeout(2);
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!(m.deadline(), Some(secs(2)));
        // A second stop signal is forwarded again and does not move the deadline.
        assert_eq!(m.handle(&s, Event::Signal(SIGINT), secs(1)).len(), 1);
        assert_eq!(m.deadline(), Some(secs(2)));
        assert_eq!(
            m.handle(&s, Event::Deadline, secs(2)),
            [Kill {
                why: "the stop timeout ended"
            }]
        );
        assert_eq!(m.phase(), Phase::Killing);
        // A second for the killed to be reaped: exiting before that would leave them dying,
        // re-parented to whoever started rinit.
        assert_eq!(m.deadline(), Some(secs(3)));
        assert_eq!(m.handle(&s, Event::Exited(137), secs(2)), []);
        assert_eq!(m.handle(&s, Event::Left(false), secs(2)), [Exit(137)]);
    }

    #[test]
    fn after_a_natural_exit_the_rest_get_the_default_grace_then_sigkill() {
        let s = rinit();
        let mut m = running();
        assert_eq!(m.handle(&s, Event::Exited(4), T0), [terminate(false)]);
        assert_eq!(m.deadline(), Some(secs(5)));
        assert_eq!(
            m.handle(&s, Event::Deadline, secs(5)),
            [Kill {
                why: "the grace period ended"
            }]
        );
        // Something forked meanwhile is killed too; then rinit exits with the command's code.
        assert_eq!(
            m.handle(&s, Event::Left(true), secs(5)),
            [Kill {
                why: "more were left"
            }]
        );
        assert_eq!(m.handle(&s, Event::Left(false), secs(5)), [Exit(4)]);
    }

    #[test]
    fn a_stop_during_the_grace_hands_the_deadline_to_its_sender() {
        for s in [rinit(), with_grace(3)] {
            let mut m = running();
            m.handle(&s, Event::Exited(0), T0);
            // A new stop request: everyone left hears it, the command's group included.
            assert_eq!(
                m.handle(&s, Event::Signal(SIGTERM), secs(1)),
                [terminate(false)]
            );
            assert_eq!(m.deadline(), None, "{:?}", s.grace);
        }
        // With --stop-timeout, rinit's own deadline for the stop takes over from then.
        let s = Settings {
            grace: Duration::from_secs(60),
            ..with_stop_timeout(3)
        };
        let mut m = running();
        m.handle(&s, Event::Exited(0), T0);
        m.handle(&s, Event::Signal(SIGTERM), secs(1));
        assert_eq!(m.deadline(), Some(secs(4)));
    }

    #[test]
    fn the_group_a_stop_reached_is_spared_only_if_the_stop_went_to_the_group() {
        // Forwarded to the command alone (-c, tini's default): the rest never got it.
        let s = Settings {
            forward: crate::settings::Forward::Child,
            ..rinit()
        };
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!(m.handle(&s, Event::Exited(143), T0), [terminate(false)]);
        // A signal that is not a stop reached the group, but asked nobody to stop.
        let s = rinit();
        let mut m = running();
        m.handle(&s, Event::Signal(SIGUSR1), T0);
        assert_eq!(m.handle(&s, Event::Exited(0), T0), [terminate(false)]);
    }

    #[test]
    fn signals_after_the_command_exited_reach_nobody_but_stop_signals() {
        let s = rinit();
        let mut m = running();
        m.handle(&s, Event::Exited(0), T0);
        assert_eq!(
            m.handle(&s, Event::Signal(SIGUSR1), T0),
            [Drop {
                received: SIGUSR1,
                why: "the command has exited"
            }]
        );
        // Everyone left hears a stop as SIGTERM, whatever the stop signal was.
        assert_eq!(m.handle(&s, Event::Signal(SIGINT), T0), [terminate(false)]);
    }

    #[test]
    fn a_stop_is_a_stop_signal_as_received_or_as_rewritten() {
        let s = Settings {
            rewrite: alloc::vec![(SIGTERM, SIGQUIT), (SIGUSR1, SIGTERM), (SIGINT, 0)],
            ..with_stop_timeout(1)
        };
        // docker's SIGTERM, forwarded as SIGQUIT for nginx, is still docker's stop.
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!((m.phase(), m.deadline()), (Phase::Stopping, Some(secs(1))));
        // A stop signal rewritten to 0 is dropped, and starts nothing.
        let mut m = running();
        assert_eq!(
            m.handle(&s, Event::Signal(SIGINT), T0),
            [Drop {
                received: SIGINT,
                why: "rewritten to 0"
            }]
        );
        assert_eq!(m.phase(), Phase::Running);
        assert_eq!(
            m.handle(&s, Event::Signal(SIGUSR1), T0),
            [Forward {
                signal: SIGTERM,
                received: SIGUSR1
            }]
        );
        assert_eq!(m.phase(), Phase::Stopping);
    }

    fn with_stop_signals(signals: &[i32]) -> Settings {
        Settings {
            stop_signals: signals.to_vec(),
            ..with_grace(5)
        }
    }

    #[test]
    fn the_images_stop_signal_starts_a_stop_and_no_grace_follows_the_exit() {
        let s = with_stop_signals(&[SIGQUIT]);
        let mut m = running();
        let quit = Forward {
            signal: SIGQUIT,
            received: SIGQUIT,
        };
        assert_eq!(m.handle(&s, Event::Signal(SIGQUIT), T0), [quit]);
        assert_eq!((m.phase(), m.deadline()), (Phase::Stopping, None));
        // SIGQUIT reached the group but was not SIGTERM: the group hears SIGTERM too.
        assert_eq!(m.handle(&s, Event::Exited(0), secs(1)), [terminate(false)]);
        assert_eq!(m.deadline(), None, "the engine's window, not --grace");
        // Without it, SIGQUIT is any signal: the exit is natural, and the grace applies.
        let s = rinit();
        let mut m = running();
        m.handle(&s, Event::Signal(SIGQUIT), T0);
        assert_eq!(m.phase(), Phase::Running);
        m.handle(&s, Event::Exited(0), secs(1));
        assert_eq!(m.deadline(), Some(secs(6)));
        // Named, SIGTERM and SIGINT are no longer stop signals.
        let s = with_stop_signals(&[SIGQUIT]);
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!(m.phase(), Phase::Running);
    }

    #[test]
    fn a_stop_delay_holds_the_first_stop_signal_named() {
        let s = Settings {
            stop_delay: Duration::from_secs(5),
            ..with_stop_signals(&[SIGQUIT, SIGTERM])
        };
        let mut m = running();
        let hold = Hold {
            received: SIGQUIT,
            delay: Duration::from_secs(5),
        };
        assert_eq!(m.handle(&s, Event::Signal(SIGQUIT), T0), [hold]);
        assert_eq!(m.phase(), Phase::Stopping);
        // The other stop signal passes at once and leaves the hold as it is.
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), secs(1)), [term()]);
        assert_eq!(m.deadline(), Some(secs(5)));
        let quit = Forward {
            signal: SIGQUIT,
            received: SIGQUIT,
        };
        // SIGQUIT again: it goes now, once.
        assert_eq!(m.handle(&s, Event::Signal(SIGQUIT), secs(2)), [quit]);
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn a_stop_timeout_of_zero_kills_at_once_and_forwards_nothing() {
        let s = with_stop_timeout(0);
        let killed = [Kill {
            why: "the stop timeout ended",
        }];
        let mut m = running();
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), T0), killed);
        assert_eq!(m.phase(), Phase::Killing);
        assert_eq!(m.handle(&s, Event::Exited(137), T0), []);
        assert_eq!(m.handle(&s, Event::Left(false), T0), [Exit(137)]);
        // Draining after a natural exit: no second SIGTERM before the SIGKILL.
        let mut m = running();
        m.handle(&s, Event::Exited(3), T0);
        assert_eq!(m.handle(&s, Event::Signal(SIGINT), T0), killed);
        assert_eq!(m.handle(&s, Event::Left(false), T0), [Exit(3)]);
        // Pause mode: SIGKILL to everyone, and exit 0 as a stop does.
        let mut m = Machine::new(false, Mask::NONE);
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), T0), killed);
        assert_eq!(m.handle(&s, Event::Left(false), T0), [Exit(0)]);
        // A held stop too: nothing is held, nothing forwarded.
        let s = Settings {
            stop_delay: Duration::from_secs(5),
            ..with_stop_timeout(0)
        };
        let mut m = running();
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), T0), killed);
        assert_eq!(m.deadline(), Some(T0 + KILL_WAIT));
    }

    #[test]
    fn a_signal_rinit_raised_on_itself_is_never_forwarded() {
        let s = rinit();
        let mut m = running();
        let dropped = Drop {
            received: libc::SIGPIPE,
            why: "raised by rinit itself",
        };
        assert_eq!(m.handle(&s, Event::Raised(libc::SIGPIPE), T0), [dropped]);
        assert_eq!(m.phase(), Phase::Running);
        // The same signal sent by another process is the command's.
        assert_eq!(
            m.handle(&s, Event::Signal(libc::SIGPIPE), T0),
            [Forward {
                signal: libc::SIGPIPE,
                received: libc::SIGPIPE
            }]
        );
    }

    #[test]
    fn grace_zero_exits_with_the_command_as_tini_does() {
        for s in [
            Settings::defaults(Personality::Tini),
            Settings {
                stop_timeout: None,
                ..with_grace(0)
            },
        ] {
            let mut m = running();
            m.handle(&s, Event::Signal(SIGTERM), T0);
            assert_eq!(m.deadline(), None, "no SIGKILL of rinit's own");
            assert_eq!(m.handle(&s, Event::Exited(143), T0), [Exit(143)]);
        }
        let s = Settings::defaults(Personality::DumbInit);
        let mut m = running();
        assert_eq!(m.handle(&s, Event::Exited(1), T0), [TermGroup, Exit(1)]);
    }

    #[test]
    fn huge_durations_mean_no_deadline_never_an_overflow() {
        let s = Settings {
            grace: Duration::MAX,
            stop_timeout: Some(Duration::MAX),
            ..rinit()
        };
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!((m.phase(), m.deadline()), (Phase::Stopping, None));
        let mut m = running();
        m.handle(&s, Event::Exited(0), T0);
        assert_eq!((m.phase(), m.deadline()), (Phase::Draining, None));
    }

    #[test]
    fn killing_ends_after_kill_wait_even_if_something_is_out_of_reach() {
        let s = with_stop_timeout(1);
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        m.handle(&s, Event::Deadline, secs(1));
        assert_eq!(m.handle(&s, Event::Deadline, secs(2)), [Exit(128 + 9)]);
        assert_eq!(SIGKILL, 9);
    }

    #[test]
    fn pause_mode_exits_0_on_a_stop_and_drops_the_rest() {
        let s = rinit();
        let mut m = Machine::new(false, Mask::NONE);
        assert_eq!(
            m.handle(&s, Event::Signal(libc::SIGHUP), T0),
            [Drop {
                received: libc::SIGHUP,
                why: "pause mode runs no command"
            }]
        );
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), T0), [terminate(false)]);
        assert_eq!(m.handle(&s, Event::Left(false), T0), [Exit(0)]);
        // With a stop timeout, pause mode's stop is bounded too.
        let s = with_stop_timeout(2);
        let mut m = Machine::new(false, Mask::NONE);
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!(m.deadline(), Some(secs(2)));
        let s = Settings::defaults(Personality::Catatonit);
        let mut m = Machine::new(false, Mask::NONE);
        assert_eq!(m.handle(&s, Event::Signal(SIGINT), T0), [Exit(0)]);
    }

    fn with_stop_delay(seconds: u64) -> Settings {
        Settings {
            stop_delay: Duration::from_secs(seconds),
            ..rinit()
        }
    }

    #[test]
    fn a_stop_delay_holds_the_first_sigterm_then_forwards_it() {
        let s = Settings {
            stop_timeout: Some(Duration::from_secs(30)),
            ..with_stop_delay(5)
        };
        let mut m = running();
        let hold = Hold {
            received: SIGTERM,
            delay: Duration::from_secs(5),
        };
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), T0), [hold]);
        // The stop timeout counts from the SIGTERM's arrival; the release comes first.
        assert_eq!(m.phase(), Phase::Stopping);
        assert_eq!(m.deadline(), Some(secs(5)));
        // Other signals, SIGINT included, pass at once.
        let usr1 = Forward {
            signal: SIGUSR1,
            received: SIGUSR1,
        };
        assert_eq!(m.handle(&s, Event::Signal(SIGUSR1), secs(1)), [usr1]);
        assert_eq!(m.handle(&s, Event::Deadline, secs(5)), [term()]);
        assert_eq!(m.deadline(), Some(secs(30)));
        // Later SIGTERMs are forwarded at once.
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), secs(6)), [term()]);
    }

    #[test]
    fn a_second_sigterm_ends_the_hold_and_goes_once() {
        let s = with_stop_delay(5);
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!(m.handle(&s, Event::Signal(SIGTERM), secs(2)), [term()]);
        assert_eq!(m.deadline(), None, "nothing left to release");
        // The stop reached the group: at the exit the group is spared.
        assert_eq!(m.handle(&s, Event::Exited(0), secs(3)), [terminate(true)]);
    }

    #[test]
    fn the_commands_exit_ends_the_hold() {
        let s = with_stop_delay(5);
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        // The held SIGTERM reached nobody: everyone left gets it now.
        assert_eq!(m.handle(&s, Event::Exited(3), secs(1)), [terminate(false)]);
        assert_eq!((m.phase(), m.deadline()), (Phase::Draining, None));
        assert_eq!(m.handle(&s, Event::Left(false), secs(1)), [Exit(3)]);
        // A hold rewritten away: -r TERM:0 drops SIGTERM at once, nothing is held.
        let s = Settings {
            rewrite: alloc::vec![(SIGTERM, 0)],
            ..with_stop_delay(5)
        };
        let mut m = running();
        assert_eq!(
            m.handle(&s, Event::Signal(SIGTERM), T0),
            [Drop {
                received: SIGTERM,
                why: "rewritten to 0"
            }]
        );
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn a_stop_timeout_shorter_than_the_delay_kills_and_releases_nothing() {
        let s = Settings {
            stop_timeout: Some(Duration::from_secs(2)),
            ..with_stop_delay(5)
        };
        let mut m = running();
        m.handle(&s, Event::Signal(SIGTERM), T0);
        assert_eq!(m.deadline(), Some(secs(2)));
        assert_eq!(
            m.handle(&s, Event::Deadline, secs(2)),
            [Kill {
                why: "the stop timeout ended"
            }]
        );
        assert_eq!(m.deadline(), Some(secs(2) + KILL_WAIT));
    }

    #[test]
    fn the_hand_over_signals_are_dropped_whoever_the_kernel_names_as_sender() {
        let s = Settings::defaults(Personality::DumbInit);
        let mut m = Machine::new(true, Mask::of(&[libc::SIGHUP, libc::SIGCONT]));
        let dropped = |received| Drop {
            received,
            why: "sent by the terminal hand-over",
        };
        assert_eq!(
            m.handle(&s, Event::Raised(libc::SIGHUP), T0),
            [dropped(libc::SIGHUP)]
        );
        assert_eq!(
            m.handle(&s, Event::Raised(libc::SIGCONT), T0),
            [dropped(libc::SIGCONT)]
        );
        // The user's SIGHUP, next, is the command's.
        assert_eq!(
            m.handle(&s, Event::Signal(libc::SIGHUP), T0),
            [Forward {
                signal: libc::SIGHUP,
                received: libc::SIGHUP
            }]
        );
    }

    #[test]
    fn dumb_init_job_control_and_the_terminal_hand_over() {
        let s = Settings::defaults(Personality::DumbInit);
        let mut m = Machine::new(true, Mask::of(&[libc::SIGHUP]));
        assert_eq!(
            m.handle(&s, Event::Signal(libc::SIGHUP), T0),
            [Drop {
                received: libc::SIGHUP,
                why: "sent by the terminal hand-over"
            }]
        );
        assert_eq!(
            m.handle(&s, Event::Signal(libc::SIGHUP), T0),
            [Forward {
                signal: libc::SIGHUP,
                received: libc::SIGHUP
            }]
        );
        assert_eq!(
            m.handle(&s, Event::Signal(libc::SIGTSTP), T0),
            [
                Forward {
                    signal: libc::SIGTSTP,
                    received: libc::SIGTSTP
                },
                StopSelf
            ]
        );
    }
}
