//! The whole network: ms per image answering at each exit and on the full path, for the real
//! ADD and Auto-DeepLab cards (F = 20) at 257x513 and 513x1025, in rayon pools of 1 and 2
//! threads. Random weights: time does not depend on their values.
//!
//! Run: `cargo bench --bench network -- --warm-up-time 2 --measurement-time 20 [filter]`.
//! Side by side with PyTorch, GFLOP/s and peak memory: `add bench --peer PYTHON` (README).

use add_studio::cli::bench::{bench_image, forward_to};
use add_studio::engine::prepare::prepare;
use add_studio::network::{ArchCard, BuildMode, checkpoint, init};
use candle_core::Device;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use std::hint::black_box;

fn network(c: &mut Criterion) {
    let mut g = c.benchmark_group("network");
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    for preset in ["add-2", "autodeeplab"] {
        let card = ArchCard::preset(preset, 20).unwrap();
        let tensors = init::random_tensors(&card, 0).unwrap();
        let net = checkpoint::build(&card, tensors, &Device::Cpu, BuildMode::Folded).unwrap();
        for (h, w) in [(257, 513), (513, 1025)] {
            let x = prepare(&bench_image(h, w), &card.normalization, u32::MAX, &Device::Cpu).unwrap().tensor;
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                for exit in 0..card.num_exits() {
                    let answer = if exit + 1 == card.num_exits() { "full".to_string() } else { format!("exit{exit}") };
                    let id = format!("{preset}/{h}x{w}/t{threads}/{answer}");
                    g.bench_with_input(BenchmarkId::from_parameter(id), &(), |b, _| {
                        b.iter(|| pool.install(|| black_box(forward_to(&net, &x, exit).unwrap())))
                    });
                }
            }
        }
    }
    g.finish();
}

criterion_group!(benches, network);
criterion_main!(benches);
