//! GPU against CPU on a real CUDA device: every kernel entry point (forward and backward) and
//! every exit of two presets. A build without `--features cuda` reports these tests as ignored;
//! in a cuda build a GPU that cannot be opened fails them (never a silent pass).
//! `scripts/gpu_check.sh` runs this on a GPU machine (`ADD_REQUIRE_GPU=1`, `--include-ignored`).

use add_studio::engine::{Engine, device, parity};
use add_studio::kernels as k;
use add_studio::network::ArchCard;
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};

/// The first CUDA GPU; a test that cannot open it fails, whether or not `ADD_REQUIRE_GPU=1` asked
/// for it (gpu_check.sh also runs these with `--include-ignored`, so a build without CUDA fails).
fn gpu() -> Device {
    let d = device::select(Some("cuda:0")).unwrap_or_else(|e| panic!("a GPU test without a GPU: {e}"));
    assert!(d.is_cuda(), "cuda:0 opened {d:?}, not a CUDA device");
    d
}

fn rand_t(dims: &[usize], seed: u64) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..dims.iter().product::<usize>()).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

/// `max |gpu - cpu| / max |cpu|`.
fn rel_err(gpu: &Tensor, cpu: &Tensor) -> f64 {
    assert_eq!(gpu.dims(), cpu.dims());
    let f = |t: &Tensor| -> Vec<f64> {
        t.to_device(&Device::Cpu).unwrap().flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
    };
    let (g, c) = (f(gpu), f(cpu));
    let scale = c.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    g.iter().zip(&c).fold(0f64, |m, (a, b)| m.max((a - b).abs())) / scale
}

/// Runs `op` on the CPU (our kernels) and on the GPU (the fallbacks) and compares the outputs
/// and the gradients of `sum(y * r)` with respect to every input.
fn check(name: &str, gpu: &Device, inputs: &[Tensor], op: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>) {
    let run = |dev: &Device| {
        let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(&t.to_device(dev).unwrap()).unwrap()).collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = op(&ts).unwrap();
        let r = rand_t(y.dims(), 99).to_device(dev).unwrap();
        let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gs: Vec<Tensor> = vars.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()).collect();
        (y, gs)
    };
    let (yc, gc) = run(&Device::Cpu);
    let (yg, gg) = run(gpu);
    let e = rel_err(&yg, &yc);
    println!("{name}: forward {e:.2e}");
    assert!(e <= 1e-5, "{name}: forward relative error {e:.3e}");
    for (i, (a, b)) in gg.iter().zip(&gc).enumerate() {
        let e = rel_err(a, b);
        println!("{name}: grad {i} {e:.2e}");
        assert!(e <= 1e-4, "{name}: gradient of input {i}: relative error {e:.3e}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "cuda"),
    ignore = "needs `--features cuda` and an NVIDIA GPU (scripts/gpu_check.sh runs these)"
)]
fn kernels_match_cpu_forward_and_backward() {
    let gpu = gpu();
    let x = rand_t(&[2, 16, 33, 65], 1);
    check("depthwise 5x5 s1 d2", &gpu, &[x.clone(), rand_t(&[16, 1, 5, 5], 2)], &|t| {
        k::depthwise_conv2d(&t[0], &t[1], 1, 4, 2)
    });
    check("depthwise 3x3 s2", &gpu, &[x.clone(), rand_t(&[16, 1, 3, 3], 3)], &|t| {
        k::depthwise_conv2d(&t[0], &t[1], 2, 1, 1)
    });
    check("conv1x1", &gpu, &[x.clone(), rand_t(&[24, 16, 1, 1], 4), rand_t(&[24], 5)], &|t| {
        k::conv1x1(&t[0], &t[1], Some(&t[2]))
    });
    check("conv2d 3x3 s2", &gpu, &[x.clone(), rand_t(&[24, 16, 3, 3], 6), rand_t(&[24], 7)], &|t| {
        k::conv2d(&t[0], &t[1], Some(&t[2]), 2, 1, 1)
    });
    check("conv2d 3x3 d2 (atrous)", &gpu, &[x.clone(), rand_t(&[24, 16, 3, 3], 8)], &|t| {
        k::conv2d(&t[0], &t[1], None, 1, 2, 2)
    });
    for align in [false, true] {
        check(&format!("resize up align={align}"), &gpu, &[x.clone()], &|t| k::resize_bilinear(&t[0], 129, 257, align));
        check(&format!("resize down align={align}"), &gpu, &[x.clone()], &|t| k::resize_bilinear(&t[0], 17, 33, align));
    }
}

#[test]
#[cfg_attr(
    not(feature = "cuda"),
    ignore = "needs `--features cuda` and an NVIDIA GPU (scripts/gpu_check.sh runs these)"
)]
fn batch_norm_training_matches_cpu() {
    let gpu = gpu();
    let x = rand_t(&[2, 8, 17, 33], 11);
    let run = |dev: &Device| {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, dev);
        let bn = candle_nn::batch_norm(8, candle_nn::BatchNormConfig::default(), vb).unwrap();
        let y = k::batch_norm_train(&x.to_device(dev).unwrap(), &bn).unwrap();
        (y, bn.running_mean().clone(), bn.running_var().clone())
    };
    let (c, g) = (run(&Device::Cpu), run(&gpu));
    for (name, a, b) in [("output", &g.0, &c.0), ("running mean", &g.1, &c.1), ("running var", &g.2, &c.2)] {
        let e = rel_err(a, b);
        assert!(e <= 1e-5, "batch norm {name}: relative error {e:.3e}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "cuda"),
    ignore = "needs `--features cuda` and an NVIDIA GPU (scripts/gpu_check.sh runs these)"
)]
fn every_exit_matches_cpu() {
    let gpu = gpu();
    let img = parity::noise_image(129, 257, 0);
    for preset in ["add-3", "autodeeplab"] {
        let card = ArchCard::preset(preset, 8).unwrap();
        let cpu = Engine::random(card.clone(), 0, &Device::Cpu).unwrap();
        let cuda = Engine::random(card, 0, &gpu).unwrap();
        for e in parity::compare(&cpu, &cuda, &img).unwrap() {
            println!("{preset} exit {}: rel L2 {:.2e}, argmax agree {:.4}", e.exit, e.rel_l2, e.argmax_agree);
            assert!(e.rel_l2 <= 1e-4, "{preset} exit {}: relative L2 error {:.3e}", e.exit, e.rel_l2);
        }
    }
}
