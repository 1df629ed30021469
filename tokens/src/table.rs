//! The memory of the vocabulary's lookup tables, on 2 MiB pages where the system offers them.
//!
//! A lookup reads one random cache line of a table of several MiB. With 4 KiB pages nearly
//! every lookup in cold caches also misses the TLB, and the page walk's own reads miss the
//! caches too; on 2 MiB pages the whole table needs two to four TLB entries. The size is
//! rounded up to whole 2 MiB pages, and the vocabulary spends the rounding on more buckets
//! (a lower load, so fewer lookups leave their home bucket).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

/// Size and alignment of a large page.
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// A block of bytes, aligned to `HUGE_PAGE` and a whole number of huge pages long, released
/// on drop.
pub(crate) struct Table {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: `Table` owns its block exclusively, like a `Box<[u8]>`.
unsafe impl Send for Table {}
// SAFETY: shared access only reads (writes need `&mut Table`).
unsafe impl Sync for Table {}

impl Table {
    /// A block of at least `bytes` bytes (rounded up to whole huge pages), every byte 0xFF.
    pub(crate) fn new(bytes: usize) -> Table {
        let size = bytes.max(1).next_multiple_of(HUGE_PAGE);
        let layout = Layout::from_size_align(size, HUGE_PAGE).expect("table size");
        // SAFETY: `layout` has a non-zero size.
        let ptr = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            handle_alloc_error(layout)
        };
        advise_huge_pages(ptr.as_ptr(), size);
        // SAFETY: the block is `size` bytes long and ours.
        unsafe { ptr.as_ptr().write_bytes(0xFF, size) };
        Table { ptr, layout }
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.layout.size()
    }

    /// The block as a slice of `T` starting at byte `offset`, `count` long.
    ///
    /// # Safety
    /// The range must lie within the block and be aligned for `T`, and every bit pattern
    /// must be a valid `T`.
    #[inline(always)]
    pub(crate) unsafe fn slice<T>(&self, offset: usize, count: usize) -> &[T] {
        debug_assert!(offset + count * std::mem::size_of::<T>() <= self.len());
        debug_assert!(offset % std::mem::align_of::<T>() == 0);
        // SAFETY: per the caller's promise.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(offset).cast(), count) }
    }

    /// [`Self::slice`], mutable.
    ///
    /// # Safety
    /// As for [`Self::slice`].
    #[inline(always)]
    pub(crate) unsafe fn slice_mut<T>(&mut self, offset: usize, count: usize) -> &mut [T] {
        debug_assert!(offset + count * std::mem::size_of::<T>() <= self.len());
        debug_assert!(offset % std::mem::align_of::<T>() == 0);
        // SAFETY: per the caller's promise; `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(offset).cast(), count) }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Asks the kernel to back `[ptr, ptr + len)` with transparent huge pages; only a hint.
#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    const MADV_HUGEPAGE: i32 = 14;
    extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    // SAFETY: the range is a block we own; `madvise` with this advice changes no contents,
    // and a failure (no THP support) is harmless.
    unsafe {
        madvise(ptr.cast(), len, MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_aligned_pages_of_ones() {
        let mut table = Table::new(3 << 20);
        assert_eq!(table.len(), 4 << 20);
        assert_eq!(table.ptr.as_ptr() as usize % HUGE_PAGE, 0);
        // SAFETY: in range, aligned, any bits are a valid u64.
        let words = unsafe { table.slice_mut::<u64>(0, table.len() / 8) };
        assert!(words.iter().all(|&w| w == u64::MAX));
        words[7] = 3;
        // SAFETY: as above.
        assert_eq!(unsafe { table.slice::<u64>(56, 1) }, &[3]);
    }
}
