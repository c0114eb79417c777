//! From an exit's logits to what the user sees and the output-based policies read: the class
//! map, the max-probability and normalised-entropy maps, their mean entropy and the share of
//! confident pixels. Every answer pays for this at full image size, so it reads the logits
//! where they lie (a cropped view of the padded output needs no copy) and runs the vectorised
//! [`class_stats`] kernel on segments of rows, in parallel. Logits on a CUDA GPU get their maps
//! there (`--features cuda`), so three planes come to the host instead of all K.

use candle_core::{DType, Device, Storage, Tensor};

use super::events::ExitMaps;
use crate::kernels::class_stats::{self, SEGMENT};

/// Class map, max-probability and normalised entropy of (1,K,H,W) logits (any strides, any
/// device), with the mean entropy and the fraction of pixels whose max probability exceeds
/// `confident_prob`.
pub fn maps_from_logits(logits: &Tensor, confident_prob: f32) -> candle_core::Result<(ExitMaps, f32, f32)> {
    use rayon::prelude::*;
    let (n_img, k, h, w) = logits.dims4()?;
    if k == 0 {
        candle_core::bail!("maps_from_logits: logits have no classes");
    }
    if n_img != 1 {
        candle_core::bail!("maps_from_logits: logits must hold one image, got {n_img}");
    }
    if k > 256 {
        candle_core::bail!("maps_from_logits: {k} classes do not fit the u8 class map");
    }
    #[cfg(feature = "cuda")]
    if let Some(planes) = crate::kernels::exit_maps_cuda(logits)? {
        return maps_from_planes(&planes, (h, w), confident_prob);
    }
    let mut logits = logits.clone();
    if !logits.device().is_cpu() || logits.dtype() != DType::F32 {
        logits = logits.to_dtype(DType::F32)?.to_device(&Device::Cpu)?;
    }
    if logits.stride()[3] != 1 {
        logits = logits.contiguous()?;
    }
    let (storage, layout) = logits.storage_and_layout();
    let Storage::Cpu(candle_core::CpuStorage::F32(data)) = &*storage else {
        candle_core::bail!("maps_from_logits: logits must be f32 on the CPU by now")
    };
    let (offset, cs, rs) = (layout.start_offset(), layout.stride()[1], layout.stride()[2]);
    let n = h * w;
    let (mut classes, mut max_prob, mut entropy) = (vec![0u8; n], vec![0f32; n], vec![0f32; n]);
    // tasks of whole rows, about 8k pixels each
    let rows = (8192 / w.max(1)).max(1);
    let chunk = rows * w;
    classes
        .par_chunks_mut(chunk)
        .zip(max_prob.par_chunks_mut(chunk))
        .zip(entropy.par_chunks_mut(chunk))
        .enumerate()
        .for_each(|(ci, ((cls, mp), ent))| {
            for (r, ((cls, mp), ent)) in cls.chunks_mut(w).zip(mp.chunks_mut(w)).zip(ent.chunks_mut(w)).enumerate() {
                let row = offset + (ci * rows + r) * rs;
                for x0 in (0..w).step_by(SEGMENT) {
                    let x1 = (x0 + SEGMENT).min(w);
                    let plane = |c: usize| &data[row + c * cs + x0..row + c * cs + x1];
                    class_stats::segment(k, plane, &mut cls[x0..x1], &mut mp[x0..x1], &mut ent[x0..x1]);
                }
            }
        });
    Ok(summarise(ExitMaps { width: w, height: h, classes, max_prob, entropy }, confident_prob))
}

/// The maps from the GPU's (3,H,W) planes: class (as f32), max probability, entropy.
#[cfg(feature = "cuda")]
fn maps_from_planes(
    planes: &Tensor,
    (h, w): (usize, usize),
    confident_prob: f32,
) -> candle_core::Result<(ExitMaps, f32, f32)> {
    let v: Vec<f32> = planes.flatten_all()?.to_device(&Device::Cpu)?.to_vec1()?;
    let n = h * w;
    let classes = v[..n].iter().map(|&c| c as u8).collect();
    let maps = ExitMaps { width: w, height: h, classes, max_prob: v[n..2 * n].to_vec(), entropy: v[2 * n..].to_vec() };
    Ok(summarise(maps, confident_prob))
}

