//! `add`: with no subcommand opens the app; subcommands do the same work headless.

use clap::Parser;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps freed memory mapped instead of letting mimalloc purge it: every op allocates
/// its output afresh, and at 513x1025 the page faults of re-mapping it cost 37,000 faults and
/// ~10% of the CPU time per forward (765 faults when kept). Memory stays at its peak, which
/// does not grow.
#[cfg(feature = "mimalloc")]
fn keep_freed_memory() {
    /// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys builds v3).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets one integer option; -1 means "never purge".
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

fn main() -> anyhow::Result<()> {
    #[cfg(feature = "mimalloc")]
    keep_freed_memory();
    let cli = add_studio::cli::Cli::parse();
    add_studio::cli::run(cli)
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    #[test]
    fn option_15_is_the_purge_delay() {
        // mimalloc v3's default purge delay is 1000 ms: another value here means the option
        // numbering changed under us
        let get = || unsafe { libmimalloc_sys::mi_option_get(15) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(), 1000);
        }
        super::keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
