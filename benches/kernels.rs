//! Our CPU kernels against candle's own ops, at the shapes the real network runs (batch 1,
//! level s has C = 20 * 2^s channels at stride 4 * 2^s of a 513x1025 crop: 129x257 .. 17x33).
//!
//! Run: `cargo bench --bench kernels -- --warm-up-time 1 --measurement-time 3 [filter]`.
//! Medians land in target/criterion/<group>/<id>/new/estimates.json.

use add_studio::kernels::{batch_norm_train, conv1x1, conv2d, depthwise_conv2d, resize_bilinear};
use candle_core::{DType, Device, ModuleT, Tensor, Var};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// (C, H, W) per trellis level: 20, 40, 80, 160 channels at 129x257 .. 17x33.
const LEVELS: [(usize, usize, usize); 4] = [(20, 129, 257), (40, 65, 129), (80, 33, 65), (160, 17, 33)];

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
            b.iter(|| black_box(depthwise_conv2d(&x, &wt, 1, 1, 1).unwrap().sum_all().unwrap().backward().unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("candle", &id), &(), |b, _| {
            b.iter(|| black_box(x.conv2d(&wt, 1, 1, 1, ch).unwrap().sum_all().unwrap().backward().unwrap()))
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
                black_box(y.broadcast_add(&bias.reshape((1, ch, 1, 1)).unwrap()).unwrap())
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

/// Forward + backward of the dense convs the training step runs (stem 3x3, stride-2 stem,
/// dil_conv 5x5 d2, ASPP-style atrous 3x3 d6, FactorizedReduce's strided 1x1), batch 4:
/// im2col + GEMM with a GEMM backward vs candle's conv2d (conv_transpose2d backward).
fn dense_conv_train(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d_fwd_bwd");
    g.sample_size(10);
    // (cin, cout, h, w, k, stride, pad, dil)
    for (cin, cout, h, w, k, s, p, d) in [
        (64, 64, 65, 129, 3, 1, 1, 1),
        (64, 128, 65, 129, 3, 2, 1, 1),
        (40, 40, 33, 65, 5, 1, 4, 2),
        (80, 64, 9, 17, 3, 1, 6, 6),
        (40, 20, 65, 129, 1, 2, 0, 1),
    ] {
        let x = Var::from_tensor(&rand(&[4, cin, h, w])).unwrap();
        let wt = Var::from_tensor(&rand(&[cout, cin, k, k])).unwrap();
        let id = format!("k{k}s{s}d{d}_{cin}to{cout}/{}", shape_id(cin, h, w));
        g.bench_with_input(BenchmarkId::new("ours", &id), &(), |b, _| {
            b.iter(|| black_box(conv2d(&x, &wt, None, s, p, d).unwrap().sum_all().unwrap().backward().unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("candle", &id), &(), |b, _| {
            b.iter(|| black_box(x.conv2d(&wt, p, s, d, 1).unwrap().sum_all().unwrap().backward().unwrap()))
        });
    }
    g.finish();
}

/// Training-mode BatchNorm forward + backward, batch 4: our fused op vs candle_nn's.
fn batch_norm(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch_norm_train_fwd_bwd");
    g.sample_size(10);
    for (ch, h, w) in [(64, 65, 129), (40, 33, 65)] {
        let x = Var::from_tensor(&rand(&[4, ch, h, w])).unwrap();
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let bn = candle_nn::batch_norm(ch, candle_nn::BatchNormConfig::default(), vb).unwrap();
        let id = shape_id(ch, h, w);
        g.bench_with_input(BenchmarkId::new("ours", &id), &(), |b, _| {
            b.iter(|| black_box(batch_norm_train(&x, &bn).unwrap().sum_all().unwrap().backward().unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("candle_nn", &id), &(), |b, _| {
            b.iter(|| black_box(bn.forward_t(&x, true).unwrap().sum_all().unwrap().backward().unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, depthwise, depthwise_train, pointwise, resize, dense_conv_train, batch_norm);
criterion_main!(benches);
