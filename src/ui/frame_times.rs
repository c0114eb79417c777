//! Frame-time bookkeeping: the UI must stay under 16 ms per frame while the worker computes,
//! and an exit must be on screen within 50 ms of arriving. Printed at exit in screenshot mode
//! (or with `ADD_FRAME_STATS=1`) so the budget is measured in the real window, not guessed.

/// UI frame times, to check the 16 ms budget while the worker computes.
#[derive(Debug, Default, Clone)]
pub struct FrameTimes {
    /// Seconds, most recent last (bounded).
    pub samples: Vec<f32>,
    /// Frames drawn while a run was in progress.
    pub busy: Vec<f32>,
    /// Whole-frame CPU time (eframe's measure) of frames while a run was in progress.
    pub busy_cpu: Vec<f32>,
}

impl FrameTimes {
    pub(crate) fn record(&mut self, secs: f32, busy: bool) {
        for (v, on) in [(&mut self.samples, true), (&mut self.busy, busy)] {
            if on {
                if v.len() >= 10_000 {
                    v.remove(0);
                }
                v.push(secs);
            }
        }
    }

    pub(crate) fn record_cpu(&mut self, secs: f32, busy: bool) {
        if busy && self.busy_cpu.len() < 10_000 {
            self.busy_cpu.push(secs);
        }
    }

    /// One line: frame times while a run was in progress, and exit-to-screen latency.
    pub fn report(&self, exit_to_screen_ms: &[f32]) -> String {
        let q = |v: &[f32], p: f32| Self::quantile_ms(v, p).map(|x| format!("{x:.2} ms")).unwrap_or_else(|| "-".into());
        let max_lat = exit_to_screen_ms.iter().cloned().fold(0.0f32, f32::max);
        format!(
            "frames while computing: {}; ui p50 {} p99 {}; whole frame CPU p50 {} p99 {}; exit sent by the worker to drawn frame max {max_lat:.1} ms over {} exits",
            self.busy.len(),
            q(&self.busy, 0.5),
            q(&self.busy, 0.99),
            q(&self.busy_cpu, 0.5),
            q(&self.busy_cpu, 0.99),
            exit_to_screen_ms.len()
        )
    }

    /// The q-quantile (0..=1) of `v`, in milliseconds.
    pub fn quantile_ms(v: &[f32], q: f32) -> Option<f32> {
        if v.is_empty() {
            return None;
        }
        let mut s = v.to_vec();
        s.sort_by(f32::total_cmp);
        Some(s[((s.len() - 1) as f32 * q).round() as usize] * 1e3)
    }
}

/// Median, 99th percentile and worst of `v` (nearest rank; values that are not finite left out;
/// NaN when none is left): how the frame-time measurements (`add bench-app`, the frame examples)
/// sum up their frames.
pub fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    s.sort_by(f64::total_cmp);
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.99), s[s.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_quantiles_of_finite_values() {
        let v: Vec<f64> = (1..=100).map(f64::from).chain([f64::NAN]).collect();
        assert_eq!(spread(&v), (51.0, 99.0, 100.0));
        assert!(spread(&[]).0.is_nan());
    }
}
