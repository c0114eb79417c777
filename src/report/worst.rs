//! Which images a failure report shows: under the report's policy, the worst N by each
//! criterion, computed from the evaluation's per-image records alone (no network run).

use crate::engine::Policy;
use crate::eval::collect::ImageRecord;
use crate::eval::sweep::chosen_exit;

/// A way an image can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// It stopped at an early exit, and the last exit would have been better by the most.
    EarlyButWrong,
    /// The lowest mIoU at the exit the policy chose.
    LowestIou,
    /// The chosen exit disagrees most with full Auto-DeepLab (share of pixels).
    BaselineDisagreement,
    /// The decision maker said "confident" (low predicted entropy) where the exit's real
    /// entropy was highest.
    DecisionMakerWrong,
}

impl Criterion {
    pub const ALL: [Criterion; 4] = [
        Criterion::EarlyButWrong,
        Criterion::LowestIou,
        Criterion::BaselineDisagreement,
        Criterion::DecisionMakerWrong,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Criterion::EarlyButWrong => "Exited early, but wrong",
            Criterion::LowestIou => "Lowest mIoU at the chosen exit",
            Criterion::BaselineDisagreement => "Largest disagreement with full Auto-DeepLab",
            Criterion::DecisionMakerWrong => "Decision maker most wrong (confident score, high entropy)",
        }
    }

    /// How bad image `r` is by this criterion (higher is worse), with the number to show; None
    /// where the criterion does not apply to it.
    pub fn score(self, policy: &Policy, r: &ImageRecord) -> Option<(f64, String)> {
        let chosen = chosen_exit(policy, r);
        let last = r.exits.len() - 1;
        let miou = |e: usize| 100.0 * r.exits[e].confusion.miou();
        match self {
            Criterion::EarlyButWrong => {
                let loss = miou(last) - miou(chosen);
                (chosen < last && loss.is_finite() && loss > 0.0).then(|| {
                    (
                        loss,
                        format!(
                            "stopped at exit {chosen} with {:.1} mIoU; the last exit scores {:.1}",
                            miou(chosen),
                            miou(last)
                        ),
                    )
                })
            }
            Criterion::LowestIou => {
                let m = miou(chosen);
                m.is_finite().then(|| (-m, format!("exit {}: {m:.1} mIoU", chosen + 1)))
            }
            Criterion::BaselineDisagreement => {
                let a = r.exits[chosen].baseline_agreement?;
                Some((
                    1.0 - a,
                    format!("exit {} agrees with full Auto-DeepLab on {:.1} % of pixels", chosen + 1, 100.0 * a),
                ))
            }
            Criterion::DecisionMakerWrong => {
                // every early exit the decision maker judged, the worst one
                (0..last)
                    .filter_map(|e| {
                        let s = &r.exits[e].stats;
                        let said = s.edm_score.or(s.edm_map_score)?;
                        let real = s.mean_entropy?;
                        Some((
                            (real - said) as f64,
                            format!("exit {}: EDM said {said:.3}, entropy was {real:.3}", e + 1),
                        ))
                    })
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .filter(|(gap, _)| *gap > 0.0)
            }
        }
    }
}

/// The `n` worst images by `c`: (index into `recs`, what to show), worst first.
pub fn worst(c: Criterion, policy: &Policy, recs: &[ImageRecord], n: usize) -> Vec<(usize, String)> {
    let mut scored: Vec<(usize, f64, String)> =
        recs.iter().enumerate().filter_map(|(i, r)| c.score(policy, r).map(|(s, t)| (i, s, t))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().take(n).map(|(i, _, t)| (i, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ExitStats;
    use crate::eval::collect::ExitRecord;
    use crate::eval::metrics::ConfusionMatrix;

    /// An image whose exits predict `right` of 4 pixels correctly, with these EDM scores.
    fn rec(right: &[usize], edm: f32, entropy: f32, agreement: f64) -> ImageRecord {
        let exits = right
            .iter()
            .map(|&k| {
                let mut c = ConfusionMatrix::new(2);
                let pred: Vec<u8> = (0..4).map(|i| if i < k { 0 } else { 1 }).collect();
                c.add(&[0, 0, 0, 0], &pred).unwrap();
                ExitRecord {
                    stats: ExitStats {
                        edm_score: Some(edm),
                        edm_map_score: None,
                        mean_entropy: Some(entropy),
                        confident_fraction: None,
                    },
                    edm_ms: 0.0,
                    edm_map_ms: 0.0,
                    head_ms: 0.0,
                    baseline_agreement: Some(agreement),
                    confusion: c,
                }
            })
            .collect();
        ImageRecord {
            image: String::new(),
            cell_ms: vec![],
            exits,
            baseline_ms: None,
            baseline_confusion: None,
            difficulty: None,
        }
    }

    #[test]
    fn each_criterion_ranks_by_its_own_number() {
        // edm:0.3 stops at exit 0 when the EDM score is below 0.3
        let p = Policy::Edm { threshold: 0.3 };
        let recs = vec![
            rec(&[1, 4], 0.1, 0.9, 0.5), // stopped early at 25 % right, last exit perfect; EDM badly wrong
            rec(&[3, 4], 0.1, 0.2, 0.9), // stopped early, a smaller loss
            rec(&[4, 0], 0.5, 0.5, 0.99), // went on to the last exit, which is all wrong
        ];
        let order = |c| worst(c, &p, &recs, 3).into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(order(Criterion::EarlyButWrong), [0, 1]);
        assert_eq!(order(Criterion::LowestIou), [2, 0, 1]);
        assert_eq!(order(Criterion::BaselineDisagreement), [0, 1, 2]);
        assert_eq!(order(Criterion::DecisionMakerWrong), [0, 1]);
        assert_eq!(worst(Criterion::LowestIou, &p, &recs, 1).len(), 1);
    }
}