/// The maps with their mean entropy and the share of pixels above `confident_prob`.
fn summarise(maps: ExitMaps, confident_prob: f32) -> (ExitMaps, f32, f32) {
    let n = maps.entropy.len().max(1);
    let mean_entropy = (maps.entropy.iter().map(|&e| e as f64).sum::<f64>() / n as f64) as f32;
    let confident = maps.max_prob.iter().filter(|&&p| p > confident_prob).count() as f32 / n as f32;
    (maps, mean_entropy, confident)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The maps computed the plain way, with candle's ops over the class axis.
    fn reference(logits: &Tensor) -> (Vec<u32>, Vec<f32>, Vec<f32>) {
        let k = logits.dims4().unwrap().1;
        let l = logits.squeeze(0).unwrap();
        let probs = candle_nn::ops::softmax(&l, 0).unwrap();
        let log_p = candle_nn::ops::log_softmax(&l, 0).unwrap();
        let ent = ((&probs * log_p).unwrap().sum(0).unwrap() * (-1.0 / (k as f64).ln())).unwrap();
        let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        (l.argmax(0).unwrap().flatten_all().unwrap().to_vec1().unwrap(), flat(probs.max(0).unwrap()), flat(ent))
    }

    /// `maps_from_logits(logits, confident_prob)` against [`reference`]: the same classes,
    /// probabilities and entropies within 1e-5, their mean, and the confident share.
    fn assert_matches_reference(logits: &Tensor, confident_prob: f32) -> ExitMaps {
        let (maps, mean_entropy, confident) = maps_from_logits(logits, confident_prob).unwrap();
        let (classes, max_prob, entropy) = reference(&logits.contiguous().unwrap());
        assert_eq!(maps.classes.iter().map(|&c| c as u32).collect::<Vec<_>>(), classes);
        for (a, b) in maps.max_prob.iter().zip(&max_prob).chain(maps.entropy.iter().zip(&entropy)) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let n = entropy.len() as f32;
        assert!((mean_entropy - entropy.iter().sum::<f32>() / n).abs() < 1e-5);
        assert_eq!(confident, max_prob.iter().filter(|&&p| p > confident_prob).count() as f32 / n);
        maps
    }

    #[test]
    fn fused_maps_match_candles_ops() {
        // 37x53 = 1961 pixels: one full chunk and a partial one; a wide logit range
        let logits = Tensor::randn(0f32, 4.0, (1, 19, 37, 53), &Device::Cpu).unwrap();
        assert_matches_reference(&logits, 0.5);
    }

    #[test]
    fn maps_of_a_cropped_view_with_rows_wider_than_a_segment() {
        // the padded network output cropped to the image, as `Prepared::to_image` hands it over
        let padded = Tensor::randn(0f32, 3.0, (1, 19, 41, 1201), &Device::Cpu).unwrap();
        let view = padded.narrow(2, 0, 37).unwrap().narrow(3, 0, 1100).unwrap();
        assert!(!view.is_contiguous());
        let maps = assert_matches_reference(&view, 0.3);
        assert_eq!((maps.width, maps.height), (1100, 37));
    }

    #[test]
    fn maps_refuse_what_they_cannot_hold() {
        let two = Tensor::zeros((2, 3, 4, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(maps_from_logits(&two, 0.5).unwrap_err().to_string().contains("one image"));
        let many = Tensor::zeros((1, 300, 2, 2), DType::F32, &Device::Cpu).unwrap();
        assert!(maps_from_logits(&many, 0.5).unwrap_err().to_string().contains("300 classes"));
    }

    #[test]
    fn fused_maps_of_flat_and_single_class_logits() {
        let flat = Tensor::zeros((1, 4, 3, 5), DType::F32, &Device::Cpu).unwrap();
        let (maps, mean_entropy, _) = maps_from_logits(&flat, 0.5).unwrap();
        assert!(maps.classes.iter().all(|&c| c == 0), "ties go to the first class");
        assert!(maps.max_prob.iter().all(|&p| (p - 0.25).abs() < 1e-6));
        assert!((mean_entropy - 1.0).abs() < 1e-5, "uniform is the most uncertain");
        let one = Tensor::ones((1, 1, 2, 2), DType::F32, &Device::Cpu).unwrap();
        let (maps, mean_entropy, confident) = maps_from_logits(&one, 0.5).unwrap();
        assert_eq!((maps.max_prob, mean_entropy, confident), (vec![1.0; 4], 0.0, 1.0));
    }
}
