//! Training resumes exactly: a run paused half-way and resumed ends with the same weights as
//! a run that never stopped, and both moved every weight; the loss goes down on a tiny problem.

use std::path::Path;

use add_studio::data::datasets::{OnBad, cityscapes};
use add_studio::data::synth::writer::{DatasetPlan, write_dataset};
use add_studio::network::ArchCard;
use add_studio::network::checkpoint::TensorFile;
use add_studio::train::trainer::{RunFiles, TrainConfig, train};
use candle_core::Device;

fn tiny_card() -> ArchCard {
    let mut card = ArchCard::preset("add-2", 2).unwrap();
    card.head.width = 16;
    card.head.low_level_width = 8;
    card.edm.kind = add_studio::network::EdmKind::None;
    card
}

fn dataset(dir: &Path) -> add_studio::data::datasets::Dataset {
    generated(dir, 6, (128, 96), 5)
}

/// `count` generated scenes of `(width, height)`, all in the train split.
fn generated(dir: &Path, count: u64, (width, height): (u32, u32), seed: u64) -> add_studio::data::datasets::Dataset {
    let plan =
        DatasetPlan { out: dir.to_path_buf(), count, width, height, seed, val_fraction: 0.0, difficulty: (0.0, 0.5) };
    write_dataset(&plan, &indicatif::ProgressBar::hidden()).unwrap();
    cityscapes::open(dir, "train", OnBad::Fail).unwrap()
}

fn cfg(steps: usize) -> TrainConfig {
    TrainConfig {
        steps,
        batch: 2,
        crop: (65, 97),
        scale: (0.75, 1.25),
        lr: 0.02,
        momentum: 0.9,
        weight_decay: 1e-4,
        seed: 3,
        checkpoint_every: 2,
        class_weights: Vec::new(),
        nesterov: false,
    }
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let f = TensorFile::read(&dir.join("model.safetensors")).unwrap();
    let mut v: Vec<_> =
        f.tensors.into_iter().map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1::<f32>().unwrap())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The trainable tensors of `trained` that moved by less than 1e-4 of their size from the
/// initial weights of `seed` (weight decay alone moves them by about 1e-6 in a few steps).
fn unmoved_weights(card: &ArchCard, seed: u64, trained: &[(String, Vec<f32>)]) -> Vec<String> {
    let init = add_studio::network::init::random_tensors(card, seed).unwrap();
    let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    trained
        .iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .filter(|(n, v)| {
            let w0 = init[n].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            norm(&mut v.iter().zip(&w0).map(|(a, b)| a - b)) <= 1e-4 * norm(&mut w0.iter().copied()).max(1e-12)
        })
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn paused_and_resumed_equals_uninterrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(&tmp.path().join("data"));
    let card = tiny_card();
    let straight = RunFiles { dir: tmp.path().join("a") };
    train(&card, &ds, &cfg(4), &straight, false, None, &Device::Cpu).unwrap();
    let paused = RunFiles { dir: tmp.path().join("b") };
    train(&card, &ds, &cfg(4), &paused, false, Some(1), &Device::Cpu).unwrap();
    // a fresh start over an existing run is refused
    assert!(
        train(&card, &ds, &cfg(4), &paused, false, None, &Device::Cpu).unwrap_err().to_string().contains("--resume")
    );
    // other settings on resume are refused
    let err = train(&card, &ds, &cfg(5), &paused, true, None, &Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("was started with other settings"), "{err}");
    train(&card, &ds, &cfg(4), &paused, true, None, &Device::Cpu).unwrap();
    let (a, b) = (weights(&straight.dir), weights(&paused.dir));
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let diff = va.iter().zip(vb).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-6, "{na}: resumed weights differ by {diff}");
    }
    // equal because both trained, not because neither did
    let unmoved = unmoved_weights(&card, cfg(4).seed, &a);
    assert!(unmoved.is_empty(), "weights still at their initial values after 4 steps: {unmoved:?}");
    let log = std::fs::read_to_string(paused.log()).unwrap();
    assert_eq!(log.lines().count(), 5, "header + one row per step, none repeated:\n{log}");
    // the trained model loads where a model is accepted
    add_studio::engine::Engine::load(&paused.model(), None, &Device::Cpu).unwrap();
}

