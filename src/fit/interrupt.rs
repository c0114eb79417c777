//! One Ctrl-C flag for the whole process. Long loops (training, search) poll it, save a
//! checkpoint and stop. The handler is installed once: `ctrlc` accepts only one handler per
//! process, so a pipeline that searches and then trains must share it.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the Ctrl-C handler (once per process; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        // another library may own SIGINT already: then Ctrl-C keeps its default meaning
        let _ = ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst));
    });
}

/// Whether Ctrl-C was pressed since the process started.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The flag itself, for work that takes a cancel flag (a report, a run of the engine).
pub fn flag() -> &'static AtomicBool {
    &REQUESTED
}

#[cfg(test)]
mod tests {
    #[test]
    fn installing_twice_is_harmless() {
        super::install();
        super::install();
        assert!(!super::requested());
    }
}
