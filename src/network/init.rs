//! Seeded random weights for a card: the same seed gives the same network on every machine
//! (candle's CPU generator cannot be seeded). Kaiming-normal convolutions and linears as the
//! reference initialises them, BatchNorm as identity, biases zero.

use std::collections::{BTreeMap, HashMap};

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::card::ArchCard;
use super::checkpoint::expected_tensors;

/// Every tensor `card`'s network reads, initialised from `seed`.
pub fn random_tensors(card: &ArchCard, seed: u64) -> candle_core::Result<HashMap<String, Tensor>> {
    random_init(expected_tensors(card)?, seed)
}

/// Tensors of the given names and shapes, initialised from `seed` by the rules above
/// (1-D `weight`/`running_var` ones, other 1-D zeros, the rest Kaiming normal).
pub fn random_init(shapes: BTreeMap<String, Vec<usize>>, seed: u64) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = HashMap::new();
    for (name, shape) in shapes {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = if name.ends_with("running_var") || (shape.len() == 1 && name.ends_with("weight")) {
            vec![1.0; n]
        } else if shape.len() == 1 {
            vec![0.0; n]
        } else {
            let fan_in: usize = shape[1..].iter().product();
            let std = (2.0 / fan_in as f64).sqrt();
            (0..n).map(|_| (normal(&mut rng) * std) as f32).collect()
        };
        out.insert(name, Tensor::from_vec(data, shape, &Device::Cpu)?);
    }
    Ok(out)
}

/// A standard normal sample (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights() {
        let card = ArchCard::preset("add-2", 4).unwrap();
        let a = random_tensors(&card, 3).unwrap();
        let b = random_tensors(&card, 3).unwrap();
        let c = random_tensors(&card, 4).unwrap();
        let name = "cells.4._ops.1.op.1.weight";
        let v = |m: &HashMap<String, Tensor>| m[name].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(&a), v(&b));
        assert_ne!(v(&a), v(&c));
        assert_eq!(a["aspp.bn1.running_var"].flatten_all().unwrap().to_vec1::<f32>().unwrap()[0], 1.0);
    }
}
