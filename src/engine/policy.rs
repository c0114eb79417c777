//! Exit policies. A policy looks at what is known at an exit and says stop or go on; the same
//! pure function serves the engine (before paying for a head) and the app (re-deciding instantly
//! from stored scores when the user moves the threshold).

use std::fmt;
use std::str::FromStr;

/// Confidence level above which a pixel counts as confident for [`Policy::ConfidentFraction`].
pub const DEFAULT_CONFIDENT_PROB: f32 = 0.9;

/// How to decide whether to stop at an early exit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Policy {
    /// Reference semantics: EDM score (predicted entropy) > tau => skip the head and go on;
    /// else run the head and stop. Uses the scalar EDM, else the EDM-map's mean.
    Edm { threshold: f32 },
    /// Like [`Policy::Edm`] but always with the EDM-map's mean.
    EdmMap { threshold: f32 },
    /// Run the head; stop if its mean normalised entropy < tau.
    Entropy { threshold: f32 },
    /// Run the head; stop if the fraction of pixels with max-prob > `prob` exceeds tau.
    ConfidentFraction { prob: f32, threshold: f32 },
    /// Always stop at exit k (0-based); k past the last exit means the last.
    FixedExit(usize),
}

/// What is known at an exit when a policy decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ExitStats {
    pub edm_score: Option<f32>,
    pub edm_map_score: Option<f32>,
    pub mean_entropy: Option<f32>,
    pub confident_fraction: Option<f32>,
}

/// A policy that cannot be applied to this model or these stats.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy `{0}` needs a decision maker, but the model has none of that kind")]
    NoEdm(String),
    #[error(
        "cannot parse policy `{text}`: {why} (expected edm:T, edm-map:T, entropy:T, confident:T[@P], max:T, exit:N with 1 the first exit, full)"
    )]
    Parse { text: String, why: String },
}

impl Policy {
    /// Whether the exit's head must run before the decision (output-based policies).
    pub fn needs_head(&self) -> bool {
        matches!(self, Policy::Entropy { .. } | Policy::ConfidentFraction { .. })
    }

    /// Confidence level used to count confident pixels.
    pub fn confident_prob(&self) -> f32 {
        match self {
            Policy::ConfidentFraction { prob, .. } => *prob,
            _ => DEFAULT_CONFIDENT_PROB,
        }
    }

    /// Decides at early exit `exit` (0-based). Returns true to stop here.
    pub fn stop_at(&self, exit: usize, s: &ExitStats) -> Result<bool, PolicyError> {
        Ok(match *self {
            Policy::Edm { threshold } => {
                let score = s.edm_score.or(s.edm_map_score).ok_or_else(|| PolicyError::NoEdm(self.to_string()))?;
                score <= threshold
            }
            Policy::EdmMap { threshold } => {
                let score = s.edm_map_score.ok_or_else(|| PolicyError::NoEdm(self.to_string()))?;
                score <= threshold
            }
            Policy::Entropy { threshold } => s.mean_entropy.is_some_and(|e| e < threshold),
            Policy::ConfidentFraction { threshold, .. } => s.confident_fraction.is_some_and(|f| f > threshold),
            Policy::FixedExit(k) => exit >= k,
        })
    }

    /// The threshold, if the policy has one (for sliders).
    pub fn threshold(&self) -> Option<f32> {
        match *self {
            Policy::Edm { threshold }
            | Policy::EdmMap { threshold }
            | Policy::Entropy { threshold }
            | Policy::ConfidentFraction { threshold, .. } => Some(threshold),
            Policy::FixedExit(_) => None,
        }
    }

