//! `--user USER[:GROUP]`: who the command runs as. rinit itself stays root, so that it can
//! still signal and reap every process at shutdown, whoever owns it.
//!
//! Names are looked up in the image's own `/etc/passwd` and `/etc/group` (the binary is static:
//! no NSS, no LDAP), before fork, in rinit; numeric ids need no entry at all (a `FROM scratch`
//! image has no /etc/passwd). The files are read a line at a time through a fixed buffer, so a
//! hostile or huge file costs no more memory than its longest useful line; longer lines are
//! skipped. The switch itself ([`switch`]) runs in the child between fork and exec: only
//! async-signal-safe syscalls.
//!
//! Written by hand: the well-kept crates for this (nix's `User`, `uzers`) call the C library's
//! getpwnam, which needs std, and whose static musl build reads the same files anyway.

use crate::log::Piece;
use crate::put;
use crate::sys::Errno;
use crate::text;
use alloc::string::String;
use alloc::vec::Vec;

pub const PASSWD: &str = "/etc/passwd";
pub const GROUP: &str = "/etc/group";

/// Lines longer than this are skipped: no passwd or group entry a person wrote is this long.
const MAX_LINE: usize = 64 * 1024;
/// A passwd or group file larger than this is refused, unread: a directory service's export
/// for a million users stays below it, and reading it is bounded in time as well as memory.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// The kernel's limit on supplementary groups (NGROUPS_MAX).
const MAX_GROUPS: usize = 65_536;

/// A user or group as given: a number, or a name to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    Id(u32),
    Named(Vec<u8>),
}

/// `--user`'s value: as written, with its source (for messages), and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub text: String,
    pub user: Name,
    pub group: Option<Name>,
}

impl Spec {
    /// `USER` or `USER:GROUP`, each a name or a decimal id; `None` if malformed.
    pub fn parse(value: &str) -> Option<Spec> {
        let (user, group) = match value.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (value, None),
        };
        Some(Spec {
            text: value.into(),
            user: name(user)?,
            group: match group {
                Some(group) => Some(name(group)?),
                None => None,
            },
        })
    }
}

/// A decimal id (not -1, which the kernel reads as "unchanged"), or a name that could stand
/// in /etc/passwd: not empty, no ':', no control character.
fn name(text: &str) -> Option<Name> {
    if text.is_empty() || text.chars().any(|c| c == ':' || c.is_control()) {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u32>() {
            Ok(id) if id != u32::MAX => Some(Name::Id(id)),
            _ => None,
        };
    }
    Some(Name::Named(text.as_bytes().to_vec()))
}

/// Who the command runs as, resolved: everything the child needs for the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary group first, then every group of /etc/group that
    /// lists the user (as initgroups sets them).
    pub groups: Vec<u32>,
    /// The user's home from /etc/passwd, or `/` without an entry.
    pub home: Vec<u8>,
}

