//! The few operating-system services rinit needs beyond raw syscalls, wrapped once: errno,
//! the monotonic clock, the environment, reading /proc, pidfds, waiting on descriptors, and
//! writing to stdout and stderr. rinit
//! is `no_std` (std's panic and backtrace machinery alone would triple its size), so these
//! stand in for the parts of std it would otherwise use.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, CStr};
use core::time::Duration;
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::process::{self, Pid};

/// An error number from a failed syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const ENOEXEC: Errno = Errno(libc::ENOEXEC);
    pub const EISDIR: Errno = Errno(libc::EISDIR);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ENOSYS: Errno = Errno(libc::ENOSYS);
    pub const ESRCH: Errno = Errno(libc::ESRCH);

    /// The calling thread's errno, right after a call failed.
    pub fn last() -> Self {
        // SAFETY: errno's location is valid for the life of the thread.
        Errno(unsafe { *libc::__errno_location() })
    }

    /// `Ok` for a syscall's non-negative return, the errno for -1.
    pub fn result<T: Copy + PartialEq + From<i8>>(value: T) -> Result<T, Errno> {
        match value == T::from(-1) {
            true => Err(Errno::last()),
            false => Ok(value),
        }
    }

    /// strerror's text as the C library words it: "No such file or directory".
    pub fn text(self) -> String {
        // SAFETY: strerror returns a NUL-terminated string, valid until the next call; rinit
        // is single-threaded and copies it at once.
        let text = unsafe { CStr::from_ptr(libc::strerror(self.0)) };
        lossy(text.to_bytes())
    }

    /// strerror's text, lower-cased to read as the tail of a sentence: "permission denied".
    pub fn describe(self) -> String {
        let mut text = self.text();
        if let Some(first) = text.get_mut(..1) {
            first.make_ascii_lowercase();
        }
        text
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(errno: rustix::io::Errno) -> Self {
        Errno(errno.raw_os_error())
    }
}

/// Time since an arbitrary fixed point, never going backwards.
pub fn now() -> Duration {
    let mut spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `spec` is a live timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut spec) };
    Duration::new(spec.tv_sec as u64, spec.tv_nsec as u32)
}

extern "C" {
    /// The process environment, as execve passes it on.
    static environ: *const *const c_char;
}

/// The `NAME=value` strings of the environment, in order, read in place (nothing is copied).
pub fn environment() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: environ is a null-terminated array of NUL-terminated strings, which rinit never
    // changes, so they live as long as the process.
    let mut entry = unsafe { environ };
    core::iter::from_fn(move || {
        // SAFETY: as above; `entry` never moves past the terminating null pointer.
        unsafe {
            if entry.is_null() || (*entry).is_null() {
                return None;
            }
            let current = CStr::from_ptr(*entry);
            entry = entry.add(1);
            Some(current)
        }
    })
}

/// The value of environment variable `name`, as bytes.
pub fn getenv(name: &str) -> Option<Vec<u8>> {
    environment().find_map(|entry| {
        let rest = entry.to_bytes().strip_prefix(name.as_bytes())?;
        rest.strip_prefix(b"=").map(<[u8]>::to_vec)
    })
}

/// The whole content of a (small, /proc) file, or `None` if it cannot be read.
pub fn read_file(path: &str) -> Option<Vec<u8>> {
    let path = alloc::ffi::CString::new(path).ok()?;
    // SAFETY: `path` is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut content = Vec::new();
    let mut buffer = [0u8; 1024];
    let done = loop {
        // SAFETY: reads into a live buffer of the given length.
        match unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) } {
            0 => break true,
            n if n > 0 => content.extend_from_slice(&buffer[..n as usize]),
            _ if Errno::last() == Errno::EINTR => {}
            _ => break false,
        }
    };
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(fd) };
    done.then_some(content)
}

/// The numeric entries of /proc: every process the mounted procfs shows.
pub fn processes() -> Vec<i32> {
    numbered_entries(c"/proc")
}

/// How many threads process `pid` has, as /proc/PID/task lists them; 0 when it cannot be
/// read (gone, or hidden).
pub fn threads(pid: i32) -> usize {
    alloc::ffi::CString::new(proc_path(pid, "/task"))
        .map_or(0, |path| numbered_entries(&path).len())
}

/// The descriptors rinit has open, as /proc/self/fd lists them (the listing's own included).
pub fn open_descriptors() -> Vec<i32> {
    numbered_entries(c"/proc/self/fd")
}

/// The entries of directory `path` whose names are numbers.
fn numbered_entries(path: &CStr) -> Vec<i32> {
    use rustix::fs::{Mode, OFlags, RawDir};
    let mut numbers = Vec::new();
    let Ok(fd) = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return numbers;
    };
    // Read with getdents64 into the stack: libc's opendir would bring its malloc with it.
    let mut buffer = [core::mem::MaybeUninit::<u8>::uninit(); 2048];
    let mut entries = RawDir::new(fd, &mut buffer);
    while let Some(Ok(entry)) = entries.next() {
        if let Some(number) = core::str::from_utf8(entry.file_name().to_bytes())
            .ok()
            .and_then(|n| n.parse().ok())
        {
            numbers.push(number);
        }
    }
    numbers
}

