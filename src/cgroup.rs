//! The container's own cgroup: its processes that are not rinit's descendants (a shell entered
//! with `podman exec` or `kubectl exec` into a pod whose PID namespace is shared, where rinit is
//! not PID 1), and how many of them the kernel's out-of-memory killer took.
//!
//! A runtime shows a container its own cgroup as the root of what it mounts there: with cgroup
//! v1 it bind-mounts the container's cgroup (`/docker/ID`) on /sys/fs/cgroup/CONTROLLER, with v2
//! it gives the container a cgroup namespace whose root is that cgroup. So rinit takes its
//! cgroup for its container's own when all of these hold: its path in /proc/self/cgroup is the
//! root of a mount of that hierarchy in /proc/self/mountinfo; it is not the host's root cgroup
//! (which holds the whole machine); and rinit is its first process and sees every task in it.
//! Not PID 1, that is decided as rinit starts: later, the container's first process may have
//! gone and left an exec'd rinit the oldest. rinit run by hand on a host, in a systemd unit,
//! or with `docker exec` fails one of them, and nothing is read from the cgroup beyond that.
//! The reach uses v1's pids controller (every container has one) or else v2; the memory count,
//! v1's memory controller or else v2.

use crate::sys;
use crate::text;
use alloc::string::String;
use alloc::vec::Vec;

/// A directory of the cgroup filesystem: rinit's cgroup in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    dir: String,
}

impl Cgroup {
    /// rinit's cgroup of the pids controller (v1) or of v2, if it is its container's own;
    /// otherwise why not, in words for the log. Asked when rinit starts, before it forks (not
    /// PID 1), or as PID 1 when something died of SIGKILL: the cgroup's first process must be
    /// rinit, and every process in it one rinit can see (a process outside its PID namespace,
    /// or hidden by hidepid, may have come first).
    pub fn own() -> Result<Cgroup, String> {
        let cgroups = text("/proc/self/cgroup").ok_or("/proc/self/cgroup cannot be read")?;
        let mounts = text("/proc/self/mountinfo").ok_or("/proc/self/mountinfo cannot be read")?;
        // The file only the host's root cgroup lacks, in each version.
        let (found, non_root) = match mounted(&cgroups, &mounts, Hierarchy::V1("pids")) {
            Some(found) => (found, "pids.max"),
            None => match mounted(&cgroups, &mounts, Hierarchy::V2) {
                Some(found) => (found, "cgroup.type"),
                None => return Err("no cgroup v1 pids or v2 hierarchy is mounted".into()),
            },
        };
        let cgroup = Cgroup { dir: found? };
        if !exists(&cgroup.file(non_root)) {
            return Err(text!(cgroup.dir, " is the host's root cgroup"));
        }
        if sys::proc_hides_processes() {
            return Err("/proc is mounted with hidepid and may hide its processes".into());
        }
        // Processes come and go while they are counted: a count that disagrees is taken again.
        let mut why = String::new();
        for _ in 0..3 {
            match cgroup.first_and_all_seen() {
                Ok(()) => return Ok(cgroup),
                Err(Unseen::Shared(why)) => return Err(why),
                Err(Unseen::Counted(counted)) => why = counted,
            }
        }
        Err(why)
    }

    /// Whether rinit is the cgroup's first process and sees every task in it. Not PID 1 this
    /// is asked before rinit forks, so nothing else may be there yet; as PID 1 every process
    /// of its namespace came after it, and each one it can see may be there.
    fn first_and_all_seen(&self) -> Result<(), Unseen> {
        let (pid, dir) = (sys::pid(), &self.dir);
        // Counted before the listing: a task that comes in between only adds to what rinit
        // sees; one that leaves makes the count disagree, and it is taken again.
        let counted: Option<usize> =
            text(&self.file("pids.current")).and_then(|n| n.trim_ascii().parse().ok());
        let (mut listed, mut seen) = (false, 0);
        // v2 lists a process outside this PID namespace as 0; v1 leaves it out (but counts it
        // in pids.current).
        for line in text(&self.file("cgroup.procs")).unwrap_or_default().lines() {
            let Ok(member) = line.trim_ascii().parse::<i32>() else {
                continue;
            };
            if member <= 0 {
                let why = text!(dir, " holds processes outside rinit's PID namespace");
                return Err(Unseen::Shared(why));
            }
            if member == pid {
                listed = true;
            } else if pid != 1 {
                let why = text!(
                    dir,
                    " is shared: process ",
                    member,
                    " was in it before rinit"
                );
                return Err(Unseen::Shared(why));
            }
            // Threads as /proc/PID/task lists them (qemu-user rewrites its own stat file).
            match sys::threads(member) {
                0 if exists(&text!("/proc/", member)) => {
                    let why = text!(dir, " holds process ", member, ", which /proc hides");
                    return Err(Unseen::Shared(why));
                }
                threads => seen += threads, // none: exited since the listing
            }
        }
        if !listed {
            return Err(Unseen::Shared(text!("rinit is not in ", dir)));
        }
        match counted {
            Some(counted) if counted > seen => Err(Unseen::Counted(text!(
                dir,
                " holds ",
                counted,
                " tasks, of which rinit sees ",
                seen,
                " \
                 (processes outside its PID namespace, or in a cgroup below)"
            ))),
            _ => Ok(()),
        }
    }

