//! State that must not cross a `fork()`.
//!
//! A forked child has one thread: the one that called `fork()`. A lock that another thread of
//! the parent held at that moment stays locked in the child forever, and a thread pool's
//! workers do not exist there. Python servers fork warm processes (`gunicorn --preload`,
//! multiprocessing), so state with locks or threads lives in a [`PerProcess`]: the first use
//! after a fork builds a fresh value, and the parent's copy is left untouched (it may be
//! locked by a thread that no longer exists; its memory is the parent's copy-on-write pages).
//!
//! Forks are noticed with `pthread_atfork`: its child handler only bumps an atomic counter
//! (async-signal-safe), which every [`PerProcess::get`] compares with one relaxed load. Its
//! prepare handler lets a vocabulary that another thread is loading finish first, so the
//! child never inherits a half-initialised encoding.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Once;

static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

/// Registers the fork handlers (once per process; a child inherits them).
pub fn install_fork_handlers() {
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: plain `extern "C"` functions with no arguments, as pthread_atfork expects.
        unsafe {
            libc::pthread_atfork(Some(before_fork), None, Some(in_child_after_fork));
        }
    });
}

#[cfg(unix)]
extern "C" fn before_fork() {
    // Blocks until a load in progress on another thread is done. That thread never waits
    // for the forking thread (loading takes no lock of ours and no GIL), so this ends.
    crate::encoding::finish_loads_in_progress();
}

#[cfg(unix)]
extern "C" fn in_child_after_fork() {
    FORK_EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// How many forks led to this process (0 in the first process).
pub fn fork_epoch() -> u64 {
    FORK_EPOCH.load(Ordering::Relaxed)
}

struct Stamped<T> {
    epoch: u64,
    value: T,
}

/// A value built on first use in each process.
pub struct PerProcess<T: 'static> {
    current: AtomicPtr<Stamped<T>>,
    make: fn() -> T,
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    pub const fn new(make: fn() -> T) -> Self {
        PerProcess {
            current: AtomicPtr::new(std::ptr::null_mut()),
            make,
        }
    }

    /// This process's value. A value inherited over a fork is never freed: it may be locked
    /// by a thread that does not exist in the child.
    pub fn get(&self) -> &T {
        install_fork_handlers();
        loop {
            let epoch = fork_epoch();
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: a non-null pointer came from `Box::into_raw` below and is never freed.
            if let Some(stamped) = unsafe { current.as_ref() } {
                if stamped.epoch == epoch {
                    return &stamped.value;
                }
            }
            let fresh = Box::into_raw(Box::new(Stamped {
                epoch,
                value: (self.make)(),
            }));
            match self
                .current
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: just published; never freed.
                Ok(_) => return unsafe { &(*fresh).value },
                // Another thread published first: drop ours (nobody saw it) and use theirs.
                // SAFETY: `fresh` was never shared.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }
}

impl<T: 'static> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        if !current.is_null() {
            // SAFETY: from `Box::into_raw`, and `&mut self` means no borrow of it is left.
            drop(unsafe { Box::from_raw(current) });
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static LOCKED_IN_PARENT: PerProcess<Mutex<u32>> = PerProcess::new(|| Mutex::new(7));

    #[test]
    fn a_child_gets_a_fresh_value_even_if_the_parent_held_the_lock() {
        let guard = LOCKED_IN_PARENT.get().lock().unwrap();
        // SAFETY: the child only touches atomics, a mutex and `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let ok = match LOCKED_IN_PARENT.get().try_lock() {
                Ok(value) => *value == 7 && fork_epoch() > 0,
                Err(_) => false,
            };
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        drop(guard);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(*LOCKED_IN_PARENT.get().lock().unwrap(), 7);
    }
}