/// One process as /proc/PID/stat shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    /// 0 when the parent is outside rinit's PID namespace (a process entered with setns).
    pub parent: i32,
    /// Its process group; 0 when the group's leader is outside the namespace.
    pub group: i32,
    /// Exited, waiting for its parent to reap it. A process whose main thread has ended while
    /// other threads run shows its leader as `Z` but lives: it counts as live.
    pub zombie: bool,
    /// When it started, in clock ticks since boot: with the pid, it names one process, never
    /// a later one that reuses the pid.
    pub start: u64,
}

/// The process with this pid, or `None` once it is gone.
pub fn process(pid: i32) -> Option<Process> {
    let stat = read_file(&proc_path(pid, "/stat"))?;
    // The command name in parentheses may hold spaces and ')': read after the last one.
    let after_name = &stat[stat.iter().rposition(|b| *b == b')')? + 1..];
    let mut fields = core::str::from_utf8(after_name).ok()?.split_whitespace();
    let state = fields.next()?;
    let parent = fields.next()?.parse().ok()?;
    let group = fields.next()?.parse().ok()?;
    // After the group: session, tty, tpgid, flags, four fault counts, four times, priority
    // and nice (14 fields), then num_threads, itrealvalue and starttime.
    let threads: u64 = fields.nth(14)?.parse().ok()?;
    let start = fields.nth(1)?.parse().ok()?;
    Some(Process {
        pid,
        parent,
        group,
        // The leader of a thread group stays `Z` until every thread has exited, and the
        // thread count keeps counting it until then: one thread left is the leader itself.
        zombie: state == "Z" && threads <= 1,
        start,
    })
}

/// Why /proc cannot be trusted to list this PID namespace's processes, or `None` if it can.
/// A procfs mounted by another PID namespace (`unshare --pid` without `--mount-proc`) shows
/// other processes under the same numbers, so its `self` must name rinit's own pid.
pub fn proc_unusable() -> Option<&'static str> {
    let mut target = [0u8; 32];
    // SAFETY: readlink writes at most `target.len()` bytes into the live buffer.
    let length = unsafe {
        libc::readlink(
            c"/proc/self".as_ptr(),
            target.as_mut_ptr().cast(),
            target.len(),
        )
    };
    if length < 0 {
        return Some("/proc is not mounted (or not a procfs)");
    }
    let mut own = String::new();
    decimal(&mut own, u64::from(pid().unsigned_abs()));
    match &target[..length as usize] == own.as_bytes() {
        true => None,
        false => Some("/proc belongs to another PID namespace"),
    }
}

/// `bytes` as text, each invalid UTF-8 sequence replaced by U+FFFD: String::from_utf8_lossy's
/// result, from the validation rinit links anyway (its own decoder is about a kilobyte).
pub fn lossy(mut bytes: &[u8]) -> String {
    let mut text = String::new();
    loop {
        match core::str::from_utf8(bytes) {
            Ok(valid) => {
                text.push_str(valid);
                return text;
            }
            Err(error) => {
                let (valid, rest) = bytes.split_at(error.valid_up_to());
                text.push_str(core::str::from_utf8(valid).unwrap_or_default());
                text.push(char::REPLACEMENT_CHARACTER);
                // The maximal invalid subpart, as from_utf8_lossy replaces it; a truncated
                // sequence at the end is one.
                bytes = &rest[error.error_len().unwrap_or(rest.len())..];
            }
        }
    }
}

/// `/proc/PID` and then `leaf` (`/stat`).
fn proc_path(pid: i32, leaf: &str) -> String {
    let mut path = String::from("/proc/");
    if pid < 0 {
        path.push('-');
    }
    decimal(&mut path, u64::from(pid.unsigned_abs()));
    path.push_str(leaf);
    path
}

/// Appends `value` in decimal (what `{}` wrote; log's messages use it too).
pub fn decimal(text: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    text.extend(digits[start..].iter().map(|digit| char::from(*digit)));
}

/// The last component of a path (`/usr/bin/tini` gives `tini`): str's rsplit('/') without the
/// reverse char search it links.
pub fn basename(path: &str) -> &str {
    match path.bytes().rposition(|b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

/// `text` before and after the first `separator` in it: str's own split_once, without the
/// two-way string search it links (over a kilobyte) for the few short lines rinit splits.
pub fn split_once<'a>(text: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let at = text
        .as_bytes()
        .windows(separator.len())
        .position(|window| window == separator.as_bytes())?;
    Some((&text[..at], &text[at + separator.len()..]))
}

/// Whether the procfs on /proc was mounted with `hidepid` (other than 0/off): then processes
/// rinit may not ptrace (another user's, when it lacks CAP_SYS_PTRACE) are not listed.
pub fn proc_hides_processes() -> bool {
    let Some(mounts) = read_file("/proc/self/mountinfo") else {
        return false;
    };
    // The last mount on /proc is the one in use: `... /proc ... - proc proc rw,hidepid=2`.
    let text = lossy(&mounts);
    let options = text
        .lines()
        .filter(|line| line.split(' ').nth(4) == Some("/proc"))
        // The last, found reading forward: from the end would link str's reverse search.
        .reduce(|_, later| later)
        .and_then(|line| split_once(line, " - "))
        .map(|(_, after)| after)
        .and_then(|after| after.split(' ').nth(2))
        .unwrap_or("");
    options.split(',').any(|option| {
        option
            .strip_prefix("hidepid=")
            .is_some_and(|value| !matches!(value, "0" | "off"))
    })
}

/// A descriptor for process `pid` that keeps naming that process even after the pid is reused
/// (Linux 5.3); it polls readable once the process has exited.
/// ENOSYS before Linux 5.3; EPERM (or any errno) where a seccomp filter refuses it.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    let pid = Pid::from_raw(pid).ok_or(Errno::ESRCH)?;
    process::pidfd_open(pid, process::PidfdFlags::empty()).map_err(Errno::from)
}

