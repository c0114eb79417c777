//! The policy's decision, re-evaluated from stored per-exit statistics whenever the user moves
//! the threshold: the same pure `Policy::stop_at` the engine uses, so the panel never disagrees
//! with what a rerun would do, and no rerun is needed to see it.

use super::results::ModelRun;
use crate::engine::{ExitStats, Policy};

/// What the policy says at one exit.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Stop,
    Continue,
    /// The last exit: the answer if reached.
    Final,
    /// The run never reached this exit (it stopped earlier or is still going).
    NotReached,
    /// The policy needs this exit's head, which did not run.
    NeedsHead,
    /// The policy cannot be applied (e.g. EDM policy on a model without EDM).
    Error(String),
}

/// The re-evaluated decision over all exits.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The exit the policy takes, when it can be told from what is known.
    pub exit: Option<usize>,
    pub verdicts: Vec<Verdict>,
}

impl Decided {
    /// Whether the chosen exit's head has not been computed.
    pub fn needs_compute(&self, run: &ModelRun) -> bool {
        self.exit.is_some_and(|k| run.maps(k).is_none())
    }
}

/// The statistics the policy sees at exit `k`, from the report and the UI's derived numbers.
pub fn stats_at(run: &ModelRun, k: usize, policy: &Policy) -> Option<ExitStats> {
    let r = run.exit(k)?;
    let d = run.derived(k);
    Some(ExitStats {
        edm_score: r.edm_score,
        edm_map_score: r.edm_map_score,
        mean_entropy: r.mean_entropy.or(d.map(|d| d.mean_entropy)),
        // Recomputed at the policy's own confidence level, which the user may have changed.
        confident_fraction: d.map(|d| d.confident_fraction(policy.confident_prob())).or(r.confident_fraction),
    })
}

/// Decides over the exits of `run` (`num_exits` from the card, the last one included).
pub fn decide(policy: &Policy, run: &ModelRun, num_exits: usize) -> Decided {
    let mut verdicts = Vec::with_capacity(num_exits);
    let mut exit = None;
    let mut blocked = false;
    for k in 0..num_exits {
        let v = if k + 1 == num_exits {
            Verdict::Final
        } else {
            match stats_at(run, k, policy) {
                None => Verdict::NotReached,
                Some(s) => {
                    if policy.needs_head() && s.mean_entropy.is_none() && s.confident_fraction.is_none() {
                        Verdict::NeedsHead
                    } else {
                        match policy.stop_at(k, &s) {
                            Ok(true) => Verdict::Stop,
                            Ok(false) => Verdict::Continue,
                            Err(e) => Verdict::Error(e.to_string()),
                        }
                    }
                }
            }
        };
        if exit.is_none() && !blocked {
            match v {
                Verdict::Stop | Verdict::Final => exit = Some(k),
                Verdict::Continue => {}
                _ => blocked = true,
            }
        }
        verdicts.push(v);
    }
    Decided { exit, verdicts }
}

/// The reason for a verdict, with the number the policy compared.
pub fn reason(policy: &Policy, s: Option<crate::engine::ExitStats>, v: &Verdict) -> String {
    let word = match v {
        Verdict::Stop => "stop",
        Verdict::Continue => "go on",
        Verdict::Final => return "last exit".into(),
        Verdict::NotReached => return "not reached".into(),
        Verdict::NeedsHead => return "head not computed".into(),
        Verdict::Error(e) => return e.clone(),
    };
    let Some(s) = s else { return word.into() };
    let (name, value, op_stop, op_go) = match *policy {
        Policy::Edm { .. } => ("EDM", s.edm_score.or(s.edm_map_score), "<=", ">"),
        Policy::EdmMap { .. } => ("EDM-map", s.edm_map_score, "<=", ">"),
        Policy::Entropy { .. } => ("entropy", s.mean_entropy, "<", ">="),
        Policy::ConfidentFraction { .. } => ("confident", s.confident_fraction, ">", "<="),
        Policy::FixedExit(_) => return word.into(),
    };
    let t = policy.threshold().unwrap_or(0.0);
    match value {
        Some(x) => format!("{name} {x:.3} {} {t:.2}: {word}", if *v == Verdict::Stop { op_stop } else { op_go }),
        None => word.into(),
    }
}
