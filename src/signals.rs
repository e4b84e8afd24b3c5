//! The signal table (names and numbers, real-time ones included), rinit's own signal mask, the
//! signalfd rinit reads its signals from (with each one's sender), and delivery to the child.

use crate::error::Error;
use crate::sys::Errno;
use crate::text;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use core::time::Duration;
use rustix::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

/// The kernel's own signal set, as `rt_sigprocmask` and `signalfd` take it: an array of
/// `unsigned long` words, bit (N-1) % bits of word (N-1) / bits for signal N, which is the same
/// layout on every byte order. Used instead of libc's sigset_t because musl's sigfillset leaves
/// out signals 32-34, which glibc programs call SIGRTMIN and which would otherwise kill a rinit
/// that is not PID 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask([libc::c_ulong; WORDS]);

/// How many signals the kernel has: 64, or 128 on MIPS.
pub const NSIG: usize = if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
    128
} else {
    64
};
const WORD_BITS: usize = libc::c_ulong::BITS as usize;
const WORDS: usize = NSIG / WORD_BITS;
/// The size of the kernel's sigset_t, which its signal calls insist on.
const KERNEL_SET_BYTES: usize = NSIG / 8;

impl Mask {
    pub const NONE: Mask = Mask([0; WORDS]);

    pub fn of(signals: &[i32]) -> Self {
        let mut mask = Mask::NONE;
        for signal in signals {
            if (1..=NSIG as i32).contains(signal) {
                let bit = *signal as usize - 1;
                mask.0[bit / WORD_BITS] |= 1 << (bit % WORD_BITS);
            }
        }
        mask
    }

    /// Every signal: what rinit blocks and waits for. SIGKILL and SIGSTOP cannot be blocked
    /// (the kernel leaves them out), and a real fault in rinit (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
    /// SIGTRAP, SIGSYS, or abort's SIGABRT) still ends it: the kernel unblocks the signal it
    /// forces for a fault. So the fault signals that reach the wait were sent by a process, and
    /// are forwarded like any other.
    pub fn all() -> Self {
        Mask([libc::c_ulong::MAX; WORDS])
    }

    pub fn contains(self, signal: i32) -> bool {
        !self.without(signal).eq(&self)
    }

    pub fn without(mut self, signal: i32) -> Self {
        let other = Mask::of(&[signal]);
        for (word, remove) in self.0.iter_mut().zip(other.0) {
            *word &= !remove;
        }
        self
    }
}

/// What the caller handed rinit, given back to the child before exec.
#[derive(Debug, Clone, Copy)]
pub struct Inherited {
    mask: Mask,
    sigchld_ignored: bool,
}

