//! rinit's entry point: read the command line, run, exit with the command's status.
//!
//! `main` is the C entry point and the binary is `no_std`: Rust's runtime would set SIGPIPE to
//! ignored before its own `main` (an ignored signal survives exec, so every command would start
//! with SIGPIPE ignored), and std's panic and backtrace machinery would be most of the binary.
// Checked as a std test target by `clippy --all-targets`: the runtime below is for the binary.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]

extern crate alloc;

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(
    argc: core::ffi::c_int,
    argv: *const *const core::ffi::c_char,
) -> core::ffi::c_int {
    use core::ffi::CStr;
    use rinit::cli::{self, Invocation};
    // First of all: a signal sent while rinit reads its arguments must wait for it, not kill
    // it (nor, as PID 1, be dropped for want of a handler).
    let inherited = match rinit::signals::take_over() {
        Ok(inherited) => inherited,
        Err(error) => return rinit::voice::fail(error.personality(), &error).into(),
    };
    let args = (0..argc.max(0) as usize).map(|i| {
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes().to_vec()
    });
    let code = match cli::parse(args, rinit::sys::getenv) {
        Ok(Invocation::Run(settings)) => rinit::run(&settings, &inherited),
        Ok(Invocation::Print(text)) => rinit::log::print(&text),
        Err(error) => rinit::voice::fail(error.personality(), &error),
    };
    code.into()
}

#[cfg(test)]
fn main() {}

/// What std would provide: an allocator, a panic handler, and the C library.
#[cfg(not(test))]
mod runtime {
    /// rinit's own heap, not the C library's malloc (see src/heap.rs).
    #[global_allocator]
    static HEAP: rinit::heap::Heap = rinit::heap::Heap::new();

    /// No input should reach this; if a bug does, say so in one line and end. The line is fixed
    /// text: formatting the panic's message would link most of core::fmt's machinery (about an
    /// eighth of the binary) for a line no user should ever see, and needs no heap (the heap may
    /// be what failed). As PID 1 rinit exits with 1, since abort's SIGABRT cannot end PID 1
    /// (musl then crashes it); otherwise it aborts, for a core dump.
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        let _ = rinit::sys::write_all(2, b"rinit: internal error\n");
        // SAFETY: _exit and abort end the process at once; nothing is left to clean up.
        unsafe {
            if libc::getpid() == 1 {
                libc::_exit(1);
            }
            libc::abort()
        }
    }

    // The prebuilt core and alloc libraries are compiled for unwinding, so they name these two
    // symbols. With panic = "abort" and the handler above, no unwind ever starts: they are never
    // called, and only have to exist for the linker.
    #[no_mangle]
    extern "C" fn rust_eh_personality() {}

    #[no_mangle]
    extern "C" fn _Unwind_Resume() -> ! {
        // SAFETY: see above; unreachable, and abort is always safe to call.
        unsafe { libc::abort() }
    }

    // Without std nothing links the C library: the static one for musl, the shared one otherwise.
    #[cfg_attr(
        target_feature = "crt-static",
        link(name = "c", kind = "static", modifiers = "-bundle")
    )]
    #[cfg_attr(not(target_feature = "crt-static"), link(name = "c"))]
    extern "C" {}
}
