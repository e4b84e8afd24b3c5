//! rinit's entry point: read the command line, run, exit with the command's status.
//!
//! `main` is the C entry point, not Rust's: Rust's runtime sets SIGPIPE to ignored before its
//! own `main`, an ignored signal survives exec, and so every command would start with SIGPIPE
//! ignored (a `yes | head` in it would then spin on EPIPE instead of ending).
#![no_main]

use rinit::cli::{self, Invocation};
use std::ffi::{c_char, c_int, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args = (0..argc.max(0) as usize).map(|i| {
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        OsStr::from_bytes(unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes()).to_owned()
    });
    let code = match cli::parse(args, |name| std::env::var_os(name)) {
        Ok(Invocation::Run(settings)) => rinit::run(&settings),
        Ok(Invocation::Print(text)) => rinit::log::print(&text),
        Err(error) => rinit::log::fail(&error),
    };
    code.into()
}
