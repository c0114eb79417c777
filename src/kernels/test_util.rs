//! Test helpers: seeded random tensors, relative error, and central finite differences.

use candle_core::{Device, Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeded uniform(-1, 1) f32 tensor on the CPU, so failures reproduce.
pub(crate) fn rand_t(dims: &[usize], seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
}

/// Flattened f64 copy of a tensor.
pub(crate) fn to_f64(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(candle_core::DType::F64).unwrap().to_vec1().unwrap()
}

/// `max |a - b| / max |b|`: relative to the reference's scale, so a near-zero element does not
/// blow up the ratio while any real discrepancy still shows.
pub(crate) fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    let (a, b) = (to_f64(a), to_f64(b));
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    let diff = a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    diff / scale
}

/// Asserts `rel_err(ours, reference) <= tol`, naming the case.
pub(crate) fn assert_close(ours: &Tensor, reference: &Tensor, tol: f64, case: &str) {
    let e = rel_err(ours, reference);
    assert!(e <= tol, "{case}: relative error {e:.3e} > {tol:.1e}");
}

/// Checks the backward of `f` at `inputs` by central finite differences of
/// `L = sum(f(inputs) * r)` for a fixed random `r`, on every element of every input. The ops are
/// linear in each input, so a large step (0.5) is exact up to rounding and the check is sharp;
/// L is accumulated in f64. Returns the worst relative error over all inputs.
pub(crate) fn fd_check(f: &dyn Fn(&[Tensor]) -> Result<Tensor>, inputs: &[Tensor], seed: u64) -> f64 {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts).unwrap();
    let r = rand_t(y.dims(), seed);
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let loss = |xs: &[Tensor]| -> f64 {
        let y = f(xs).unwrap();
        to_f64(&y).iter().zip(to_f64(&r)).map(|(a, b)| a * b).sum()
    };
    let eps = 0.5f32;
    let mut worst = 0.0f64;
    for (i, t) in inputs.iter().enumerate() {
        let g = to_f64(grads.get(vars[i].as_tensor()).expect("no gradient for an input"));
        let base: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        let mut fd = vec![0.0f64; base.len()];
        for j in 0..base.len() {
            let eval = |delta: f32| {
                let mut v = base.clone();
                v[j] += delta;
                let mut xs = inputs.to_vec();
                xs[i] = Tensor::from_vec(v, t.dims(), t.device()).unwrap();
                loss(&xs)
            };
            fd[j] = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
        }
        let scale = fd.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
        let diff = g.iter().zip(&fd).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        worst = worst.max(diff / scale);
    }
    worst
}
