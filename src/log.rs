//! Messages on stderr, in the format of the name rinit was called under ([`crate::voice`]),
//! never on stdout (that belongs to the command). After
//! a write fails (the reader of a pipe went away, a full disk, a file size limit) rinit logs no
//! more: each further write would fail again and raise another SIGPIPE or SIGXFSZ on rinit.
//! Logging must never stop an init.

use crate::sys;
use alloc::string::String;
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

/// `text!(piece, ...)`: the pieces (text, numbers, values rinit words itself: see [`Piece`])
/// one after another in a new String. rinit's messages are only ever this, so core::fmt's
/// machinery (widths, padding, its number tables) is not linked.
#[macro_export]
macro_rules! text {
    ($($piece:expr),+ $(,)?) => {{
        let mut text = $crate::log::Text::new();
        $crate::put!(&mut text; $($piece),+);
        text
    }};
}

/// `put!(text; piece, ...)`: appends the pieces to `text` (a `&mut String`).
#[macro_export]
macro_rules! put {
    ($text:expr; $($piece:expr),+ $(,)?) => {{
        $($crate::log::Piece::put(&$piece, $text);)+
    }};
}

/// What [`text!`] builds.
pub type Text = String;

/// Something a message can hold: appends itself as words.
pub trait Piece {
    fn put(&self, text: &mut String);
}

impl Piece for str {
    // One call per piece, not String's growth code at each: messages are not a hot path.
    #[inline(never)]
    fn put(&self, text: &mut String) {
        text.push_str(self);
    }
}

impl Piece for String {
    fn put(&self, text: &mut String) {
        text.push_str(self);
    }
}

impl Piece for char {
    fn put(&self, text: &mut String) {
        text.push(*self);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn put(&self, text: &mut String) {
        (**self).put(text);
    }
}

impl<T: Piece + ?Sized> Piece for alloc::boxed::Box<T> {
    fn put(&self, text: &mut String) {
        (**self).put(text);
    }
}

/// Numbers in decimal, as `{}` wrote them.
macro_rules! decimal_pieces {
    ($($unsigned:ty),*; $($signed:ty),*) => {
        $(impl Piece for $unsigned {
            fn put(&self, text: &mut String) {
                sys::decimal(text, *self as u64);
            }
        })*
        $(impl Piece for $signed {
            fn put(&self, text: &mut String) {
                if *self < 0 {
                    text.push('-');
                }
                sys::decimal(text, self.unsigned_abs() as u64);
            }
        })*
    };
}

decimal_pieces!(u8, u32, u64, usize; i32, i64);

/// strerror's text, lower-cased to end a sentence: "permission denied".
impl Piece for sys::Errno {
    fn put(&self, text: &mut String) {
        text.push_str(&self.describe());
    }
}

/// One line with no prefix (glibc getopt's own messages under a peer's name).
pub fn line_raw(message: &str) {
    write_line(String::new(), message);
}

/// Fixed text that holds no user value, written as it is (a peer's multi-line message).
pub fn verbatim(text: &str) {
    write(text!(text, "\n"));
}

/// One line on stderr after `prefix` (`rinit: `, `[WARN  tini (7)] `: [`crate::voice`] words
/// it), in a single write so lines from processes do not interleave.
pub fn write_line(mut text: String, message: &str) {
    escape(&mut text, message);
    text.push('\n');
    write(text);
}

/// Appends `message` with control characters escaped (`\n`, `\t`, `\r`, `\x1b`, C1 ones
/// too), so that no value a user passed (an option, a variable, a command name) can break a log
/// line or drive a terminal.
fn escape(text: &mut String, message: &str) {
    for c in message.chars() {
        match c {
            '\n' => text.push_str("\\n"),
            '\t' => text.push_str("\\t"),
            '\r' => text.push_str("\\r"),
            // C0, DEL and C1: all below 0x100, so two hex digits each.
            c if c.is_control() => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = c as usize;
                text.push_str("\\x");
                text.push(char::from(HEX[code >> 4 & 15]));
                text.push(char::from(HEX[code & 15]));
            }
            c => text.push(c),
        }
    }
}

fn write(text: String) {
    if STDERR_GONE.load(Ordering::Relaxed) {
        return;
    }
    if !sys::write_all(2, text.as_bytes()) {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

/// Help, version or license text on stdout; returns 0.
pub fn print(text: &str) -> u8 {
    let _ = sys::write_all(1, text.as_bytes());
    0
}

/// A list of pids as `[1, 2, 3]` (what `{:?}` wrote).
pub struct Pids<'a>(pub &'a [i32]);

impl Piece for Pids<'_> {
    fn put(&self, text: &mut String) {
        text.push('[');
        for (i, pid) in self.0.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            pid.put(text);
        }
        text.push(']');
    }
}

/// A duration as `1.5s`, `250ms`, `20µs` or `7ns`: the largest unit under which it is at least
/// 1, with no trailing zeros (what `{:?}` wrote, without its u128 arithmetic).
pub struct Span(pub core::time::Duration);

impl Piece for Span {
    fn put(&self, text: &mut String) {
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
        whole.put(text);
        if rest > 0 {
            text.push('.');
        }
        while rest > 0 {
            (rest / digit).put(text);
            rest %= digit;
            digit /= 10;
        }
        text.push_str(unit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let mut text = String::new();
        escape(&mut text, "exec a\nb\x1b[31m\u{9b}c\té\x7f\0\r: x");
        assert_eq!(text, "exec a\\nb\\x1b[31m\\x9bc\\té\\x7f\\x00\\r: x");
    }

    #[test]
    fn numbers_read_as_display_wrote_them() {
        let mut random = crate::Random(7);
        let mut edges = vec![
            0,
            1,
            9,
            10,
            99,
            100,
            u64::MAX,
            u64::MAX - 1,
            i64::MAX as u64,
        ];
        edges.extend((0..2_000).map(|_| random.next() >> random.below(64)));
        for n in edges {
            assert_eq!(text!(n), n.to_string());
            assert_eq!(text!(n as u32), (n as u32).to_string());
            assert_eq!(text!(n as u8), (n as u8).to_string());
            assert_eq!(text!(n as usize), (n as usize).to_string());
            assert_eq!(text!(n as i32), (n as i32).to_string());
            assert_eq!(text!(n as i64), (n as i64).to_string());
        }
        for n in [i32::MIN, -1, i32::MAX] {
            assert_eq!(text!(n), n.to_string());
        }
        assert_eq!(text!(i64::MIN), i64::MIN.to_string());
        assert_eq!(text!("a", 'b', String::from("c"), &&"d", -3), "abcd-3");
    }

    #[test]
    fn pids_and_spans_read_as_debug_wrote_them() {
        use core::time::Duration;
        for pids in [&[][..], &[7], &[1, 22, 333], &[-1, i32::MIN]] {
            assert_eq!(text!(Pids(pids)), format!("{pids:?}"));
        }
        let nanos = [
            0, 1, 7, 999, 1_000, 1_500, 20_000, 999_999, 1_000_000, 1_250_000,
        ];
        let more = [250_000_000, 999_999_999, 100_000_000, 10];
        for seconds in [0, 1, 2, 10, 3600, u64::MAX] {
            for nanos in nanos.iter().chain(&more) {
                let span = Duration::new(seconds, *nanos);
                assert_eq!(text!(Span(span)), format!("{span:?}"));
            }
        }
    }
}
