//! Messages on stderr, in the format of the name rinit was called under ([`crate::voice`]),
//! never on stdout (that belongs to the command). After
//! a write fails (the reader of a pipe went away, a full disk, a file size limit) rinit logs no
//! more: each further write would fail again and raise another SIGPIPE or SIGXFSZ on rinit.
//! Logging must never stop an init.

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

/// One line with no prefix (glibc getopt's own messages under a peer's name).
pub fn line_raw(message: fmt::Arguments) {
    write_line(alloc::string::String::new(), message);
}

/// Fixed text that holds no user value, written as it is (a peer's multi-line message).
pub fn verbatim(text: &str) {
    write(alloc::format!("{text}\n"));
}

/// One line on stderr after `prefix` (`rinit: `, `[WARN  tini (7)] `: [`crate::voice`] words
/// it), in a single write so lines from processes do not interleave.
pub fn write_line(mut text: alloc::string::String, message: fmt::Arguments) {
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

/// Help, version or license text on stdout; returns 0.
pub fn print(text: &str) -> u8 {
    let _ = sys::write_all(1, text.as_bytes());
    0
}

/// A list of pids as `[1, 2, 3]` (what `{:?}` wrote; Debug's machinery is not linked for it).
pub struct Pids<'a>(pub &'a [i32]);

impl fmt::Display for Pids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, pid) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{pid}")?;
        }
        f.write_str("]")
    }
}

/// A duration as `1.5s`, `250ms`, `20µs` or `7ns`: the largest unit under which it is at least
/// 1, with no trailing zeros (what `{:?}` wrote, without its u128 arithmetic).
pub struct Span(pub core::time::Duration);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (seconds, nanos) = (self.0.as_secs(), self.0.subsec_nanos());
        let (whole, mut rest, mut digit, unit) = match nanos {
            _ if seconds > 0 => (seconds, nanos, 100_000_000, "s"),
            1_000_000.. => (
                u64::from(nanos / 1_000_000),
                nanos % 1_000_000,
                100_000,
                "ms",
            ),
            1_000.. => (u64::from(nanos / 1_000), nanos % 1_000, 100, "µs"),
            _ => (u64::from(nanos), 0, 1, "ns"),
        };
        write!(f, "{whole}")?;
        if rest > 0 {
            f.write_str(".")?;
        }
        while rest > 0 {
            write!(f, "{}", rest / digit)?;
            rest %= digit;
            digit /= 10;
        }
        f.write_str(unit)
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

    #[test]
    fn pids_and_spans_read_as_debug_wrote_them() {
        use core::time::Duration;
        for pids in [&[][..], &[7], &[1, 22, 333]] {
            assert_eq!(Pids(pids).to_string(), format!("{pids:?}"));
        }
        let nanos = [
            0, 1, 7, 999, 1_000, 1_500, 20_000, 999_999, 1_000_000, 1_250_000,
        ];
        let more = [250_000_000, 999_999_999, 100_000_000, 10];
        for seconds in [0, 1, 2, 10, 3600, u64::MAX] {
            for nanos in nanos.iter().chain(&more) {
                let span = Duration::new(seconds, *nanos);
                assert_eq!(Span(span).to_string(), format!("{span:?}"));
            }
        }
    }
}