    /// The directory, for the log.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Every process of the cgroup this PID namespace shows (others read as 0, or not at all).
    pub fn processes(&self) -> Vec<i32> {
        text(&self.file("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim_ascii().parse().ok())
            .filter(|pid| *pid > 0)
            .collect()
    }

    fn file(&self, name: &str) -> String {
        text!(self.dir, "/", name)
    }
}

/// The container's memory cgroup, read only after a process died of SIGKILL: the OOM kills
/// it counted, and its limit.
#[derive(Debug, Default)]
pub struct Memory {
    /// Whether rinit's cgroup is its container's own, when that was decided as it started
    /// (not PID 1); `None`: decided on first use.
    owned: Option<bool>,
    /// Found on first use: `None` where the container's own memory cgroup cannot be read.
    cgroup: Option<Option<(Cgroup, Hierarchy)>>,
    /// OOM kills already blamed for a death: each is blamed for one, and a SIGKILL with none
    /// left to blame is somebody's `kill -9`.
    blamed: u64,
}

impl Memory {
    pub fn new(owned: Option<bool>) -> Self {
        Memory {
            owned,
            ..Memory::default()
        }
    }

    /// A process just died of SIGKILL: if the cgroup counted an OOM kill not yet blamed for
    /// another death, this one is blamed; returns the memory limit in bytes (`None`: none).
    pub fn killed_by_oom(&mut self) -> Option<Option<u64>> {
        let owned = self.owned;
        let found = || {
            let owned = owned.unwrap_or_else(|| Cgroup::own().is_ok());
            owned.then(memory_cgroup).flatten()
        };
        let (cgroup, hierarchy) = self.cgroup.get_or_insert_with(found).as_ref()?;
        let (events, limit) = match hierarchy {
            Hierarchy::V1(_) => ("memory.oom_control", "memory.limit_in_bytes"),
            Hierarchy::V2 => ("memory.events", "memory.max"),
        };
        let count = oom_kills(&text(&cgroup.file(events))?)?;
        if count <= self.blamed {
            return None;
        }
        self.blamed += 1;
        Some(text(&cgroup.file(limit)).and_then(|l| memory_limit(&l)))
    }
}

/// The memory cgroup, once rinit's is known to be the container's own, where the memory
/// hierarchy's is too (the root of its mount).
fn memory_cgroup() -> Option<(Cgroup, Hierarchy)> {
    let cgroups = text("/proc/self/cgroup")?;
    let mounts = text("/proc/self/mountinfo")?;
    [Hierarchy::V1("memory"), Hierarchy::V2]
        .into_iter()
        .find_map(|h| {
            Some((
                Cgroup {
                    dir: mounted(&cgroups, &mounts, h)?.ok()?,
                },
                h,
            ))
        })
}

/// Why rinit cannot take a cgroup for its container's own.
enum Unseen {
    /// For good: another process is, or may be, in it (seen, hidden, or outside rinit's PID
    /// namespace).
    Shared(String),
    /// The cgroup counts more tasks than rinit saw (worth counting again).
    Counted(String),
}

/// A cgroup hierarchy: a v1 one by a controller it carries, or the v2 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    V1(&'static str),
    V2,
}

/// Where rinit's cgroup of `hierarchy` is mounted as the root of a mount (the last such mount:
/// it hides the others), or `Err` when that hierarchy is mounted only above or beside it;
/// `None` when rinit is in no such hierarchy, or none is mounted.
fn mounted(cgroups: &str, mounts: &str, hierarchy: Hierarchy) -> Option<Result<String, String>> {
    // /proc/self/cgroup: `ID:CONTROLLERS:PATH`, v2's line being `0::PATH`.
    let path = cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let wanted = match hierarchy {
            Hierarchy::V1(name) => controllers.split(',').any(|c| c == name),
            Hierarchy::V2 => id == "0" && controllers.is_empty(),
        };
        wanted.then_some(path)
    })?;
    let mut found = None;
    let mut elsewhere = false;
    // /proc/self/mountinfo: `ID PARENT DEV ROOT MOUNTPOINT OPTIONS... - TYPE SOURCE OPTIONS`.
    for line in mounts.lines() {
        let Some((mount, filesystem)) = sys::split_once(line, " - ") else {
            continue;
        };
        let mut filesystem = filesystem.split(' ');
        let (kind, options) = (filesystem.next(), filesystem.nth(1).unwrap_or(""));
        let ours = match hierarchy {
            Hierarchy::V1(name) => kind == Some("cgroup") && options.split(',').any(|o| o == name),
            Hierarchy::V2 => kind == Some("cgroup2"),
        };
        let mut fields = mount.split(' ').skip(3);
        let (Some(root), Some(point)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !ours {
            continue;
        }
        match unescape(root) == path {
            true => found = Some(unescape(point)),
            false => elsewhere = true,
        }
    }
    match (found, elsewhere) {
        (Some(dir), _) => Some(Ok(dir)),
        (None, true) => Some(Err(text!(
            "rinit's cgroup ",
            path,
            " is not the root of a cgroup mount here (not a container's own)"
        ))),
        (None, false) => None,
    }
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |n, b| n.wrapping_mul(8) + (b - b'0')));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    sys::lossy(&out)
}

