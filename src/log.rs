//! Messages on stderr, in the format of the name rinit was called under ([`crate::voice`]),
//! never on stdout (that belongs to the command). After
//! a write fails (the reader of a pipe went away, a full disk, a file size limit) rinit logs no
//! more: each further write would fail again and raise another SIGPIPE or SIGXFSZ on rinit.
//! Logging must never stop an init.

use crate::error::Error;
use crate::settings::Personality;
use crate::sys;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stderr has failed.
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Always shown: why rinit could not do what it was asked.
pub const ERROR: u8 = 0;
/// Shown at verbosity 1 and up (the default): problems rinit works around.
pub const WARN: u8 = 1;
/// Shown with `-v`: signals received and forwarded, children reaped, shutdown steps.
pub const INFO: u8 = 2;
/// Shown with `-vv`: what was dropped and why.
pub const DEBUG: u8 = 3;
/// Shown with `-vvv`: tini's trace level.
pub const TRACE: u8 = 4;

/// One line at `level` on stderr, with the personality's prefix (`rinit: `, `[WARN  tini (7)] `),
/// in a single write so lines from processes do not interleave.
pub fn line(personality: Personality, level: u8, message: fmt::Arguments) {
    write_line(crate::voice::prefix(personality, level), message);
}

/// One line with no prefix (glibc getopt's own messages under a peer's name).
pub fn line_raw(message: fmt::Arguments) {
    write_line(alloc::string::String::new(), message);
}

/// Fixed text that holds no user value, written as it is (a peer's multi-line message).
pub fn verbatim(text: &str) {
    write(alloc::format!("{text}\n"));
}

fn write_line(mut text: alloc::string::String, message: fmt::Arguments) {
    let _ = fmt::write(&mut Escaped(&mut text), message);
    text.push('\n');
    write(text);
}

fn write(text: alloc::string::String) {
    if STDERR_GONE.load(Ordering::Relaxed) {
        return;
    }
    if !sys::write_all(2, text.as_bytes()) {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

/// Appends text with control characters escaped (`\n`, `\t`, `\r`, `\x1b`, C1 ones too),
/// so that no value a user passed (an option, a variable, a command name) can break a log
/// line or drive a terminal.
struct Escaped<'a>(&'a mut alloc::string::String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for c in text.chars() {
            match c {
                '\n' => self.0.push_str("\\n"),
                '\t' => self.0.push_str("\\t"),
                '\r' => self.0.push_str("\\r"),
                c if c.is_control() => write!(self.0, "\\x{:02x}", c as u32)?,
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

/// Reports `error` on stderr as `personality` words it; returns its exit code.
pub fn fail(personality: Personality, error: &Error) -> u8 {
    crate::voice::fail(personality, error);
    error.exit_code()
}

/// Help, version or license text on stdout; returns 0.
pub fn print(text: &str) -> u8 {
    let _ = sys::write_all(1, text.as_bytes());
    0
}

/// `say!(settings, level, "format", args)`: logs when `settings.verbosity >= level`.
#[macro_export]
macro_rules! say {
    ($settings:expr, $level:expr, $($arg:tt)*) => {
        if $settings.verbosity >= $level {
            $crate::log::line($settings.personality, $level, format_args!($($arg)*));
        }
    };
}

/// A line formatted on the stack, for when the heap cannot be trusted (the panic handler).
/// Text beyond its 512 bytes is cut, and the cut line ends with `...` and a newline.
pub struct StackLine {
    bytes: [u8; 512],
    length: usize,
    cut: bool,
}

impl StackLine {
    pub fn new() -> Self {
        StackLine {
            bytes: [0; 512],
            length: 0,
            cut: false,
        }
    }

    pub fn write_to(&mut self, fd: i32) {
        if self.cut {
            let end = self.bytes.len() - 4;
            self.bytes[end..].copy_from_slice(b"...\n");
            self.length = self.bytes.len();
        }
        let _ = sys::write_all(fd, &self.bytes[..self.length]);
    }
}

impl Default for StackLine {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for StackLine {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - self.length;
        let take = text.len().min(room);
        self.bytes[self.length..self.length + take].copy_from_slice(&text.as_bytes()[..take]);
        self.length += take;
        self.cut |= take < text.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let mut text = alloc::string::String::new();
        let _ = fmt::write(
            &mut Escaped(&mut text),
            format_args!("exec {}: x", "a\nb\x1b[31m\u{9b}c\té"),
        );
        assert_eq!(text, "exec a\\nb\\x1b[31m\\x9bc\\té: x");
    }
}