    /// The same policy with another threshold.
    pub fn with_threshold(self, t: f32) -> Policy {
        match self {
            Policy::Edm { .. } => Policy::Edm { threshold: t },
            Policy::EdmMap { .. } => Policy::EdmMap { threshold: t },
            Policy::Entropy { .. } => Policy::Entropy { threshold: t },
            Policy::ConfidentFraction { prob, .. } => Policy::ConfidentFraction { prob, threshold: t },
            p @ Policy::FixedExit(_) => p,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Edm { threshold } => write!(f, "edm:{threshold}"),
            Policy::EdmMap { threshold } => write!(f, "edm-map:{threshold}"),
            Policy::Entropy { threshold } => write!(f, "entropy:{threshold}"),
            Policy::ConfidentFraction { prob, threshold } => write!(f, "confident:{threshold}@{prob}"),
            Policy::FixedExit(usize::MAX) => write!(f, "full"),
            // exits count from 1 wherever a person reads or types them, as in the app
            Policy::FixedExit(k) => write!(f, "exit:{}", k + 1),
        }
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    /// Parses `edm:0.3`, `edm-map:0.3`, `entropy:0.2`, `confident:0.8@0.9`, `max:0.9`, `exit:1`
    /// (exits count from 1: the first exit), `full`. `max:T` is the reference's `max` policy, which uses T as both the pixel level and
    /// the fraction: `confident:T@T`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| PolicyError::Parse { text: text.to_string(), why: why.to_string() };
        if text == "full" {
            return Ok(Policy::FixedExit(usize::MAX));
        }
        let (name, value) = text.split_once(':').ok_or_else(|| err("missing `:`"))?;
        let num = |v: &str| -> Result<f32, PolicyError> {
            let x: f32 = v.parse().map_err(|_| err("threshold is not a number"))?;
            if !x.is_finite() {
                return Err(err("threshold must be finite"));
            }
            Ok(x)
        };
        Ok(match name {
            "edm" => Policy::Edm { threshold: num(value)? },
            "edm-map" => Policy::EdmMap { threshold: num(value)? },
            "entropy" => Policy::Entropy { threshold: num(value)? },
            "confident" => {
                let (t, p) = value.split_once('@').unwrap_or((value, ""));
                let prob = if p.is_empty() { DEFAULT_CONFIDENT_PROB } else { num(p)? };
                if !(0.0..=1.0).contains(&prob) {
                    return Err(err("confidence level must be in [0, 1]"));
                }
                Policy::ConfidentFraction { prob, threshold: num(t)? }
            }
            "max" => {
                let t = num(value)?;
                if !(0.0..=1.0).contains(&t) {
                    return Err(err("max:T needs T in [0, 1] (it is the pixel level and the fraction)"));
                }
                Policy::ConfidentFraction { prob: t, threshold: t }
            }
            "exit" => match value.parse::<usize>().map_err(|_| err("exit is not a whole number"))? {
                0 => return Err(err("exits count from 1, as in the app: exit:1 is the first exit")),
                n => Policy::FixedExit(n - 1),
            },
            _ => return Err(err("unknown policy name")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for text in ["edm:0.3", "edm-map:0.25", "entropy:0.2", "confident:0.8@0.95", "exit:1"] {
            let p: Policy = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        assert_eq!("exit:1".parse::<Policy>().unwrap(), Policy::FixedExit(0), "exits count from 1");
        let e = "exit:0".parse::<Policy>().unwrap_err().to_string();
        assert!(e.contains("exits count from 1"), "{e}");
        assert!("edm:abc".parse::<Policy>().is_err());
        assert!("speed:1".parse::<Policy>().is_err());
        assert!("confident:0.5@2".parse::<Policy>().is_err());
    }

    #[test]
    fn max_is_the_reference_policy_with_one_threshold_for_both() {
        assert_eq!("max:0.8".parse::<Policy>().unwrap(), Policy::ConfidentFraction { prob: 0.8, threshold: 0.8 });
        assert_eq!("max:0.8".parse::<Policy>().unwrap(), "confident:0.8@0.8".parse::<Policy>().unwrap());
        let e = "max:1.5".parse::<Policy>().unwrap_err().to_string();
        assert!(e.contains("max:T needs T in [0, 1]"), "{e}");
    }

    #[test]
    fn edm_follows_reference_semantics() {
        let p = Policy::Edm { threshold: 0.3 };
        let sure = ExitStats { edm_score: Some(0.1), ..Default::default() };
        let unsure = ExitStats { edm_score: Some(0.5), ..Default::default() };
        assert!(p.stop_at(0, &sure).unwrap());
        assert!(!p.stop_at(0, &unsure).unwrap());
        assert!(p.stop_at(0, &ExitStats::default()).is_err());
    }

    #[test]
    fn output_policies_compare_the_right_way() {
        let s = ExitStats { mean_entropy: Some(0.2), confident_fraction: Some(0.7), ..Default::default() };
        assert!(Policy::Entropy { threshold: 0.25 }.stop_at(0, &s).unwrap());
        assert!(!Policy::Entropy { threshold: 0.15 }.stop_at(0, &s).unwrap());
        assert!(Policy::ConfidentFraction { prob: 0.9, threshold: 0.6 }.stop_at(0, &s).unwrap());
        assert!(!Policy::ConfidentFraction { prob: 0.9, threshold: 0.8 }.stop_at(0, &s).unwrap());
        assert!(!Policy::FixedExit(1).stop_at(0, &s).unwrap());
        assert!(Policy::FixedExit(1).stop_at(1, &s).unwrap());
    }
}