/// Why `--user` cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No such user (in /etc/passwd) or group (in /etc/group).
    Unknown { file: &'static str, name: Vec<u8> },
    /// The file could not be read.
    Unreadable { file: &'static str, errno: Errno },
    /// The entry for the name is not `name:x:uid:gid:...` with numeric ids.
    Malformed { file: &'static str, line: usize },
    /// A field of the entry holds a NUL byte, which no environment variable can carry.
    Nul {
        file: &'static str,
        line: usize,
        field: &'static str,
    },
    /// Not a regular file (a device, a FIFO, a directory: reading it could block or never
    /// end); `what` names what it is.
    NotRegular {
        file: &'static str,
        what: &'static str,
    },
    /// Larger than [`MAX_FILE`].
    TooLarge { file: &'static str },
}

/// Resolves `spec` against the files at `passwd` and `group` (the image's own, normally).
pub fn resolve(spec: &Spec, passwd: &str, group: &str) -> Result<Credentials, Problem> {
    let (uid, entry) = match &spec.user {
        Name::Named(user) => {
            let entry =
                find_user(passwd, &|fields| fields[0] == user.as_slice())?.ok_or_else(|| {
                    Problem::Unknown {
                        file: PASSWD,
                        name: user.clone(),
                    }
                })?;
            (entry.uid, Some(entry))
        }
        // A numeric uid needs no entry (nor a file); with one, its name, group and home apply.
        Name::Id(uid) => {
            let entry = match find_user(passwd, &|fields| fields[2] == id_text(*uid).as_slice()) {
                Err(Problem::Unreadable {
                    errno: Errno::ENOENT,
                    ..
                }) => None,
                found => found?,
            };
            (*uid, entry)
        }
    };
    let gid = match &spec.group {
        Some(Name::Id(gid)) => *gid,
        Some(Name::Named(name)) => find_group_id(group, name)?,
        // Without an entry, the group of the same number: never root's group 0.
        None => entry.as_ref().map_or(uid, |entry| entry.gid),
    };
    let mut groups = alloc::vec![gid];
    if let Some(entry) = &entry {
        member_of(group, &entry.name, &mut groups)?;
    }
    Ok(Credentials {
        uid,
        gid,
        groups,
        home: entry.map_or_else(|| b"/".to_vec(), |entry| entry.home),
    })
}

/// A passwd entry's useful fields.
struct Entry {
    name: Vec<u8>,
    uid: u32,
    gid: u32,
    home: Vec<u8>,
}

/// The first entry of the passwd file at `path` for which `matches` holds (given at least
/// the name, password and uid fields); `Ok(None)` if there is none.
fn find_user(path: &str, matches: &dyn Fn(&[&[u8]]) -> bool) -> Result<Option<Entry>, Problem> {
    let mut found = None;
    each_line(path, PASSWD, &mut |number, line| {
        let fields: Vec<&[u8]> = line.split(|b| *b == b':').collect();
        if fields.len() < 3 || !matches(&fields) {
            return Ok(true);
        }
        let malformed = Problem::Malformed {
            file: PASSWD,
            line: number,
        };
        if fields.len() < 6 {
            return Err(malformed);
        }
        let (Some(uid), Some(gid)) = (id(fields[2]), id(fields[3])) else {
            return Err(malformed);
        };
        if fields[5].contains(&0) {
            return Err(Problem::Nul {
                file: PASSWD,
                line: number,
                field: "home",
            });
        }
        found = Some(Entry {
            name: fields[0].to_vec(),
            uid,
            gid,
            home: match fields[5] {
                b"" => b"/".to_vec(),
                home => home.to_vec(),
            },
        });
        Ok(false)
    })?;
    Ok(found)
}

/// The gid of group `name` in the group file at `path`.
fn find_group_id(path: &str, name: &[u8]) -> Result<u32, Problem> {
    let mut found = None;
    each_line(path, GROUP, &mut |number, line| {
        let fields: Vec<&[u8]> = line.split(|b| *b == b':').collect();
        if fields[0] != name {
            return Ok(true);
        }
        found = Some(
            fields
                .get(2)
                .and_then(|gid| id(gid))
                .ok_or(Problem::Malformed {
                    file: GROUP,
                    line: number,
                })?,
        );
        Ok(false)
    })?;
    found.ok_or_else(|| Problem::Unknown {
        file: GROUP,
        name: name.to_vec(),
    })
}

/// Adds to `groups` the gid of every group in the file at `path` that lists `user` as a
/// member, once each. No group file is no groups; a malformed line is skipped, as the C
/// library does.
fn member_of(path: &str, user: &[u8], groups: &mut Vec<u32>) -> Result<(), Problem> {
    let result = each_line(path, GROUP, &mut |_, line| {
        let fields: Vec<&[u8]> = line.split(|b| *b == b':').collect();
        let listed = fields.len() >= 4 && fields[3].split(|b| *b == b',').any(|m| m == user);
        if let (true, Some(gid)) = (listed, fields.get(2).and_then(|gid| id(gid))) {
            if !groups.contains(&gid) {
                groups.push(gid);
            }
        }
        Ok(groups.len() < MAX_GROUPS)
    });
    match result {
        Err(Problem::Unreadable {
            errno: Errno::ENOENT,
            ..
        }) => Ok(()),
        other => other,
    }
}

/// A decimal id as the files write it.
fn id(text: &[u8]) -> Option<u32> {
    let text = core::str::from_utf8(text).ok()?;
    match text.parse::<u32>() {
        Ok(id) if id != u32::MAX && text.bytes().all(|b| b.is_ascii_digit()) => Some(id),
        _ => None,
    }
}

fn id_text(id: u32) -> Vec<u8> {
    text!(id).into_bytes()
}

/// What [`each_line`] calls for each line: with its number, whether to read on.
type Visit<'a> = dyn FnMut(usize, &[u8]) -> Result<bool, Problem> + 'a;

/// Calls `visit(line number, line)` for each line of the file at `path` (without its newline;
/// blank lines, `#` comments and lines over [`MAX_LINE`] skipped) until it returns `Ok(false)`
/// or an error. Reads through one fixed buffer: memory stays bounded whatever the file.
/// `visit` is dynamic: one copy of the reading serves every lookup.
fn each_line(path: &str, file: &'static str, visit: &mut Visit) -> Result<(), Problem> {
    let unreadable = |errno| Problem::Unreadable { file, errno };
    let path = alloc::ffi::CString::new(path).map_err(|_| unreadable(Errno::EINVAL))?;
    // Looked at before it is opened: opening a device can have effects of its own.
    // SAFETY: stat writes into a live, zeroed stat struct; `path` is NUL-terminated.
    let mut stat: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::stat(path.as_ptr(), &mut stat) } != 0 {
        return Err(unreadable(Errno::last()));
    }
    if let Err(what) = kind(&stat) {
        return Err(Problem::NotRegular { file, what });
    }
    // O_NONBLOCK: a FIFO put there since would otherwise wait for a writer, before rinit runs
    // anything; the descriptor is checked again below.
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: `path` is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    if fd < 0 {
        return Err(unreadable(Errno::last()));
    }
    let result = match regular_size(fd) {
        Err(errno) => Err(unreadable(errno)),
        Ok(Err(what)) => Err(Problem::NotRegular { file, what }),
        // Read no further than the bound either: a file may grow while it is read.
        Ok(Ok(size)) if size > MAX_FILE => Err(Problem::TooLarge { file }),
        Ok(Ok(_)) => read_lines(fd, file, visit),
    };
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(fd) };
    result
}

/// The size of the regular file open at `fd`, or what else it is: a device (`/dev/zero`
/// never ends), a FIFO (a read waits for a writer) or a directory.
fn regular_size(fd: libc::c_int) -> Result<Result<u64, &'static str>, Errno> {
    // SAFETY: fstat writes into a live, zeroed stat struct.
    let mut stat: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: as above, with the descriptor the caller opened.
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return Err(Errno::last());
    }
    Ok(kind(&stat))
}

