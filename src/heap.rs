//! rinit's heap, in place of the C library's malloc (a tenth of its size): rinit has one thread
//! and allocates little at a time (its arguments, log lines, /proc listings).
//!
//! Blocks of up to 4 KiB come in power-of-two classes from 16 bytes. Each class keeps a list of
//! its freed blocks, and is refilled from 64 KiB areas mapped from the kernel, cut at multiples
//! of the class's size, so that every block is aligned to its size. A freed small block waits
//! for reuse and is never returned: rinit's heap peaks small, and it allocates the same shapes
//! again. Larger blocks are mapped and unmapped on their own.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

/// The smallest class: room for the link of a free list, and malloc's alignment on 64-bit.
const SMALLEST: usize = 16;
/// Classes 16, 32, ... 4096.
const CLASSES: usize = 9;
const LARGEST: usize = SMALLEST << (CLASSES - 1);
/// What a class takes from the kernel when it runs out.
const AREA: usize = 64 * 1024;
/// The alignment mapped memory has; more is refused.
const PAGE: usize = 4096;

struct State {
    /// Each class's freed blocks: the first, whose first word points to the next.
    free: [*mut u8; CLASSES],
    /// What is left of the last area mapped, from `next` to `end`.
    next: usize,
    end: usize,
}

pub struct Heap(UnsafeCell<State>);

// SAFETY: rinit never starts a thread, and its forked child does not allocate before exec, so
// the heap is never used from two places at once.
unsafe impl Sync for Heap {}

