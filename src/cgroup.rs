//! The container's own cgroup: its processes that are not rinit's descendants (a shell entered
//! with `podman exec` or `kubectl exec` into a pod whose PID namespace is shared, where rinit is
//! not PID 1), and how many of them the kernel's out-of-memory killer took.
//!
//! A runtime shows a container its own cgroup as the root of what it mounts there: with cgroup
//! v1 it bind-mounts the container's cgroup (`/docker/ID`) on /sys/fs/cgroup/CONTROLLER, with v2
//! it gives the container a cgroup namespace whose root is that cgroup. So rinit takes its
//! cgroup for its container's own when all of these hold: its path in /proc/self/cgroup is the
//! root of a mount of that hierarchy in /proc/self/mountinfo; it is not the host's root cgroup
//! (which holds the whole machine); and no process in it started before rinit, which is then
//! the container's first process. rinit run by hand on a host, in a systemd unit, or with
//! `docker exec` fails one of them, and nothing is read from the cgroup beyond that.
//! The reach uses v1's pids controller (every container has one) or else v2; the memory count,
//! v1's memory controller or else v2.

use crate::sys;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A directory of the cgroup filesystem: rinit's cgroup in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    dir: String,
}

impl Cgroup {
    /// rinit's cgroup of the pids controller (v1) or of v2, if it is its container's own;
    /// otherwise why not, in words for the log.
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
            return Err(format!("{} is the host's root cgroup", cgroup.dir));
        }
        let (pid, start) = (sys::pid(), sys::process(sys::pid()).map_or(0, |p| p.start));
        // Start times count clock ticks: one in the same tick may have come first, and two
        // inits that each took the cgroup for their own would stop each other.
        let older = cgroup
            .processes()
            .into_iter()
            .filter(|other| *other != pid)
            .filter_map(sys::process)
            .find(|p| p.start <= start);
        match older {
            Some(p) => Err(format!(
                "{} is shared: process {} started in it before rinit",
                cgroup.dir, p.pid
            )),
            None => Ok(cgroup),
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
            .filter_map(|line| line.trim().parse().ok())
            .filter(|pid| *pid > 0)
            .collect()
    }

    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
}

/// The container's memory cgroup, read only after a process died of SIGKILL: the OOM kills
/// it counted, and its limit.
#[derive(Debug, Default)]
pub struct Memory {
    /// Found on first use: `None` where the container's own memory cgroup cannot be read.
    cgroup: Option<Option<(Cgroup, Hierarchy)>>,
    /// OOM kills already blamed for a death: each is blamed for one, and a SIGKILL with none
    /// left to blame is somebody's `kill -9`.
    blamed: u64,
}

impl Memory {
    /// A process just died of SIGKILL: if the cgroup counted an OOM kill not yet blamed for
    /// another death, this one is blamed; returns the memory limit in bytes (`None`: none).
    pub fn killed_by_oom(&mut self) -> Option<Option<u64>> {
        let (cgroup, hierarchy) = self.cgroup.get_or_insert_with(memory_cgroup).as_ref()?;
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

/// The memory cgroup, when the reach's cgroup is the container's own and the memory
/// hierarchy's is too (the root of its mount).
fn memory_cgroup() -> Option<(Cgroup, Hierarchy)> {
    Cgroup::own().ok()?;
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
        let Some((mount, filesystem)) = line.split_once(" - ") else {
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
        (None, true) => Some(Err(format!(
            "rinit's cgroup {path} is not the root of a cgroup mount here (not a container's own)"
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
    String::from_utf8_lossy(&out).into_owned()
}

/// The `oom_kill N` line of v1's memory.oom_control or v2's memory.events.
fn oom_kills(events: &str) -> Option<u64> {
    events
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// A memory limit in bytes; `None` for none (v2's `max`, v1's page-counter maximum).
fn memory_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok().filter(|bytes| *bytes < 1 << 62)
}

/// A limit as people write it: `48 MiB`, `2 GiB`, `1536 KiB`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b % (KIB * KIB * KIB) == 0 => format!("{} GiB", b / (KIB * KIB * KIB)),
        b if b % (KIB * KIB) == 0 => format!("{} MiB", b / (KIB * KIB)),
        b if b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

fn text(path: &str) -> Option<String> {
    sys::read_file(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
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
        assert_eq!(size(1536 << 10), "1536 KiB");
    }
}