/// A regular file's size, or what else the file is.
fn kind(stat: &libc::stat) -> Result<u64, &'static str> {
    match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => Ok(stat.st_size as u64),
        libc::S_IFDIR => Err("a directory"),
        libc::S_IFIFO => Err("a FIFO"),
        libc::S_IFCHR => Err("a character device"),
        libc::S_IFBLK => Err("a block device"),
        libc::S_IFSOCK => Err("a socket"),
        _ => Err("not a regular file"),
    }
}

/// [`each_line`]'s reading, from the open regular file `fd`, at most [`MAX_FILE`] bytes.
fn read_lines(fd: libc::c_int, file: &'static str, visit: &mut Visit) -> Result<(), Problem> {
    let unreadable = |errno| Problem::Unreadable { file, errno };
    let mut total: u64 = 0;
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut number = 0;
    let mut buffer = [0u8; 4096];
    let result = 'read: loop {
        // SAFETY: reads into a live buffer of the given length.
        let read = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        let chunk = match read {
            0 => None,
            n if n > 0 => Some(&buffer[..n as usize]),
            _ if Errno::last() == Errno::EINTR => continue,
            _ => break Err(unreadable(Errno::last())),
        };
        total += chunk.map_or(0, |c| c.len() as u64);
        if total > MAX_FILE {
            break Err(Problem::TooLarge { file });
        }
        let bytes = chunk.unwrap_or(b"\n"); // the last line may lack its newline
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let (text, ends) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            if !too_long && line.len() + text.len() <= MAX_LINE {
                line.extend_from_slice(text);
            } else {
                too_long = true;
                line.clear();
            }
            if !ends {
                continue;
            }
            number += 1;
            let skip = too_long || line.is_empty() || line[0] == b'#';
            if !skip {
                match visit(number, &line) {
                    Ok(true) => {}
                    Ok(false) => break 'read Ok(()),
                    Err(problem) => break 'read Err(problem),
                }
            }
            line.clear();
            too_long = false;
        }
        if chunk.is_none() {
            break Ok(());
        }
    };
    result
}

