//! Messages on stderr, prefixed `rinit:`, never on stdout (that belongs to the command). A write
//! that fails (stderr closed, or a broken pipe) is dropped: logging must never stop an init.

use crate::error::Error;
use crate::sys;
use core::fmt;

/// Shown at verbosity 1 and up (the default): problems rinit works around.
pub const WARN: u8 = 1;
/// Shown with `-v`: signals received and forwarded, children reaped, shutdown steps.
pub const INFO: u8 = 2;
/// Shown with `-vv`.
pub const DEBUG: u8 = 3;

/// One `rinit: ...` line on stderr, in a single write so lines from processes do not interleave.
pub fn line(message: fmt::Arguments) {
    let text = alloc::format!("rinit: {message}\n");
    sys::write_all(2, text.as_bytes());
}

/// Reports `error` on stderr; returns its exit code.
pub fn fail(error: &Error) -> u8 {
    line(format_args!("{error}"));
    error.exit_code()
}

/// Help, version or license text on stdout; returns 0.
pub fn print(text: &str) -> u8 {
    sys::write_all(1, text.as_bytes());
    0
}

/// `say!(settings, level, "format", args)`: logs when `settings.verbosity >= level`.
#[macro_export]
macro_rules! say {
    ($settings:expr, $level:expr, $($arg:tt)*) => {
        if $settings.verbosity >= $level {
            $crate::log::line(format_args!($($arg)*));
        }
    };
}
