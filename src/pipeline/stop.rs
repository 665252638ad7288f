//! Stopping a run: SIGINT/SIGTERM end the input, and a second signal exits at
//! once — except while a session's files are being committed (renamed to
//! their final names and listed in the manifest), when it exits right after
//! the commit, so a kill never leaves a final-named file the manifest does not list.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// Why a run should stop before its inputs end: a signal number, set from a
/// signal handler (or a test) and read by the read loop between batches.
#[derive(Clone, Debug, Default)]
pub struct StopFlag {
    signal: Arc<AtomicUsize>,
    /// A stop was asked for: the next signal is the second.
    stopping: Arc<AtomicBool>,
    /// Files are being committed: a second signal waits for the commit's end.
    committing: Arc<AtomicBool>,
    /// Exit status a second signal asked for during a commit (0: none).
    exit_pending: Arc<AtomicI32>,
}

impl StopFlag {
    /// A flag nobody has raised.
    pub fn new() -> StopFlag {
        StopFlag::default()
    }

    /// Asks the loop to stop, as signal `signal` would.
    pub fn raise(&self, signal: i32) {
        self.stopping.store(true, Ordering::SeqCst);
        self.signal
            .store(usize::try_from(signal).unwrap_or(1), Ordering::SeqCst);
    }

    /// The signal that asked for a stop, if any.
    pub fn raised(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(i32::try_from(s).unwrap_or(i32::MAX)),
        }
    }

    /// Makes SIGINT and SIGTERM raise this flag; a second one exits the process
    /// with `exit_code(signal)` at once, or right after a commit in progress.
    pub fn on_signals(&self, exit_code: fn(i32) -> i32) -> std::io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        for sig in [SIGINT, SIGTERM] {
            let flag = self.clone();
            let code = exit_code(sig);
            let action = move || {
                // Async-signal-safe: atomics and _exit only.
                if !flag.stopping.swap(true, Ordering::SeqCst) {
                    flag.signal
                        .store(usize::try_from(sig).unwrap_or(1), Ordering::SeqCst);
                } else if flag.committing.load(Ordering::SeqCst) {
                    flag.exit_pending.store(code, Ordering::SeqCst);
                } else {
                    signal_hook::low_level::exit(code);
                }
            };
            // SAFETY: the action only touches atomics and calls `_exit`, both
            // async-signal-safe; it allocates nothing and takes no lock.
            unsafe { signal_hook::low_level::register(sig, action) }?;
        }
        Ok(())
    }

    /// Files are about to take their final names and the manifest to list them.
    pub fn begin_commit(&self) {
        self.committing.store(true, Ordering::SeqCst);
    }

    /// The commit is done (files renamed, manifest written, events sent): a
    /// second signal that came during it exits the process now.
    pub fn end_commit(&self) {
        self.committing.store(false, Ordering::SeqCst);
        let code = self.exit_pending.load(Ordering::SeqCst);
        if code != 0 {
            signal_hook::low_level::exit(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_flag_names_its_signal() {
        let f = StopFlag::new();
        assert_eq!(f.raised(), None);
        f.clone().raise(15);
        assert_eq!(f.raised(), Some(15));
        // Commits with no second signal pending return normally.
        f.begin_commit();
        f.end_commit();
    }
}