/// On one generated scene, training lowers the loss: the loss of the trainer's first batch under
/// the trained weights is below its loss under the initial ones (both in training mode, so
/// BatchNorm uses the batch's statistics and the two are comparable).
#[test]
fn the_loss_falls_on_a_tiny_problem() {
    use add_studio::fit::{batches::batch, loss::multi_exit_loss};
    use add_studio::train::trainer::Trainee;
    const STEPS: usize = 12;
    let tmp = tempfile::tempdir().unwrap();
    let ds = generated(&tmp.path().join("data"), 1, (128, 96), 5);
    let card = tiny_card();
    let cfg = cfg(STEPS);
    let run = RunFiles { dir: tmp.path().join("run") };
    train(&card, &ds, &cfg, &run, false, None, &Device::Cpu).unwrap();
    let aug = add_studio::data::augment::AugmentParams { scale: cfg.scale, crop: cfg.crop, ..Default::default() };
    let b = batch(&ds, cfg.batch, &aug, &card.normalization, cfg.seed, 0, &Device::Cpu).unwrap();
    let loss = |weights: &std::collections::HashMap<String, candle_core::Tensor>| {
        let t = Trainee::new(&card, weights, &Device::Cpu).unwrap();
        multi_exit_loss(&t.net.forward_t(&b.images, true).unwrap(), &b.labels).unwrap().0.to_scalar::<f32>().unwrap()
    };
    let before = loss(&add_studio::network::init::random_tensors(&card, cfg.seed).unwrap());
    let after = loss(&TensorFile::read(&run.model()).unwrap().tensors);
    let logged: Vec<f32> = std::fs::read_to_string(run.log())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(logged.len(), STEPS);
    assert!((logged[0] - before).abs() <= 1e-3 * before, "step 0 logged {}, recomputed {before}", logged[0]);
    println!("loss of the first batch: {before} at step 0, {after} after {STEPS} steps; logged {logged:?}");
    assert!(after < 0.9 * before, "loss of the first batch: {before} at step 0, {after} after {STEPS} steps");
}

/// Step-0 loss and gradients of `card` on a fixed batch, through our CPU kernels or through the
/// generic path that CUDA and Metal run.
fn loss_and_gradient(card: &ArchCard, generic: bool) -> (f32, Vec<f64>) {
    use add_studio::fit::loss::multi_exit_loss;
    use add_studio::train::trainer::Trainee;
    let init = add_studio::network::init::random_tensors(card, 3).unwrap();
    let _generic = generic.then(add_studio::kernels::GenericKernels::on_this_thread);
    let t = Trainee::new(card, &init, &Device::Cpu).unwrap();
    let (n, h, w) = (2, 65, 97);
    let x: Vec<f32> = (0..n * 3 * h * w).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let y: Vec<u32> = (0..n * h * w).map(|i| ((i / w / 8 + i % w / 20) % 5) as u32).collect();
    let x = candle_core::Tensor::from_vec(x, (n, 3, h, w), &Device::Cpu).unwrap();
    let y = candle_core::Tensor::from_vec(y, (n, h, w), &Device::Cpu).unwrap();
    let (loss, _) = multi_exit_loss(&t.net.forward_t(&x, true).unwrap(), &y).unwrap();
    let grads = loss.backward().unwrap();
    let g = t
        .trainable()
        .iter()
        .flat_map(|(name, v)| {
            let g = grads.get(v).unwrap_or_else(|| panic!("no gradient for {name}"));
            g.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f64::from)
        })
        .collect();
    (loss.to_scalar::<f32>().unwrap(), g)
}

