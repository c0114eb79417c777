//! Our CPU kernels against candle's own ops, at the shapes the real network runs (batch 1,
//! level s has C = 20 * 2^s channels at stride 4 * 2^s of a 513x1025 crop: 129x257 .. 17x33).
//!
//! Run: `cargo bench --bench kernels -- --warm-up-time 1 --measurement-time 3 [filter]`.
//! Medians land in target/criterion/<group>/<id>/new/estimates.json.

use add_studio::kernels::{conv1x1, depthwise_conv2d, resize_bilinear};
use candle_core::{Device, Tensor, Var};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// (C, H, W) per trellis level: 20, 40, 80, 160 channels at 129x257 .. 17x33.
const LEVELS: [(usize, usize, usize); 4] =
    [(20, 129, 257), (40, 65, 129), (80, 33, 65), (160, 17, 33)];

fn rand(dims: &[usize]) -> Tensor {
    Tensor::rand(-1f32, 1f32, dims, &Device::Cpu).unwrap()
}

fn shape_id(c: usize, h: usize, w: usize) -> String {
    format!("C{c}_{h}x{w}")
}

/// Forward depthwise kxk, dilation 1 and 2, "same" padding as in sep_conv / dil_conv.
fn depthwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("depthwise");
    for (ch, h, w) in LEVELS {
        let x = rand(&[1, ch, h, w]);
        for (k, d) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
            let wt = rand(&[ch, 1, k, k]);
            let p = d * (k - 1) / 2;
            let id = format!("k{k}d{d}/{}", shape_id(ch, h, w));
            g.bench_with_input(BenchmarkId::new("ours", &id), &(), |b, _| {
                b.iter(|| black_box(depthwise_conv2d(&x, &wt, 1, p, d).unwrap()))
            });
            g.bench_with_input(BenchmarkId::new("candle", &id), &(), |b, _| {
                b.iter(|| black_box(x.conv2d(&wt, p, 1, d, ch).unwrap()))
            });
        }
    }
    g.finish();
}

/// Forward + backward of depthwise 3x3 (training path); candle's grouped conv2d has a backward.
fn depthwise_train(c: &mut Criterion) {
    let mut g = c.benchmark_group("depthwise_fwd_bwd");
    for (ch, h, w) in [LEVELS[0], LEVELS[2]] {
        let x = Var::from_tensor(&rand(&[1, ch, h, w])).unwrap();
        let wt = Var::from_tensor(&rand(&[ch, 1, 3, 3])).unwrap();
        let id = format!("k3d1/{}", shape_id(ch, h, w));
        g.bench_with_input(BenchmarkId::new("ours", &id), &(), |b, _| {
            b.iter(|| {
                black_box(
                    depthwise_conv2d(&x, &wt, 1, 1, 1)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .backward()
                        .unwrap(),
                )
            })
        });
        g.bench_with_input(BenchmarkId::new("candle", &id), &(), |b, _| {
            b.iter(|| {
                black_box(
                    x.conv2d(&wt, 1, 1, 1, ch)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .backward()
                        .unwrap(),
                )
            })
        });
    }
    g.finish();
}

/// 1x1 conv C -> C with bias: our direct GEMM, candle's matmul composition, candle's conv2d.
fn pointwise(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv1x1");
    for (ch, h, w) in LEVELS {
        let x = rand(&[1, ch, h, w]);
        let wt = rand(&[ch, ch, 1, 1]);
        let bias = rand(&[ch]);
        let id = shape_id(ch, h, w);
        g.bench_with_input(BenchmarkId::new("ours", &id), &(), |b, _| {
            b.iter(|| black_box(conv1x1(&x, &wt, Some(&bias)).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("candle_matmul", &id), &(), |b, _| {
            b.iter(|| black_box(add_studio::kernels::conv1x1_matmul(&x, &wt, Some(&bias)).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("candle_conv2d", &id), &(), |b, _| {
            b.iter(|| {
                let y = x.conv2d(&wt, 0, 1, 1, 1).unwrap();
                black_box(
                    y.broadcast_add(&bias.reshape((1, ch, 1, 1)).unwrap())
                        .unwrap(),
                )
            })
        });
    }
    g.finish();
}

/// Bilinear x2 upsampling with the network's (d-1)*2+1 sizes, ours vs candle (forward only:
/// candle has no backward).
fn resize(c: &mut Criterion) {
    let mut g = c.benchmark_group("resize_bilinear");
    for (ch, h, w) in &LEVELS[1..] {
        let x = rand(&[1, *ch, *h, *w]);
        let (oh, ow) = ((h - 1) * 2 + 1, (w - 1) * 2 + 1);
        let id = shape_id(*ch, *h, *w);
        g.bench_with_input(BenchmarkId::new("ours", &id), &(), |b, _| {
            b.iter(|| black_box(resize_bilinear(&x, oh, ow, false).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("candle", &id), &(), |b, _| {
            b.iter(|| black_box(x.upsample_bilinear2d(oh, ow, false).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, depthwise, depthwise_train, pointwise, resize);
criterion_main!(benches);
