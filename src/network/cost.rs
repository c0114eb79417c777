//! Multi-Add accounting. Every convolution adds what it computes to a per-thread counter when
//! it runs, so a test can prove that what a policy skips is never computed; the static tables
//! (per cell, per exit head) come from the same [`super::layers::ConvSpec::madds`] formula.

use std::cell::Cell;

thread_local! {
    static EXECUTED: Cell<u64> = const { Cell::new(0) };
}

/// Adds `n` executed Multi-Adds to this thread's counter.
pub fn add(n: u64) {
    EXECUTED.with(|c| c.set(c.get() + n));
}

/// Multi-Adds executed on this thread since the last [`reset`].
pub fn executed() -> u64 {
    EXECUTED.with(|c| c.get())
}

/// Resets this thread's counter (at the start of a run).
pub fn reset() {
    EXECUTED.with(|c| c.set(0));
}
