//! GPU against CPU on a real CUDA device: every kernel entry point (forward and backward, our
//! CUDA kernels against our CPU kernels at 1e-5), the exit maps, and every exit of add-2, add-3
//! and autodeeplab at F=20 (1e-4). A build without `--features cuda` reports these tests as
//! ignored; in a cuda build a GPU that cannot be opened fails them (never a silent pass).
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

/// `op` on `dev`, and the gradients of `sum(y * r)` (r fixed) with respect to every input.
fn run_with_grads(
    dev: &Device,
    inputs: &[Tensor],
    op: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(&t.to_device(dev).unwrap()).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = op(&ts).unwrap();
    let r = rand_t(y.dims(), 99).to_device(dev).unwrap();
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    (y, vars.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()).collect())
}

/// Gradient tolerances, GPU against CPU. Our CUDA kernels sum in double (depthwise weight,
/// BatchNorm) or add four f32 terms atomically (resize): 1e-5. candle's own GPU ops (conv1x1,
/// conv2d: cuBLAS GEMMs summing up to N*H*W terms in f32) keep 1e-4.
const OURS: f64 = 1e-5;
const CUBLAS: f64 = 1e-4;

/// Runs `op` on the CPU (our CPU kernels) and on the GPU (our CUDA kernels, or candle's ops)
/// and compares the outputs (1e-5) and the gradients of `sum(y * r)` with respect to every
/// input (`grad_tol`).
fn check(
    name: &str,
    gpu: &Device,
    grad_tol: f64,
    inputs: &[Tensor],
    op: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
) {
    let (yc, gc) = run_with_grads(&Device::Cpu, inputs, op);
    let (yg, gg) = run_with_grads(gpu, inputs, op);
    let e = rel_err(&yg, &yc);
    println!("{name}: forward {e:.2e}");
    assert!(e <= 1e-5, "{name}: forward relative error {e:.3e}");
    for (i, (a, b)) in gg.iter().zip(&gc).enumerate() {
        let e = rel_err(a, b);
        println!("{name}: grad {i} {e:.2e}");
        assert!(e <= grad_tol, "{name}: gradient of input {i}: relative error {e:.3e}");
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
    // every depthwise shape ADD uses: k 3 and 5, stride 1 and 2, dilation 1 and 2
    for ks in [3, 5] {
        for s in [1, 2] {
            for d in [1, 2] {
                let p = d * (ks - 1) / 2;
                let w = rand_t(&[16, 1, ks, ks], 2 + (ks * 4 + s * 2 + d) as u64);
                check(&format!("depthwise {ks}x{ks} s{s} d{d}"), &gpu, OURS, &[x.clone(), w], &|t| {
                    k::depthwise_conv2d(&t[0], &t[1], s, p, d)
                });
            }
        }
    }
    // odd sizes, padding beyond (k-1)d, and a view as input
    let odd = rand_t(&[3, 5, 17, 9], 30);
    check("depthwise 3x3 s2 p3 odd", &gpu, OURS, &[odd.clone(), rand_t(&[5, 1, 3, 3], 31)], &|t| {
        k::depthwise_conv2d(&t[0], &t[1], 2, 3, 1)
    });
    check("depthwise 5x5 s1 d2 transposed input", &gpu, OURS, &[odd, rand_t(&[5, 1, 5, 5], 32)], &|t| {
        k::depthwise_conv2d(&t[0].transpose(2, 3)?, &t[1], 1, 4, 2)
    });
    check("conv1x1", &gpu, CUBLAS, &[x.clone(), rand_t(&[24, 16, 1, 1], 4), rand_t(&[24], 5)], &|t| {
        k::conv1x1(&t[0], &t[1], Some(&t[2]))
    });
    check("conv2d 3x3 s2", &gpu, CUBLAS, &[x.clone(), rand_t(&[24, 16, 3, 3], 6), rand_t(&[24], 7)], &|t| {
        k::conv2d(&t[0], &t[1], Some(&t[2]), 2, 1, 1)
    });
    check("conv2d 3x3 d2 (atrous)", &gpu, CUBLAS, &[x.clone(), rand_t(&[24, 16, 3, 3], 8)], &|t| {
        k::conv2d(&t[0], &t[1], None, 1, 2, 2)
    });
    for align in [false, true] {
        check(&format!("resize up align={align}"), &gpu, OURS, &[x.clone()], &|t| {
            k::resize_bilinear(&t[0], 129, 257, align)
        });
        check(&format!("resize down align={align}"), &gpu, OURS, &[x.clone()], &|t| {
            k::resize_bilinear(&t[0], 17, 33, align)
        });
        check(&format!("resize mixed align={align}"), &gpu, OURS, &[x.clone()], &|t| {
            k::resize_bilinear(&t[0], 40, 9, align)
        });
    }
    // the decoder's last resize at full size: source positions around 500 and 1000, where an
    // FMA-contracted position would be off by an ulp
    let logits = rand_t(&[1, 19, 257, 513], 40);
    check("resize to 1025x2049", &gpu, OURS, &[logits], &|t| k::resize_bilinear(&t[0], 1025, 2049, false));
}

#[test]
#[cfg_attr(
    not(feature = "cuda"),
    ignore = "needs `--features cuda` and an NVIDIA GPU (scripts/gpu_check.sh runs these)"
)]
fn batch_norm_training_matches_cpu() {
    let gpu = gpu();
    // a large offset, so a variance computed without the shift would cancel
    let x = rand_t(&[4, 8, 17, 33], 11).affine(3.0, 5.0).unwrap();
    let r = rand_t(&[4, 8, 17, 33], 12);
    let run = |dev: &Device| {
        let vm = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&vm, DType::F32, dev);
        let bn = candle_nn::batch_norm(8, candle_nn::BatchNormConfig::default(), vb).unwrap();
        let (gamma, beta) = bn.weight_and_bias().unwrap();
        let (gamma, beta) = (Var::from_tensor(gamma).unwrap(), Var::from_tensor(beta).unwrap());
        gamma.set(&rand_t(&[8], 13).to_device(dev).unwrap()).unwrap();
        beta.set(&rand_t(&[8], 14).to_device(dev).unwrap()).unwrap();
        let xv = Var::from_tensor(&x.to_device(dev).unwrap()).unwrap();
        let y = k::batch_norm_train(&xv, &bn).unwrap();
        let grads = (&y * r.to_device(dev).unwrap()).unwrap().sum_all().unwrap().backward().unwrap();
        let g = |v: &Tensor| grads.get(v).unwrap().clone();
        let out = vec![
            ("output", y.clone()),
            ("running mean", bn.running_mean().clone()),
            ("running var", bn.running_var().clone()),
            ("dx", g(xv.as_tensor())),
            ("dgamma", g(gamma.as_tensor())),
            ("dbeta", g(beta.as_tensor())),
        ];
        out
    };
    let (c, g) = (run(&Device::Cpu), run(&gpu));
    for ((name, a), (_, b)) in g.iter().zip(&c) {
        let e = rel_err(a, b);
        println!("batch norm {name}: {e:.2e}");
        assert!(e <= 1e-5, "batch norm {name}: relative error {e:.3e}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "cuda"),
    ignore = "needs `--features cuda` and an NVIDIA GPU (scripts/gpu_check.sh runs these)"
)]
fn exit_maps_match_cpu() {
    use add_studio::engine::maps::maps_from_logits;
    let gpu = gpu();
    let padded = (rand_t(&[1, 19, 41, 1201], 20) * 6.0).unwrap();
    // whole logits, and a cropped view of a padded output (as the engine hands it over)
    for (name, logits) in
        [("whole", padded.clone()), ("cropped", padded.narrow(2, 0, 37).unwrap().narrow(3, 0, 1100).unwrap())]
    {
        let (mc, ec, cc) = maps_from_logits(&logits, 0.5).unwrap();
        let (mg, eg, cg) = maps_from_logits(&logits.to_device(&gpu).unwrap(), 0.5).unwrap();
        assert_eq!((mg.width, mg.height), (mc.width, mc.height), "{name}");
        let differ = mg.classes.iter().zip(&mc.classes).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{name}: {differ} pixels with another class");
        let worst = |a: &[f32], b: &[f32]| a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        let (dp, de) = (worst(&mg.max_prob, &mc.max_prob), worst(&mg.entropy, &mc.entropy));
        println!("exit maps {name}: max prob {dp:.2e}, entropy {de:.2e}, mean entropy {:.2e}", (eg - ec).abs());
        assert!(dp <= 1e-5 && de <= 1e-5, "{name}: max prob off by {dp:.3e}, entropy by {de:.3e}");
        assert!((eg - ec).abs() <= 1e-5 && (cg - cc).abs() <= 1e-4, "{name}: summaries {eg} {cg} vs {ec} {cc}");
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
    for preset in ["add-2", "add-3", "autodeeplab"] {
        let card = ArchCard::preset(preset, 20).unwrap();
        let cpu = Engine::random(card.clone(), 0, &Device::Cpu).unwrap();
        let cuda = Engine::random(card, 0, &gpu).unwrap();
        for e in parity::compare(&cpu, &cuda, &img).unwrap() {
            println!("{preset} exit {}: rel L2 {:.2e}, argmax agree {:.4}", e.exit, e.rel_l2, e.argmax_agree);
            assert!(e.rel_l2 <= 1e-4, "{preset} exit {}: relative L2 error {:.3e}", e.exit, e.rel_l2);
        }
    }
}