/// Why the command could not be run as `--user` asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Before fork: the lookup.
    Lookup(Problem),
    /// In the child: a step of the switch, with the kernel's refusal.
    Switch(Step, Errno),
}

impl Piece for Failure {
    fn put(&self, text: &mut String) {
        let lossy = crate::sys::lossy;
        match self {
            Failure::Lookup(Problem::Unknown { file, name }) => {
                let what = if *file == PASSWD { "user" } else { "group" };
                put!(text; "no ", what, " '", lossy(name), "' in ", file)
            }
            // A non-root rinit refused the file (podman 4.3 adds a root-only /etc/passwd to
            // images without one) could not switch users anyway: say what would.
            Failure::Lookup(Problem::Unreadable { file, errno })
                if *errno == Errno::EACCES && !rustix::process::geteuid().is_root() =>
            {
                put!(text; "cannot read ", file, ": ", errno,
                    " (--user needs root with CAP_SETUID and CAP_SETGID)")
            }
            Failure::Lookup(Problem::Unreadable { file, errno }) => {
                put!(text; "cannot read ", file, ": ", errno)
            }
            Failure::Lookup(Problem::Nul { file, line, field }) => {
                put!(text; file, " line ", line, ": the ", field, " field holds a NUL byte")
            }
            Failure::Lookup(Problem::NotRegular { file, what }) => {
                put!(text; file, " is ", what, ", not a regular file")
            }
            Failure::Lookup(Problem::TooLarge { file }) => {
                put!(text; file, " is larger than ", MAX_FILE >> 20, " MiB; not read")
            }
            Failure::Lookup(Problem::Malformed { file, line }) => {
                let form = if *file == PASSWD {
                    "name:password:uid:gid:gecos:home:shell"
                } else {
                    "name:password:gid:members"
                };
                put!(text; file, " line ", line, " is malformed (expected ", form, ")")
            }
            Failure::Switch(step, errno) if *errno == Errno(libc::EPERM) => put!(text;
                step.call(), ": ", errno, " (it needs root with CAP_SETUID and CAP_SETGID)"),
            Failure::Switch(step, errno) => put!(text; step.call(), ": ", errno),
        }
    }
}

/// Which step of the switch failed, as the child reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Groups = 1,
    Group = 2,
    User = 3,
    /// The ids read back differ from those asked for.
    Check = 4,
    /// Capabilities were left after the switch and could not be dropped.
    Capabilities = 5,
}

impl Step {
    pub fn from_byte(byte: u8) -> Option<Step> {
        [
            Step::Groups,
            Step::Group,
            Step::User,
            Step::Check,
            Step::Capabilities,
        ]
        .into_iter()
        .find(|step| *step as u8 == byte)
    }

    pub fn call(self) -> &'static str {
        match self {
            Step::Groups => "setgroups",
            Step::Group => "setresgid",
            Step::User => "setresuid",
            Step::Check => "the ids read back",
            Step::Capabilities => "capset",
        }
    }
}

/// In the child, between fork and exec: supplementary groups first (only root may set them),
/// then the group, then the user (after which nothing else could be changed), then a check
/// that the ids took, real, effective and saved. Async-signal-safe syscalls only.
pub fn switch(credentials: &Credentials) -> Result<(), (Step, Errno)> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    let step = |step: Step| move |errno: rustix::io::Errno| (step, Errno(errno.raw_os_error()));
    let (uid, gid) = (credentials.uid, credentials.gid);
    let target =
        |uids, gids| ids(libc::getresuid) == Some(uids) && ids(libc::getresgid) == Some(gids);
    // Not root, and already that user, group and supplementary groups: there is nothing to
    // switch (and only root may set groups).
    if uid == 0 || !target([uid; 3], [gid; 3]) || !has_only_groups(&credentials.groups, gid) {
        // The calls for this thread alone, not the C library's: those make every thread of the
        // process switch, through signals and locks this child (one thread, forked) never needs.
        // SAFETY: Gid is a transparent u32, so the vector's ids read as Gids.
        let groups = unsafe {
            core::slice::from_raw_parts(
                credentials.groups.as_ptr().cast::<Gid>(),
                credentials.groups.len(),
            )
        };
        let (user, group) = (Uid::from_raw(uid), Gid::from_raw(gid));
        set_thread_groups(groups).map_err(step(Step::Groups))?;
        set_thread_res_gid(group, group, group).map_err(step(Step::Group))?;
        set_thread_res_uid(user, user, user).map_err(step(Step::User))?;
        if !target([uid; 3], [gid; 3]) {
            return Err((Step::Check, Errno(libc::EPERM)));
        }
    }
    if uid != 0 {
        drop_capabilities().map_err(|errno| (Step::Capabilities, errno))?;
    }
    Ok(())
}

