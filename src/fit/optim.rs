//! SGD with momentum (plain or Nesterov's) and weight decay (PyTorch semantics) under the
//! reference's poly learning rate, with its momentum buffers saved in checkpoints so a resumed
//! run continues exactly.

use std::collections::HashMap;

use candle_core::{Result, Tensor, Var, backprop::GradStore};

/// Learning rate at `step` of `total`: base * (1 - step/total)^0.9.
pub fn poly_lr(base: f64, step: usize, total: usize) -> f64 {
    base * (1.0 - step as f64 / total.max(1) as f64).max(0.0).powf(0.9)
}

/// SGD with momentum over named variables.
pub struct Sgd {
    vars: Vec<(String, Var)>,
    momentum: f64,
    weight_decay: f64,
    /// Nesterov's momentum (the reference's distributed recipe): steps along g + mu * buf.
    pub nesterov: bool,
    /// Momentum buffer per variable name (absent until the first step).
    pub buffers: HashMap<String, Tensor>,
}

impl Sgd {
    /// `vars` are the trainable variables (BatchNorm running statistics excluded).
    pub fn new(vars: Vec<(String, Var)>, momentum: f64, weight_decay: f64) -> Sgd {
        Sgd { vars, momentum, weight_decay, nesterov: false, buffers: HashMap::new() }
    }

    /// Takes up momentum buffers saved by an earlier run (moved to `device`).
    pub fn restore(&mut self, buffers: HashMap<String, Tensor>, device: &candle_core::Device) -> Result<()> {
        self.buffers = buffers.into_iter().map(|(n, t)| Ok((n, t.to_device(device)?))).collect::<Result<_>>()?;
        Ok(())
    }

    /// One update: g += wd * w; buf = mu * buf + g; w -= lr * buf (Nesterov: lr * (g + mu * buf)).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        for (name, var) in &self.vars {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let g = if self.weight_decay > 0.0 { (g + (var.as_tensor() * self.weight_decay)?)? } else { g.clone() };
            // detached: a buffer that kept its graph would chain every past step's gradients
            // (the variable is in the graph through weight decay) and grow without bound
            let buf = match self.buffers.get(name) {
                Some(b) => ((b * self.momentum)? + &g)?,
                None => g.clone(),
            }
            .detach();
            let update = if self.nesterov { (g + (&buf * self.momentum)?)?.detach() } else { buf.clone() };
            var.set(&(var.as_tensor() - (&update * lr)?)?)?;
            self.buffers.insert(name.clone(), buf);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn poly_decays_to_zero() {
        assert_eq!(poly_lr(0.1, 0, 100), 0.1);
        assert!((poly_lr(0.1, 50, 100) - 0.1 * 0.5f64.powf(0.9)).abs() < 1e-12);
        assert_eq!(poly_lr(0.1, 100, 100), 0.0);
    }

    #[test]
    fn momentum_matches_pytorch_by_hand() {
        let w = Var::new(&[1.0f32], &Device::Cpu).unwrap();
        let mut opt = Sgd::new(vec![("w".into(), w.clone())], 0.9, 0.1);
        for _ in 0..2 {
            let loss = (w.as_tensor() * 3.0).unwrap().sum_all().unwrap(); // grad 3
            opt.step(&loss.backward().unwrap(), 0.5).unwrap();
        }
        // step 1: g = 3 + 0.1*1 = 3.1, buf = 3.1, w = 1 - 1.55 = -0.55
        // step 2: g = 3 - 0.055 = 2.945, buf = 0.9*3.1 + 2.945 = 5.735, w = -0.55 - 2.8675
        let v = w.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((v - (-3.4175)).abs() < 1e-5, "{v}");
    }

    #[test]
    fn nesterov_matches_pytorch_by_hand() {
        let w = Var::new(&[1.0f32], &Device::Cpu).unwrap();
        let mut opt = Sgd::new(vec![("w".into(), w.clone())], 0.9, 0.1);
        opt.nesterov = true;
        for _ in 0..2 {
            let loss = (w.as_tensor() * 3.0).unwrap().sum_all().unwrap(); // grad 3
            opt.step(&loss.backward().unwrap(), 0.5).unwrap();
        }
        // step 1: g = 3.1, buf = 3.1, w = 1 - 0.5 * (3.1 + 2.79) = -1.945
        // step 2: g = 3 - 0.1945 = 2.8055, buf = 2.79 + 2.8055 = 5.5955,
        //         w = -1.945 - 0.5 * (2.8055 + 5.03595) = -5.865725
        let v = w.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((v - (-5.865725)).abs() < 1e-5, "{v}");
    }
}
