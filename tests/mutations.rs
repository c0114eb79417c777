//! A stable-Rust mutation smoke test beside the cargo-fuzz targets (fuzz/): valid seeds from
//! the corpus generator, damaged by seeded random edits (bit flips, truncation, inserted
//! bytes, lying 32-bit fields), through every reader. Each must return, never panic, and each
//! reader must accept some of them (else nothing past its first check is tested). The pickle
//! guard checks safety, not form: the unmutated pickles pass it and parse in candle; of the
//! mutated ones it accepts, candle parses most and refuses the malformed rest (invalid UTF-8,
//! wrong types; 13 of the 41 it accepts in CI) with an error. CI runs 1,000 per reader; the ignored
//! test runs many more: `cargo test --release --test mutations -- --ignored --nocapture`.

mod support;

use add_studio::network::{ArchCard, checkpoint::TensorFile, pickle_guard};
use std::path::Path;
use support::checkpoints::{PthTensor, pth, state_dict_pickle};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len());
        match rng.below(6) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[at] = rng.next() as u8,
            2 => v.truncate(at),
            3 => {
                let n = rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            4 if v.len() >= at + 4 => {
                let lies = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 20, 65_535];
                v[at..at + 4].copy_from_slice(&lies[rng.below(lies.len())].to_le_bytes());
            }
            _ if !v.is_empty() => {
                let len = rng.below(v.len() - at + 1).min(64);
                let chunk = v[at..at + len].to_vec();
                v.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    v
}

fn seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let images = support::images::corpus(dir.path());
    let image_seeds = images
        .cases
        .iter()
        .filter(|c| matches!(c.expect, support::Expect::Loads(..)) && !c.name().contains("900"))
        .map(|c| std::fs::read(&c.path).unwrap())
        .collect();
    let t = [
        PthTensor { name: "a.weight", storage: "FloatStorage", shape: &[2, 3], storage_bytes: 24 },
        PthTensor { name: "a.bias", storage: "HalfStorage", shape: &[2], storage_bytes: 4 },
    ];
    let weights = support::checkpoints::corpus(&dir.path().join("w"));
    let ok = |n: &str| std::fs::read(weights.cases.iter().find(|c| c.name() == n).unwrap().path.clone()).unwrap();
    let weight_seeds = vec![pth(&t, Some("state_dict")), ok("ok.safetensors"), ok("ok.pth")];
    let pickle_seeds = vec![state_dict_pickle(&t, Some("state_dict"), 6), state_dict_pickle(&t, None, 6)];
    let card_seeds = vec![ArchCard::preset("add-2", 4).unwrap().to_json().into_bytes()];
    (image_seeds, weight_seeds, pickle_seeds, card_seeds)
}

fn run(per_reader: usize) {
    let (images, weights, pickles, cards) = seeds();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.bin");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (i, seed) in pickles.iter().enumerate() {
        pickle_guard::check(seed).unwrap_or_else(|e| panic!("pickle seed {i}: refused by the guard: {e}"));
        let mut stack = candle_core::pickle::Stack::empty();
        stack.read_loop(&mut &seed[..]).and_then(|_| stack.finalize()).expect("candle parses the seeds");
        pickle_guard::check_tensor_records(seed).expect("the seeds' tensor records are sound");
    }
    let mut accepted = [0usize; 4];
    let mut parsed_by_candle = 0;
    for i in 0..per_reader {
        let input = mutate(&images[i % images.len()], &mut rng);
        accepted[0] += usize::from(add_studio::data::image_io::decode_bytes(&input, Path::new("m.img")).is_ok());
        let input = mutate(&weights[i % weights.len()], &mut rng);
        std::fs::write(&file, &input).unwrap();
        accepted[1] += usize::from(TensorFile::read(&file).is_ok());
        let input = mutate(&pickles[i % pickles.len()], &mut rng);
        if pickle_guard::check(&input).is_ok() {
            accepted[2] += 1;
            let mut stack = candle_core::pickle::Stack::empty();
            let parsed = stack.read_loop(&mut &input[..]).and_then(|_| stack.finalize());
            // the guard checks safety (allowed names, bounded sizes), not well-formedness:
            // candle refuses some of what it lets through (invalid UTF-8, a list where a dict
            // belongs), with an error
            parsed_by_candle += usize::from(parsed.is_ok());
            let _ = pickle_guard::check_tensor_records(&input);
        }
        let input = mutate(&cards[i % cards.len()], &mut rng);
        if let Ok(card) = std::str::from_utf8(&input).map(ArchCard::from_json) {
            accepted[3] += usize::from(card.is_ok());
        }
    }
    println!("{per_reader} mutated inputs per reader; accepted (image, weights, pickle, card): {accepted:?}");
    println!("of the {} pickles the guard accepted, candle parsed {parsed_by_candle}", accepted[2]);
    // a reader that refuses everything would pass the checks above without testing anything
    assert!(accepted.iter().all(|&n| n > 0), "some mutated inputs must be accepted: {accepted:?}");
    assert!(parsed_by_candle * 2 > accepted[2], "candle parsed {parsed_by_candle} of {} accepted pickles", accepted[2]);
}

#[test]
fn mutated_inputs_never_panic() {
    run(1000);
}

#[test]
#[ignore = "minutes; run by hand"]
fn many_mutated_inputs_never_panic() {
    run(200_000);
}