/// Whether the supplementary groups are exactly `groups` (in any order), the primary group
/// `gid` counting as held either way. A fixed buffer: no allocation between fork and exec; more
/// groups than it holds count as different.
fn has_only_groups(groups: &[u32], gid: u32) -> bool {
    let mut current = [0u32; 256];
    // SAFETY: getgroups writes at most `current.len()` ids into the live array.
    let count = unsafe { libc::getgroups(current.len() as libc::c_int, current.as_mut_ptr()) };
    let Ok(count) = usize::try_from(count) else {
        return false;
    };
    let current = &current[..count];
    current.iter().all(|g| *g == gid || groups.contains(g))
        && groups.iter().all(|g| *g == gid || current.contains(g))
}

/// The real, effective and saved ids, as `getresuid` or `getresgid` reads them.
fn ids(
    read: unsafe extern "C" fn(*mut u32, *mut u32, *mut u32) -> libc::c_int,
) -> Option<[u32; 3]> {
    let (mut real, mut effective, mut saved) = (0, 0, 0);
    // SAFETY: getresuid and getresgid write three ids into live locals.
    let done = unsafe { read(&mut real, &mut effective, &mut saved) };
    (done == 0).then_some([real, effective, saved])
}

/// The kernel clears a process's capabilities when its uids all leave 0, unless an inherited
/// securebit (SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS) says otherwise: clear them here in any
/// case, ambient ones included, so that the command holds none.
fn drop_capabilities() -> Result<(), Errno> {
    // struct __user_cap_header_struct and two __user_cap_data_struct, version 3 (64 bits).
    let header: [u32; 2] = [0x2008_0522, 0];
    let data = [0u32; 6];
    // SAFETY: capset reads the header and two data records from live arrays of that layout.
    let set = unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) };
    Errno::result(set)?;
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes plain integers; EINVAL before Linux 4.3, when
    // ambient capabilities did not exist yet.
    let cleared = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    match Errno::result(cleared) {
        Err(errno) if errno != Errno::EINVAL => Err(errno),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Files in a private temporary folder, named for the test.
    struct Files(std::path::PathBuf);

    impl Files {
        fn new(test: &str, passwd: &[u8], group: &[u8]) -> Self {
            let dir =
                std::env::temp_dir().join(format!("rinit-user-{}-{test}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("passwd"), passwd).unwrap();
            std::fs::write(dir.join("group"), group).unwrap();
            Files(dir)
        }

        fn resolve(&self, spec: &str) -> Result<Credentials, Problem> {
            let passwd = self.0.join("passwd").display().to_string();
            let group = self.0.join("group").display().to_string();
            resolve(&Spec::parse(spec).expect("a valid spec"), &passwd, &group)
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const PASSWD_TEXT: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        # a comment\n\
        \n\
        app:x:1000:1000:App:/home/app:/bin/sh\n\
        nohome:x:1001:1001::\n";
    const GROUP_TEXT: &[u8] = b"root:x:0:\n\
        app:x:1000:\n\
        audio:x:29:other,app\n\
        web:x:33:\n\
        video:x:44:app\n\
        again:x:29:app\n";

    #[test]
    fn specs_parse_names_ids_and_reject_the_malformed() {
        let spec = Spec::parse("app:web").unwrap();
        assert_eq!(
            (spec.text.as_str(), spec.user, spec.group),
            (
                "app:web",
                Name::Named(b"app".to_vec()),
                Some(Name::Named(b"web".to_vec()))
            )
        );
        let spec = Spec::parse("1000").unwrap();
        assert_eq!((spec.user, spec.group), (Name::Id(1000), None));
        for bad in [
            "",
            ":",
            "app:",
            ":web",
            "a:b:c",
            "4294967295",
            "99999999999",
            "a\nb",
        ] {
            assert_eq!(Spec::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_named_user_gets_its_ids_home_and_every_group_that_lists_it() {
        let files = Files::new("named", PASSWD_TEXT, GROUP_TEXT);
        assert_eq!(
            files.resolve("app"),
            Ok(Credentials {
                uid: 1000,
                gid: 1000,
                groups: vec![1000, 29, 44],
                home: b"/home/app".to_vec()
            })
        );
        let web = files.resolve("app:web").unwrap();
        assert_eq!((web.gid, web.groups), (33, vec![33, 29, 44]));
        assert_eq!(files.resolve("app:7").unwrap().groups, [7, 29, 44]);
        assert_eq!(files.resolve("nohome").unwrap().home, b"/");
        // A numeric uid with an entry is that user.
        assert_eq!(files.resolve("1000").unwrap().groups, [1000, 29, 44]);
    }

    #[test]
    fn a_numeric_user_without_an_entry_gets_its_own_number_as_group_never_roots() {
        let files = Files::new("numeric", PASSWD_TEXT, GROUP_TEXT);
        assert_eq!(
            files.resolve("4242"),
            Ok(Credentials {
                uid: 4242,
                gid: 4242,
                groups: vec![4242],
                home: b"/".to_vec()
            })
        );
        assert_eq!(files.resolve("4242:0").unwrap().groups, [0]);
        // No files at all, as in a scratch image.
        let spec = Spec::parse("4242:55").unwrap();
        let none = resolve(&spec, "/nonexistent/passwd", "/nonexistent/group").unwrap();
        assert_eq!((none.uid, none.gid, none.groups), (4242, 55, vec![55]));
    }

    #[test]
    fn unknown_names_and_malformed_entries_are_named() {
        let files = Files::new(
            "problems",
            b"bad:x:12\nworse:x:abc:1:::\nok:x:5:5::/:\n",
            b"broken\nweb:x:33:\n",
        );
        assert_eq!(
            files.resolve("nobody-here"),
            Err(Problem::Unknown {
                file: PASSWD,
                name: b"nobody-here".to_vec()
            })
        );
        assert_eq!(
            files.resolve("ok:nogroup"),
            Err(Problem::Unknown {
                file: GROUP,
                name: b"nogroup".to_vec()
            })
        );
        assert_eq!(
            files.resolve("bad"),
            Err(Problem::Malformed {
                file: PASSWD,
                line: 1
            })
        );
        assert_eq!(
            files.resolve("worse"),
            Err(Problem::Malformed {
                file: PASSWD,
                line: 2
            })
        );
        // The malformed "broken" line of /etc/group is skipped.
        assert_eq!(files.resolve("ok:web").unwrap().gid, 33);
        let spec = Spec::parse("ok").unwrap();
        assert_eq!(
            resolve(&spec, "/nonexistent/passwd", "/nonexistent/group"),
            Err(Problem::Unreadable {
                file: PASSWD,
                errno: Errno::ENOENT
            })
        );
        // A directory opens, but is no file to read lines from.
        assert_eq!(
            resolve(&spec, "/", "/nonexistent/group"),
            Err(Problem::NotRegular {
                file: PASSWD,
                what: "a directory"
            })
        );
    }

    #[test]
    fn hostile_files_never_panic_and_long_lines_are_skipped() {
        let mut random = crate::Random(0x2545_f491_4f6c_dd1d);
        for case in 0..300 {
            let length = random.below(4000);
            let alphabet = b"app:x:0123456789,#\n\xff\xc3 /";
            let bytes: Vec<u8> = (0..length)
                .map(|_| alphabet[random.below(alphabet.len())])
                .collect();
            let files = Files::new(&format!("fuzz{case}"), &bytes, &bytes);
            for spec in ["app", "app:app", "0", "1:app", "x"] {
                let _ = files.resolve(spec);
            }
        }
        // A line longer than MAX_LINE is skipped, whatever it holds; the next one counts.
        let mut huge = vec![b'a'; MAX_LINE + 10];
        huge.extend_from_slice(b":x:1:1::/h:\napp:x:7:7::/home/app:\n");
        let files = Files::new("long", &huge, b"");
        assert_eq!(files.resolve("app").unwrap().uid, 7);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(files.0.join("passwd"))
            .unwrap();
        file.write_all(b"last:x:9:9::/last").unwrap(); // no final newline
        drop(file);
        assert_eq!(files.resolve("last").unwrap().home, b"/last");
    }
}