/// Sends `signal` (any number, real-time ones included, which rustix's `Signal` may not name)
/// to the process behind `pidfd`: never to a later process with the same pid. ENOSYS before
/// Linux 5.1; EPERM (or any errno) where a seccomp filter refuses it.
pub fn pidfd_send_signal(pidfd: &OwnedFd, signal: i32) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    // SAFETY: the raw syscall with a live descriptor, a plain signal number, no siginfo (the
    // kernel fills in a SI_USER one) and no flags.
    let done = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            core::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    Errno::result(done).map(|_| ())
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: no timeout); returns
/// which were readable. A signal that stopped and continued rinit wakes it early: the caller
/// recomputes its timeout and waits again.
pub fn poll_readable(fds: &[BorrowedFd], timeout: Option<Duration>) -> Vec<bool> {
    use rustix::fd::AsRawFd;
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // The C library's ppoll with the C library's timespec, which agree on every target. Where
    // rustix goes through the C library (ARMv6, ARMv5), its poll hands a 64-bit time to musl's
    // 32-bit-time ppoll, which reads every timeout under a second as 0: rinit would spin.
    let timeout = timeout.map(|left| libc::timespec {
        tv_sec: left.as_secs().min(i32::MAX as u64) as _,
        tv_nsec: left.subsec_nanos() as _,
    });
    let timeout = timeout
        .as_ref()
        .map_or(core::ptr::null(), |spec| spec as *const _);
    // ppoll with no signal mask: rinit's own (everything blocked) stays in place.
    // SAFETY: `polled` is a live array of its length, `timeout` null or a live timespec.
    let ready = unsafe {
        libc::ppoll(
            polled.as_mut_ptr(),
            polled.len() as libc::nfds_t,
            timeout,
            core::ptr::null(),
        )
    };
    polled.iter().map(|p| ready > 0 && p.revents != 0).collect()
}

/// Writes all of `bytes` to `fd`; false if a write failed (closed pipe, full disk, file size
/// limit: the kernel then also raises SIGPIPE or SIGXFSZ, which rinit keeps blocked).
pub fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice of the given length.
        match unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) } {
            n if n > 0 => bytes = &bytes[n as usize..],
            _ if Errno::last() == Errno::EINTR => {}
            _ => return false,
        }
    }
    true
}

/// rinit's own pid.
pub fn pid() -> i32 {
    process::getpid().as_raw_nonzero().get()
}

/// The signal that killed the process, if one did. MIPS has 127 signals, and a death by the
/// 127th reads as status 0x7f, which WIFSIGNALED (libc's, and so rustix's) takes for a stopped
/// process; rinit never asks for stopped ones (no WUNTRACED), so there it is signal 127.
pub fn death_signal(status: rustix::process::WaitStatus) -> Option<i32> {
    let mips = cfg!(any(target_arch = "mips", target_arch = "mips64"));
    match mips && status.as_raw() & 0xff == 0x7f {
        true => Some(0x7f),
        false => status.terminating_signal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_text_is_what_std_makes_of_the_bytes() {
        // Seeded runs of bytes weighted to the edges of UTF-8: ASCII, continuation bytes,
        // leads of 2-4 byte sequences, overlongs, surrogates, and bytes that never occur.
        let pieces: [&[u8]; 12] = [
            b"a",
            b"/bin/sh",
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\x80",
            b"\xbf",
            b"\xc0\xaf",
            b"\xe0\x80",
            b"\xed\xa0\x80",
            b"\xf0\x9f",
            b"\xf5\xff",
        ];
        let mut random = crate::Random(29);
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            for _ in 0..random.below(8) {
                let piece = pieces[random.below(pieces.len())];
                // Sometimes only a start of the piece: a sequence cut short.
                bytes.extend_from_slice(&piece[..1 + random.below(piece.len())]);
            }
            assert_eq!(lossy(&bytes), String::from_utf8_lossy(&bytes), "{bytes:x?}");
        }
    }

    #[test]
    fn basename_is_the_last_component() {
        for path in ["tini", "/usr/bin/tini", "./dumb-init", "/", "a/", "", "é/ü"] {
            assert_eq!(basename(path), path.rsplit('/').next().unwrap_or(path));
        }
    }
}