/// The GPU's training path (the generic kernels: candle ops only), run here on the CPU: it
/// trains, and its loss and gradient are our CPU kernels'. Training on a GPU once failed at the
/// first step (index-select of a non-contiguous view, which candle's CUDA and CPU ops both
/// refuse). The gradient is compared as a whole, by cosine, and loosely: at random init this
/// network is ill-conditioned (BatchNorms over a few pixels each), so float rounding moves single
/// elements a lot. Scaling the input by 1 + 1e-6 on our own kernels gives cosines of 0.985 to
/// 0.9999, depending on the input; the generic path, 0.998 here. Each kernel's own gradient is
/// checked exactly against the generic one in its unit tests (`kernels::fallback`).
#[test]
fn the_gpu_code_path_trains_like_the_cpu_kernels() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(&tmp.path().join("data"));
    let card = tiny_card();
    let generic = RunFiles { dir: tmp.path().join("generic") };
    {
        let _generic = add_studio::kernels::GenericKernels::on_this_thread();
        train(&card, &ds, &cfg(2), &generic, false, None, &Device::Cpu).unwrap();
    }
    assert_eq!(std::fs::read_to_string(generic.log()).unwrap().lines().count(), 3, "header + two steps");

    let (la, ga) = loss_and_gradient(&card, false);
    let (lb, gb) = loss_and_gradient(&card, true);
    assert!((la - lb).abs() <= 1e-4 * la.abs(), "loss: CPU kernels {la}, generic path {lb}");
    assert_eq!(ga.len(), gb.len());
    let dot: f64 = ga.iter().zip(&gb).map(|(a, b)| a * b).sum();
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let cosine = dot / (norm(&ga) * norm(&gb));
    assert!(cosine >= 0.95, "gradient cosine between the two paths: {cosine}");
}

/// Calibration moves nothing but the BatchNorm statistics, and they become those of the
/// images it is given: calibrated on one image, the stem's first BatchNorm holds the mean and
/// (unbiased) variance of that image's first convolution, channel by channel. (Comparing whole
/// outputs in inference and training mode instead is ill-conditioned on one image: channels
/// with nearly no variance over it divide any leftover by sqrt(eps).)
#[test]
fn calibrated_statistics_are_the_images_statistics() {
    use add_studio::train::bn_calibrate::{Calibration, calibrate};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = generated(&data, 1, (256, 128), 9);
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/add.safetensors");
    let before = TensorFile::read(&model).unwrap();
    let card = before.card.clone().unwrap();
    let args = Calibration {
        model: model.clone(),
        data: data.clone(),
        out: tmp.path().join("calibrated.safetensors"),
        batches: 60,
        batch: 2,
        size: (129, 257),
        seed: 1,
        device: "cpu".into(),
    };
    let after = calibrate(&before, &ds, &args, &Device::Cpu).unwrap();
    let mut moved = 0;
    for (name, t) in &before.tensors {
        let same = (t - &after[name]).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() == 0.0;
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            moved += usize::from(!same);
        } else {
            assert!(same, "{name} changed, only statistics may");
        }
    }
    assert!(moved > 100, "only {moved} statistics moved");

    // the image as calibration saw it, through the stem's first convolution
    let aug = add_studio::data::augment::AugmentParams {
        scale: (1.0, 1.0),
        crop: (129, 257),
        flip: false,
        jitter: 0.0,
        ..Default::default()
    };
    let b = add_studio::fit::batches::batch(&ds, 2, &aug, &card.normalization, 1, 0, &Device::Cpu).unwrap();
    let y = b.images.conv2d(&before.tensors["stem0.0.weight"], 1, 2, 1, 1).unwrap();
    let c = y.dim(1).unwrap();
    let y = y.transpose(0, 1).unwrap().flatten_from(1).unwrap();
    let mean = y.mean(1).unwrap().to_vec1::<f32>().unwrap();
    let var = y.var(1).unwrap().to_vec1::<f32>().unwrap(); // unbiased, as the running variance
    let stat = |t: &std::collections::HashMap<String, candle_core::Tensor>, n: &str| {
        t[&format!("stem0.1.running_{n}")].to_vec1::<f32>().unwrap()
    };
    let (cal_mean, cal_var) = (stat(&after, "mean"), stat(&after, "var"));
    let (old_mean, old_var) = (stat(&before.tensors, "mean"), stat(&before.tensors, "var"));
    let mut far_before = 0;
    for k in 0..c {
        let sd = var[k].sqrt();
        assert!(
            (cal_mean[k] - mean[k]).abs() <= 0.02 * sd,
            "channel {k}: mean {} after calibration, image {}",
            cal_mean[k],
            mean[k]
        );
        assert!(
            (cal_var[k] - var[k]).abs() <= 0.03 * var[k],
            "channel {k}: variance {} after calibration, image {}",
            cal_var[k],
            var[k]
        );
        far_before +=
            usize::from((old_mean[k] - mean[k]).abs() > 0.1 * sd || (old_var[k] - var[k]).abs() > 0.15 * var[k]);
    }
    assert!(
        far_before * 2 > c,
        "the shipped statistics were already this image's in {} of {c} channels",
        c - far_before
    );
}