/// The `oom_kill N` line of v1's memory.oom_control or v2's memory.events.
fn oom_kills(events: &str) -> Option<u64> {
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim_ascii().parse().ok())
}

/// A memory limit in bytes; `None` for none (v2's `max`, v1's page-counter maximum).
fn memory_limit(text: &str) -> Option<u64> {
    text.trim_ascii()
        .parse()
        .ok()
        .filter(|bytes| *bytes < 1 << 62)
}

/// A limit as people write it: `48 MiB`, `2 GiB`, `95.3 MiB` (`--memory 100000000`), `512 KiB`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = KIB * KIB;
    match bytes {
        b if b % (MIB * KIB) == 0 => text!(b / (MIB * KIB), " GiB"),
        b if b % MIB == 0 => text!(b / MIB, " MiB"),
        b if b >= MIB => {
            // Tenths, in integers: no float formatting in the binary.
            let tenths = b.saturating_mul(10) / MIB;
            text!(tenths / 10, ".", tenths % 10, " MiB")
        }
        b if b % KIB == 0 => text!(b / KIB, " KiB"),
        b => text!(b, " bytes"),
    }
}

fn text(path: &str) -> Option<String> {
    sys::read_file(path).map(|bytes| sys::lossy(&bytes))
}

fn exists(path: &str) -> bool {
    let Ok(path) = alloc::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: access with a NUL-terminated path only checks it; nothing is opened.
    unsafe { libc::access(path.as_ptr(), libc::F_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "9:name=systemd:/\n8:pids:/user.slice/session-3.scope\n\
                        4:memory:/user.slice\n0::/user.slice/session-3.scope\n";
    const HOST_MOUNTS: &str = "\
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const DOCKER: &str = "8:pids:/docker/abc\n4:memory:/docker/abc\n0::/docker/abc\n";
    const DOCKER_MOUNTS: &str = "\
600 590 0:36 /docker/abc /sys/fs/cgroup/pids ro,nosuid master:17 - cgroup cgroup rw,pids
601 590 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
";

    #[test]
    fn a_container_sees_its_cgroup_as_the_root_of_the_mount() {
        let pids = mounted(DOCKER, DOCKER_MOUNTS, Hierarchy::V1("pids"));
        assert_eq!(pids, Some(Ok("/sys/fs/cgroup/pids".into())));
        let v2 = mounted(
            "0::/\n",
            "30 1 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n",
            Hierarchy::V2,
        );
        assert_eq!(v2, Some(Ok("/sys/fs/cgroup".into())));
    }

    #[test]
    fn a_host_process_sees_its_cgroup_below_the_root_of_the_mount() {
        let pids = mounted(HOST, HOST_MOUNTS, Hierarchy::V1("pids"));
        assert!(
            matches!(&pids, Some(Err(why)) if why.contains("not the root")),
            "{pids:?}"
        );
        // A hierarchy rinit is in but nobody mounted, and one rinit is not in.
        assert_eq!(mounted(HOST, "", Hierarchy::V1("pids")), None);
        assert_eq!(mounted(DOCKER, DOCKER_MOUNTS, Hierarchy::V1("cpu")), None);
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(unescape(r"/a\04"), r"/a\04");
    }

    #[test]
    fn oom_counts_and_limits_read_as_the_kernel_writes_them() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(oom_kills(v1), Some(2));
        let v2 = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(oom_kills(v2), Some(1));
        assert_eq!(memory_limit("50331648\n"), Some(48 << 20));
        assert_eq!(memory_limit("max\n"), None);
        assert_eq!(memory_limit("9223372036854771712\n"), None);
        assert_eq!(size(48 << 20), "48 MiB");
        assert_eq!(size(2 << 30), "2 GiB");
        assert_eq!(size(1536 << 10), "1.5 MiB");
        assert_eq!(size(100_000_000), "95.3 MiB");
        assert_eq!(size(512 << 10), "512 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
