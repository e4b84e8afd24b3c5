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
        Err(error) => return rinit::log::fail(error.personality(), &error).into(),
    };
    let args = (0..argc.max(0) as usize).map(|i| {
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        unsafe { CStr::from_ptr(*argv.add(i)) }.to_bytes().to_vec()
    });
    let code = match cli::parse(args, rinit::sys::getenv) {
        Ok(Invocation::Run(settings)) => rinit::run(&settings, &inherited),
        Ok(Invocation::Print(text)) => rinit::log::print(&text),
        Err(error) => rinit::log::fail(error.personality(), &error),
    };
    code.into()
}

#[cfg(test)]
fn main() {}

/// What std would provide: an allocator, a panic handler, and the C library.
#[cfg(not(test))]
mod runtime {
    /// Heap memory from the C library's malloc.
    struct Malloc;

    /// What malloc's alignment is guaranteed to be: 16 on 64-bit targets, 8 on 32-bit ones
    /// (the same rule std follows).
    const MALLOC_ALIGN: usize = if cfg!(target_pointer_width = "64") {
        16
    } else {
        8
    };

    // SAFETY: malloc and posix_memalign return memory aligned as asked (the latter for alignments
    // above what malloc guarantees), free and realloc take pointers they returned.
    unsafe impl core::alloc::GlobalAlloc for Malloc {
        unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
            if layout.align() <= MALLOC_ALIGN {
                return libc::malloc(layout.size()).cast();
            }
            let mut memory = core::ptr::null_mut();
            match libc::posix_memalign(&mut memory, layout.align(), layout.size()) {
                0 => memory.cast(),
                _ => core::ptr::null_mut(),
            }
        }

        unsafe fn dealloc(&self, memory: *mut u8, _: core::alloc::Layout) {
            libc::free(memory.cast());
        }

        unsafe fn realloc(
            &self,
            memory: *mut u8,
            layout: core::alloc::Layout,
            size: usize,
        ) -> *mut u8 {
            if layout.align() <= MALLOC_ALIGN {
                return libc::realloc(memory.cast(), size).cast();
            }
            let new = self.alloc(core::alloc::Layout::from_size_align_unchecked(
                size,
                layout.align(),
            ));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(memory, new, layout.size().min(size));
                self.dealloc(memory, layout);
            }
            new
        }
    }

    #[global_allocator]
    static ALLOCATOR: Malloc = Malloc;

    /// No input should reach this; if a bug does, say so in one line and end. The message is
    /// formatted into the stack (the heap may be what failed); as PID 1 rinit exits with 1,
    /// since abort's SIGABRT cannot end PID 1 (musl then crashes it); otherwise it aborts, for
    /// a core dump.
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo) -> ! {
        let mut line = rinit::log::StackLine::new();
        let _ = core::fmt::write(
            &mut line,
            format_args!("rinit: internal error: {}\n", info.message()),
        );
        line.write_to(2);
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
