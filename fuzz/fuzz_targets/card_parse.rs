//! Any text as an architecture card: an error naming the field, or a card whose network can
//! be built (small cards only, to keep each run fast).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(card) = add_studio::network::ArchCard::from_json(text) {
        let small = card.f <= 8
            && card.head.width <= 32
            && card.head.low_level_width <= 32
            && card.edm.channels <= 32
            && card.edm.map_channels <= 32
            && card.edm.hidden.iter().all(|&h| h <= 32);
        if small {
            add_studio::network::checkpoint::expected_tensors(&card).expect("a valid card builds");
        }
    }
});