/// Blocks every signal so they queue for the signalfd instead of running default
/// actions (a blocked signal is never discarded, even for PID 1, which has no default actions).
/// An inherited ignored SIGCHLD is reset: with it the kernel reaps children itself and their
/// exit status is lost.
pub fn take_over() -> Result<Inherited, Box<Error>> {
    let mask = set_mask(Mask::all()).map_err(|errno| Error::setup("rt_sigprocmask", errno))?;
    let mut old = core::mem::MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null new action only reads the current one into `old`.
    let queried = unsafe { libc::sigaction(libc::SIGCHLD, core::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: sigaction filled `old` when it returned 0.
    let sigchld_ignored =
        queried == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN;
    if sigchld_ignored {
        // SAFETY: installs the default disposition; no handler code is involved.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    }
    Ok(Inherited {
        mask,
        sigchld_ignored,
    })
}

/// In the child, between fork and exec: restores the caller's mask and ignored SIGCHLD. Only
/// async-signal-safe calls. Other ignored signals were never touched and stay ignored.
pub fn hand_back(inherited: &Inherited) {
    if inherited.sigchld_ignored {
        // SAFETY: sigaction with SIG_IGN is async-signal-safe and runs no handler.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    }
    let _ = set_mask(inherited.mask);
}

/// Replaces the blocked-signal mask; returns the previous one.
pub fn set_mask(mask: Mask) -> Result<Mask, Errno> {
    let mut old = Mask::NONE;
    // SAFETY: both pointers reference live kernel sigsets of KERNEL_SET_BYTES.
    let done = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            mask.0.as_ptr(),
            old.0.as_mut_ptr(),
            KERNEL_SET_BYTES,
        )
    };
    Errno::result(done).map(|_| old)
}

/// Sleeps until a signal of `set` arrives, or until `timeout` passes, then `None`. rinit itself
/// reads its signals from a [`Listener`]; this serves the test helpers (`record`), which need
/// any signal number, real-time ones included.
pub fn wait(set: Mask, timeout: Option<Duration>) -> Option<i32> {
    let spec = timeout.map(|left| libc::timespec {
        tv_sec: left.as_secs().min(i32::MAX as u64) as _,
        tv_nsec: left.subsec_nanos() as _,
    });
    let spec_ptr = spec
        .as_ref()
        .map_or(core::ptr::null(), |s| s as *const libc::timespec);
    loop {
        // SAFETY: `set` and `spec_ptr` (or null: wait forever) are valid for the call; a null
        // siginfo is allowed.
        let received = unsafe {
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                set.0.as_ptr(),
                core::ptr::null_mut::<libc::siginfo_t>(),
                spec_ptr,
                KERNEL_SET_BYTES,
            )
        };
        match received {
            -1 if Errno::last() == Errno::EAGAIN => return None,
            // EINTR: rinit was stopped and continued (SIGSTOP/SIGCONT); wait again.
            -1 => continue,
            signal => return Some(signal as i32),
        }
    }
}

/// A signal as it arrived: its number, and who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signal: i32,
    pub sender: Sender,
}

/// Who sent a signal, as the kernel tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// A process of rinit's PID namespace, by its pid there (rinit itself included).
    Process(i32),
    /// A process outside rinit's PID namespace (the engine, `kill` on the host): the kernel
    /// names it as pid 0, since it has no pid in this namespace.
    Outside,
    /// The kernel itself (a terminal's hang-up, a child's exit).
    Kernel,
}

impl Sender {
    /// From a signal's `si_pid` and `si_code`. A pid of 0 means the kernel only when the code
    /// says so: kill, sigqueue and tgkill from another PID namespace also arrive as pid 0.
    pub fn from_info(pid: i32, code: i32) -> Self {
        match (pid, code) {
            (0, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL) => Sender::Outside,
            (0, _) => Sender::Kernel,
            (pid, _) => Sender::Process(pid),
        }
    }
}

/// rinit's blocked signals as a readable descriptor (signalfd), so that one wait covers them
/// and the pidfds of processes rinit waits for but that are not its children.
pub struct Listener(OwnedFd);

impl Listener {
    pub fn open(set: Mask) -> Result<Self, Box<Error>> {
        // SAFETY: `set` is a live kernel sigset of KERNEL_SET_BYTES; -1 asks for a new
        // descriptor.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_signalfd4,
                -1,
                set.0.as_ptr(),
                KERNEL_SET_BYTES,
                libc::SFD_CLOEXEC,
            )
        };
        match Errno::result(fd) {
            // SAFETY: signalfd4 returned a new descriptor that nothing else owns.
            Ok(fd) => Ok(Listener(unsafe { OwnedFd::from_raw_fd(fd as i32) })),
            Err(errno) => Err(Error::setup("signalfd", errno)),
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// The next pending signal, in the order the kernel hands them out; sleeps until one
    /// arrives if none is. `None` only if rinit was stopped and continued meanwhile.
    pub fn read(&self) -> Option<Received> {
        // SAFETY: signalfd_siginfo is plain integers, for which all zeroes is a valid value.
        let mut info: libc::signalfd_siginfo = unsafe { core::mem::zeroed() };
        let size = core::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: the record is plain integers; any bytes read into it are a valid value.
        let bytes: &mut [u8] = unsafe {
            core::slice::from_raw_parts_mut((&mut info as *mut libc::signalfd_siginfo).cast(), size)
        };
        let read = rustix::io::read(&self.0, bytes).unwrap_or(0);
        (read == size).then_some(Received {
            signal: info.ssi_signo as i32,
            sender: Sender::from_info(info.ssi_pid as i32, info.ssi_code),
        })
    }
}

