//! rinit: a minimal PID-1 init for containers. It runs one command in its own process group,
//! forwards every signal it gets to it, reaps every zombie, gives the processes left a grace
//! period to finish, and exits with the command's status.
//!
//! The life of an init, one module per step: [`cli`] reads the command line, environment and
//! program name into [`settings::Settings`]; [`signals`] blocks signals and owns the signal
//! table; [`reap`] registers as subreaper and collects exits; [`spawn`] starts the command;
//! [`user`] resolves `--user`, which the child switches to before exec;
//! [`supervise`] runs the signal loop, whose decisions [`phases`] makes; [`shutdown`] reaches
//! and waits for what is left at the end, with [`cgroup`] finding the container's own cgroup
//! (its other processes, and its OOM kills); [`sys`] wraps the few
//! OS services std would otherwise provide, and [`heap`] its memory.
//!
//! The library is `no_std` (with `alloc`): std's panic and backtrace machinery would be most of
//! a static binary's size. Unit tests build with std.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod cgroup;
pub mod cli;
pub mod error;
pub mod heap;
pub mod log;
pub mod phases;
pub mod reap;
pub mod settings;
pub mod shutdown;
pub mod signals;
pub mod spawn;
pub mod supervise;
pub mod sys;
pub mod user;
pub mod voice;

use alloc::boxed::Box;
use error::Error;
use settings::Settings;

/// Runs the command as `settings` say and returns rinit's exit code. Errors are reported on
/// stderr here, as one line each.
/// `inherited`: what [`signals::take_over`] found, which the command gets back.
pub fn run(settings: &Settings, inherited: &signals::Inherited) -> u8 {
    supervise(settings, inherited).unwrap_or_else(|error| voice::fail(settings.personality, &error))
}

fn supervise(settings: &Settings, inherited: &signals::Inherited) -> Result<u8, Box<Error>> {
    let listener = signals::Listener::open(signals::Mask::all())?;
    if let Some(signal) = settings.parent_death_signal {
        signals::on_parent_death(signal)?;
    }
    reap::become_subreaper(settings)?;
    // Not PID 1, whether rinit's cgroup is its container's own is decided now, while rinit
    // can still be its first process: later the first may have gone.
    let cgroup = (sys::pid() != 1).then(cgroup::Cgroup::own);
    let child = match settings.pause {
        true => None,
        false => Some(spawn::spawn(settings, inherited)?),
    };
    if let Some(child) = &child {
        let command = settings
            .command
            .first()
            .map_or(&[][..], alloc::vec::Vec::as_slice);
        voice::say(
            settings,
            voice::Note::Spawned {
                command,
                pid: child.pid,
            },
        );
    }
    spawn::let_go(listener.fd());
    Ok(supervise::Supervisor::new(settings, child, listener, cgroup).run())
}

/// A seeded generator (xorshift64) for the unit tests' random cases: the same sequence on every
/// machine, so that a failure can be replayed from its seed.
#[cfg(test)]
pub(crate) struct Random(pub(crate) u64);

#[cfg(test)]
impl Random {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in 0..n.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
