//! Adam for the architecture weights beta.
//!
//! The arithmetic is candle_nn's `AdamW` with weight decay 0 (a test checks they agree step by
//! step), but the moments and the step count are public here ([`Moments`]): `AdamW` keeps them
//! private, and `--resume` must restore them to continue exactly.

use candle_core::{Result, Tensor, Var};

/// Adam's state as a checkpoint keeps it: steps taken and both moments.
pub struct Moments {
    pub t: usize,
    pub m: Tensor,
    pub v: Tensor,
}

/// Adam state for one variable.
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken so far (bias correction).
    pub t: usize,
    /// First and second moments (zeros before the first step).
    pub m: Tensor,
    pub v: Tensor,
}

impl Adam {
    /// Fresh state for `var` with candle's default betas and eps.
    pub fn new(var: &Var, lr: f64) -> Result<Adam> {
        let d = candle_nn::ParamsAdamW::default();
        Ok(Adam { lr, beta1: d.beta1, beta2: d.beta2, eps: d.eps, t: 0, m: var.zeros_like()?, v: var.zeros_like()? })
    }

    /// Takes up the state an earlier run saved (moments moved to `device`).
    pub fn restore(&mut self, saved: Moments, device: &candle_core::Device) -> Result<()> {
        self.t = saved.t;
        self.m = saved.m.to_device(device)?;
        self.v = saved.v.to_device(device)?;
        Ok(())
    }

    /// One update of `var` from its gradient `g`.
    pub fn step(&mut self, var: &Var, g: &Tensor) -> Result<()> {
        self.t += 1;
        let scale_m = 1.0 / (1.0 - self.beta1.powi(self.t as i32));
        let scale_v = 1.0 / (1.0 - self.beta2.powi(self.t as i32));
        // detached, so the moments never keep past steps' graphs alive
        self.m = ((&self.m * self.beta1)? + (g * (1.0 - self.beta1))?)?.detach();
        self.v = ((&self.v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?.detach();
        let m_hat = (&self.m * scale_m)?;
        let v_hat = (&self.v * scale_v)?;
        // `* 1.0` mirrors AdamW's `theta * (1 - lr * weight_decay)` so the results agree bitwise
        let theta = (var.as_tensor() * 1.0)?;
        let update = ((m_hat / (v_hat.sqrt()? + self.eps)?)? * self.lr)?;
        var.set(&(theta - update)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::Optimizer;

    #[test]
    fn matches_candle_adamw_without_weight_decay() {
        let a = Var::new(&[0.5f32, -1.0, 2.0], &Device::Cpu).unwrap();
        let b = Var::new(&[0.5f32, -1.0, 2.0], &Device::Cpu).unwrap();
        let params = candle_nn::ParamsAdamW { lr: 3e-3, weight_decay: 0.0, ..Default::default() };
        let mut theirs = candle_nn::AdamW::new(vec![b.clone()], params).unwrap();
        let mut ours = Adam::new(&a, 3e-3).unwrap();
        for k in 0..4 {
            // a loss whose gradient changes every step: sum((k+1) * x^2)
            let la = (a.as_tensor().sqr().unwrap() * (k + 1) as f64).unwrap().sum_all().unwrap();
            let ga = la.backward().unwrap();
            ours.step(&a, ga.get(a.as_tensor()).unwrap()).unwrap();
            let lb = (b.as_tensor().sqr().unwrap() * (k + 1) as f64).unwrap().sum_all().unwrap();
            theirs.backward_step(&lb).unwrap();
        }
        let (va, vb) = (a.as_tensor().to_vec1::<f32>().unwrap(), b.as_tensor().to_vec1::<f32>().unwrap());
        assert_eq!(va, vb);
        assert_ne!(va, vec![0.5, -1.0, 2.0], "the variable moved");
    }
}