/// `kill(2)` for any signal number, real-time ones included (nix's `Signal` cannot hold them).
pub fn send(pid: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: kill takes plain integers and touches no memory of ours.
    Errno::result(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Asks the kernel to send `signal` to rinit when its parent dies (tini's -p).
pub fn on_parent_death(signal: i32) -> Result<(), Box<Error>> {
    // SAFETY: PR_SET_PDEATHSIG takes a plain signal number.
    let done = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) };
    Errno::result(done)
        .map(drop)
        .map_err(|errno| Error::setup("prctl(PR_SET_PDEATHSIG)", errno))
}

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    // Not on MIPS, which has SIGEMT in its place (and numbers most signals its own way).
    #[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
    ("STKFLT", libc::SIGSTKFLT),
    #[cfg(any(target_arch = "mips", target_arch = "mips64"))]
    ("EMT", libc::SIGEMT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// `RTMIN` as glibc, bash, procps `kill -l` and systemd number it (the kernel's 32 and 33 are
/// glibc's own). Fixed, so that `RTMIN+3` means the same whichever libc rinit was built with
/// (musl would say 35).
pub const RTMIN: i32 = 34;
/// The highest signal number a program can use: 64, or 127 on MIPS (whose 128th cannot be
/// told apart in a wait status).
pub const RTMAX: i32 = if NSIG == 128 { 127 } else { 64 };

/// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN`, `RTMIN+3`, `SIGRTMAX-1`.
pub fn parse(text: &str) -> Option<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return (1..=RTMAX).contains(&number).then_some(number);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = |base: i32, rest: &str, sign: i32| -> Option<i32> {
        let offset = match rest {
            "" => 0,
            _ => rest.parse::<i32>().ok()?,
        };
        let number = base + sign * offset;
        (RTMIN..=RTMAX).contains(&number).then_some(number)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return realtime(RTMIN, rest.strip_prefix('+').unwrap_or(rest), 1);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return match rest.strip_prefix('-') {
            Some(offset) => realtime(RTMAX, offset, -1),
            None if rest.is_empty() => Some(RTMAX),
            None => None,
        };
    }
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The conventional name of a signal number, for logs: `SIGTERM`, `SIGRTMIN+2`, `signal 33`.
pub fn name(signal: i32) -> String {
    if let Some((n, _)) = NAMES.iter().find(|(_, s)| *s == signal) {
        return text!("SIG", n);
    }
    match signal - RTMIN {
        0 => "SIGRTMIN".to_string(),
        offset if offset > 0 && signal <= RTMAX => text!("SIGRTMIN+", offset),
        _ => text!("signal ", signal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime() {
        assert_eq!(parse("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse("SIGTERM"), Some(libc::SIGTERM));
        assert_eq!(parse("sigquit"), Some(libc::SIGQUIT));
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("RTMIN"), Some(RTMIN));
        assert_eq!(parse("SIGRTMIN+3"), Some(RTMIN + 3));
        assert_eq!(parse("RTMAX-1"), Some(RTMAX - 1));
        assert_eq!(parse("RTMAX"), Some(RTMAX));
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        for bad in [
            "0",
            "65",
            "-1",
            "TERMINATE",
            "",
            "RTMIN+40",
            "RTMAX+1",
            "RTMIN-1",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn masks_are_kernel_bit_sets() {
        let mask = Mask::all();
        assert!(mask.contains(libc::SIGTERM) && mask.contains(33) && mask.contains(64));
        assert!(mask.contains(libc::SIGSEGV) && !mask.contains(0));
        assert!(!mask.contains(NSIG as i32 + 1));
        let mut words = [0; WORDS];
        words[0] = 1;
        words[63 / WORD_BITS] |= 1 << (63 % WORD_BITS);
        assert_eq!(Mask::of(&[1, 64]), Mask(words));
        assert_eq!(Mask::of(&[1, 64]).without(1).without(64), Mask::NONE);
    }

    #[test]
    fn names_round_trip() {
        for signal in 1..=RTMAX {
            if let Some(parsed) = parse(&name(signal)) {
                assert_eq!(parsed, signal);
            }
        }
        assert_eq!(name(RTMIN + 2), "SIGRTMIN+2");
    }
}