impl Heap {
    pub const fn new() -> Heap {
        Heap(UnsafeCell::new(State {
            free: [null_mut(); CLASSES],
            next: 0,
            end: 0,
        }))
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

/// The class a block of `layout` comes from, or None for one mapped on its own.
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(SMALLEST);
    (size <= LARGEST)
        .then(|| (size.next_power_of_two().trailing_zeros() - SMALLEST.trailing_zeros()) as usize)
}

/// Fresh zeroed memory from the kernel, page-aligned; null when it has none to give.
fn map(size: usize) -> *mut u8 {
    // SAFETY: a new private anonymous mapping touches no existing memory.
    let memory = unsafe {
        libc::mmap(
            null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if memory == libc::MAP_FAILED {
        null_mut()
    } else {
        memory.cast()
    }
}

// SAFETY: a small block is a class's own (from an area or its free list, never both), aligned
// to its class's size, which is at least the layout's size and alignment; a large one is a
// mapping of its own, of at least its size, page-aligned, and larger alignments are refused.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let state = &mut *self.0.get();
        let Some(class) = class(layout) else {
            return if layout.align() <= PAGE {
                map(layout.size())
            } else {
                null_mut()
            };
        };
        let block = state.free[class];
        if !block.is_null() {
            state.free[class] = *block.cast::<*mut u8>();
            return block;
        }
        let size = SMALLEST << class;
        let mut start = (state.next + size - 1) & !(size - 1);
        if start + size > state.end {
            let area = map(AREA);
            if area.is_null() {
                return null_mut();
            }
            start = area as usize;
            state.end = start + AREA;
        }
        state.next = start + size;
        start as *mut u8
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let state = &mut *self.0.get();
        match class(layout) {
            Some(class) => {
                *block.cast::<*mut u8>() = state.free[class];
                state.free[class] = block;
            }
            None => {
                libc::munmap(block.cast(), layout.size());
            }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(size, layout.align());
        if class(layout).is_some() && class(layout) == class(new) {
            return block;
        }
        let moved = self.alloc(new);
        if !moved.is_null() {
            core::ptr::copy_nonoverlapping(block, moved, layout.size().min(size));
            self.dealloc(block, layout);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Random;
    use std::collections::BTreeMap;

    /// A block the test holds: its layout and the byte it was filled with.
    struct Live {
        layout: Layout,
        fill: u8,
    }

    struct Checked {
        heap: Heap,
        live: BTreeMap<usize, Live>,
    }

    impl Checked {
        /// Takes a block, checks it is aligned and overlaps no live one, and fills it.
        fn take(&mut self, layout: Layout, fill: u8) -> usize {
            // SAFETY: the layout is valid; the block is only used as `layout` says.
            let block = unsafe { self.heap.alloc(layout) } as usize;
            assert_ne!(block, 0, "{layout:?}: no memory");
            self.hold(block, layout, fill);
            block
        }

        fn hold(&mut self, block: usize, layout: Layout, fill: u8) {
            assert_eq!(
                block % layout.align(),
                0,
                "{layout:?} misaligned at {block:#x}"
            );
            let end = block + layout.size().max(1);
            if let Some((&before, live)) = self.live.range(..end).next_back() {
                assert!(
                    before + live.layout.size().max(1) <= block,
                    "{layout:?} at {block:#x} overlaps {:?} at {before:#x}",
                    live.layout
                );
            }
            // SAFETY: the block is the test's, `layout.size()` bytes long.
            unsafe { std::ptr::write_bytes(block as *mut u8, fill, layout.size()) };
            self.live.insert(block, Live { layout, fill });
        }

        /// Checks that nothing wrote over the block since it was filled; forgets it.
        fn check(&mut self, block: usize) -> Live {
            let live = self.live.remove(&block).unwrap();
            // SAFETY: the block is still the test's.
            let bytes =
                unsafe { std::slice::from_raw_parts(block as *const u8, live.layout.size()) };
            assert!(
                bytes.iter().all(|&b| b == live.fill),
                "block at {block:#x} was overwritten"
            );
            live
        }

        fn give(&mut self, block: usize) {
            let live = self.check(block);
            // SAFETY: the block came from this heap with this layout.
            unsafe { self.heap.dealloc(block as *mut u8, live.layout) };
        }

        /// Grows or shrinks a block as a Vec or String does; checks its first bytes moved with it.
        fn resize(&mut self, block: usize, size: usize, fill: u8) -> usize {
            let live = self.check(block);
            // SAFETY: the block came from this heap with this layout; size is not 0.
            let moved = unsafe { self.heap.realloc(block as *mut u8, live.layout, size) } as usize;
            assert_ne!(moved, 0);
            let kept = live.layout.size().min(size);
            // SAFETY: the moved block has at least `kept` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(moved as *const u8, kept) };
            assert!(
                bytes.iter().all(|&b| b == live.fill),
                "realloc lost the contents"
            );
            let layout = Layout::from_size_align(size, live.layout.align()).unwrap();
            self.hold(moved, layout, fill);
            moved
        }
    }

    /// A size as rinit's code asks for them: mostly small (log lines, arguments, pids), some
    /// pages (a /proc file, a listing), a few up to 1 MiB (a large /etc/passwd), and 0.
    fn size(random: &mut Random) -> usize {
        match random.below(20) {
            0 => 0,
            1 => random.below(1 << 20) + 1,
            2..=4 => random.below(3 * LARGEST) + 1,
            _ => random.below(300) + 1,
        }
    }

    #[test]
    fn random_allocations_never_overlap_and_keep_their_contents() {
        for seed in 1..=8u64 {
            let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut heap = Checked {
                heap: Heap::new(),
                live: BTreeMap::new(),
            };
            let mut blocks: Vec<usize> = Vec::new();
            for step in 0..4000 {
                let fill = step as u8;
                match random.below(10) {
                    // Free one held block, chosen at random.
                    0..=2 if !blocks.is_empty() => {
                        let block = blocks.swap_remove(random.below(blocks.len()));
                        heap.give(block);
                    }
                    // Grow or shrink one, as a Vec pushing or a String shrinking.
                    3 if !blocks.is_empty() => {
                        let i = random.below(blocks.len());
                        let new = size(&mut random).max(1);
                        blocks[i] = heap.resize(blocks[i], new, fill);
                    }
                    // A Vec<i32> filled one pid at a time: 4, 8, 16 ... bytes.
                    4 => {
                        let layout = Layout::from_size_align(16, 4).unwrap();
                        let mut block = heap.take(layout, fill);
                        for doubling in 0..random.below(12) {
                            block = heap.resize(block, 32 << doubling, fill);
                        }
                        blocks.push(block);
                    }
                    _ => {
                        let align = 1 << random.below(7);
                        let layout = Layout::from_size_align(size(&mut random), align).unwrap();
                        blocks.push(heap.take(layout, fill));
                    }
                }
                // Keep the mapped total bounded: a few hundred blocks at most.
                if blocks.len() > 300 {
                    let block = blocks.swap_remove(random.below(blocks.len()));
                    heap.give(block);
                }
            }
            for block in blocks {
                heap.give(block);
            }
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_only() {
        let heap = Heap::new();
        let small = Layout::from_size_align(24, 8).unwrap();
        // SAFETY: valid layouts; blocks used only as they say.
        unsafe {
            let a = heap.alloc(small);
            heap.dealloc(a, small);
            assert_eq!(heap.alloc(Layout::from_size_align(20, 4).unwrap()), a);
            let other = heap.alloc(Layout::from_size_align(100, 8).unwrap());
            assert_ne!(other, a);
        }
    }

    #[test]
    fn alignments_beyond_a_page_are_refused() {
        let heap = Heap::new();
        // SAFETY: a valid layout.
        let block = unsafe { heap.alloc(Layout::from_size_align(8192, 8192).unwrap()) };
        assert!(block.is_null());
    }
}
