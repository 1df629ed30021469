//! A small per-thread memo of the token counts of short multi-token pieces.
//!
//! About one piece in ten of English text is not a single token, yet merging those pieces
//! makes most of the vocabulary lookups, one after another. The same such pieces recur
//! (identifiers, rarer words), so their counts are remembered per thread in a direct-mapped
//! table. Entries hold the piece's full bytes and the vocabulary they belong to, so a hit is
//! an exact match, never a hash guess.

use std::cell::RefCell;

use crate::table::{Table, HUGE_PAGE};

/// Pieces up to this many bytes are memoized (the stack merge's limit).
pub(crate) const MAX_PIECE: usize = 16;
/// 65536 slots of 32 bytes: one 2 MiB huge page per counting thread. With 8192 slots (on
/// 4 KiB pages) counting English prose was about 15% faster than with 2048, warm or with
/// cold caches (distinct multi-token pieces of a long text outnumber them, and a miss costs a
/// dozen or more table lookups); on one huge page, lookups in cold caches also skip the page
/// walk, and the page has room for eight times as many slots.
const SLOTS: usize = HUGE_PAGE / std::mem::size_of::<Slot>();

#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    owner: usize,
    bytes: [u8; MAX_PIECE],
    len: u8,
    count: u8,
}

thread_local! {
    /// The slots, allocated on first use; all bytes 0xFF at first: no owner is `usize::MAX`.
    static MEMO: RefCell<Option<Table>> = const { RefCell::new(None) };
}

/// The slots of a memo.
fn slots(table: &Table) -> &[Slot] {
    // SAFETY: the table is one huge page, `SLOTS` 32-byte slots, aligned; any bits are a
    // valid `Slot` (integers and bytes only).
    unsafe { table.slice(0, SLOTS) }
}

fn padded(piece: &[u8]) -> [u8; MAX_PIECE] {
    let mut bytes = [0u8; MAX_PIECE];
    bytes[..piece.len()].copy_from_slice(piece);
    bytes
}

/// The slot of a piece with this hash.
#[inline(always)]
fn slot_index(hash: u64) -> usize {
    (hash as usize) % SLOTS
}

/// Starts loading the slot of a piece with this hash (a hint: nothing happens without a memo).
#[inline]
pub(crate) fn prefetch(hash: u64) {
    let index = slot_index(hash);
    MEMO.with(|memo| {
        if let Some(table) = memo.borrow().as_ref() {
            let slot: *const Slot = &slots(table)[index];
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch is only a hint, of an address inside the live table.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot.cast());
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = slot;
        }
    });
}

/// The count of `piece` for the vocabulary `owner` (a stable address), computed by `merge` on
/// a miss and remembered. `hash` must depend only on the piece's bytes.
#[inline]
pub(crate) fn count_with(
    owner: usize,
    piece: &[u8],
    hash: u64,
    merge: impl FnOnce() -> usize,
) -> usize {
    debug_assert!(piece.len() <= MAX_PIECE && owner != 0);
    let index = slot_index(hash);
    let bytes = padded(piece);
    let found = MEMO.with(|memo| {
        let memo = memo.borrow();
        memo.as_ref().map(slots).and_then(|slots| {
            let slot = &slots[index];
            (slot.owner == owner && usize::from(slot.len) == piece.len() && slot.bytes == bytes)
                .then_some(usize::from(slot.count))
        })
    });
    if let Some(count) = found {
        return count;
    }
    let count = merge();
    if let Ok(small) = u8::try_from(count) {
        MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            let table = memo.get_or_insert_with(|| Table::new(SLOTS * std::mem::size_of::<Slot>()));
            // SAFETY: as in `slots`.
            let slots: &mut [Slot] = unsafe { table.slice_mut(0, SLOTS) };
            slots[index] = Slot {
                owner,
                bytes,
                len: piece.len() as u8,
                count: small,
            };
        });
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn remembers_per_owner_and_exact_bytes() {
        let merges = Cell::new(0);
        let merge = |n| {
            merges.set(merges.get() + 1);
            n
        };
        assert_eq!(count_with(1, b"abcdef", 42, || merge(3)), 3);
        assert_eq!(count_with(1, b"abcdef", 42, || merge(9)), 3);
        assert_eq!(merges.get(), 1);
        // same slot, other owner or other bytes: no false hit
        assert_eq!(count_with(2, b"abcdef", 42, || merge(4)), 4);
        assert_eq!(count_with(2, b"abcdeg", 42, || merge(5)), 5);
        assert_eq!(count_with(2, b"abcde", 42, || merge(6)), 6);
        assert_eq!(count_with(2, b"abcde\0", 42, || merge(7)), 7);
        assert_eq!(merges.get(), 5);
    }
}
