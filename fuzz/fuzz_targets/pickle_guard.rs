//! Any bytes as a checkpoint's `data.pkl`: whatever the guard lets through must be safe for
//! candle's reader (bounded memory, no deep recursion, no panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if add_studio::network::pickle_guard::check(data).is_ok() {
        let mut stack = candle_core::pickle::Stack::empty();
        if stack.read_loop(&mut &data[..]).is_ok() {
            let _ = stack.finalize();
        }
        let _ = add_studio::network::pickle_guard::top_level_keys(data);
    }
});
