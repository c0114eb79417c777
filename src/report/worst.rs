//! Which images a failure report shows: under the report's policy, the worst N by each
//! criterion, computed from the evaluation's per-image records alone (no network run). The
//! [`Picker`] sees the records one at a time and keeps only each criterion's N worst so far, so
//! a pass over any number of images holds at most 4 N candidates.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

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
                            "stopped at exit {} with {:.1} mIoU; the last exit scores {:.1}",
                            chosen + 1,
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

/// An image in a criterion's list: ordered by how bad it is, then the earlier image first.
struct Candidate {
    score: f64,
    index: usize,
    note: String,
}

impl Candidate {
    /// Larger is worse: a higher score, or the same score on an earlier image.
    fn key(&self) -> (f64, Reverse<usize>) {
        (self.score, Reverse(self.index))
    }
}

impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        let (a, b) = (self.key(), o.key());
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    }
}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}
impl Eq for Candidate {}

/// Each criterion's `n` worst images so far, as the records pass by.
pub struct Picker {
    policy: Policy,
    n: usize,
    /// Per criterion of [`Criterion::ALL`], a min-heap: its top is the first to leave.
    lists: Vec<BinaryHeap<Reverse<Candidate>>>,
}

impl Picker {
    pub fn new(policy: Policy, n: usize) -> Picker {
        Picker { policy, n, lists: Criterion::ALL.iter().map(|_| BinaryHeap::new()).collect() }
    }

    /// Offers image `index`; true when it is now in some criterion's list.
    pub fn offer(&mut self, index: usize, r: &ImageRecord) -> bool {
        let mut taken = false;
        for (c, list) in Criterion::ALL.iter().zip(&mut self.lists) {
            let Some((score, note)) = c.score(&self.policy, r) else { continue };
            let cand = Candidate { score, index, note };
            if list.len() < self.n {
                list.push(Reverse(cand));
            } else if list.peek().is_some_and(|Reverse(least)| cand > *least) {
                list.pop();
                list.push(Reverse(cand));
            } else {
                continue;
            }
            taken = true;
        }
        taken
    }

    /// Whether image `index` is in some list.
    pub fn holds(&self, index: usize) -> bool {
        self.lists.iter().any(|l| l.iter().any(|Reverse(c)| c.index == index))
    }

    /// Each criterion with its images (index, what to show), worst first.
    pub fn lists(self) -> Vec<(Criterion, Vec<(usize, String)>)> {
        Criterion::ALL
            .into_iter()
            .zip(self.lists)
            .map(|(c, l)| (c, l.into_sorted_vec().into_iter().map(|Reverse(x)| (x.index, x.note)).collect()))
            .collect()
    }
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
        let picked = |n: usize| {
            let mut picker = Picker::new(p, n);
            recs.iter().enumerate().for_each(|(i, r)| {
                picker.offer(i, r);
            });
            picker.lists().into_iter().map(|(_, l)| l.into_iter().map(|(i, _)| i).collect()).collect::<Vec<Vec<_>>>()
        };
        // in the order of Criterion::ALL
        assert_eq!(picked(3), [vec![0, 1], vec![2, 0, 1], vec![0, 1, 2], vec![0, 1]]);
        assert_eq!(picked(1), [vec![0], vec![2], vec![0], vec![0]]);
    }

    #[test]
    fn the_picker_keeps_n_and_ties_go_to_the_earlier_image() {
        let p = Policy::FixedExit(0);
        let mut picker = Picker::new(p, 2);
        // all equally bad by lowest mIoU: the first two stay, later ones never enter
        assert!(picker.offer(0, &rec(&[1, 4], 0.1, 0.2, 0.5)));
        assert!(picker.offer(1, &rec(&[1, 4], 0.1, 0.2, 0.5)));
        assert!(!picker.offer(2, &rec(&[1, 4], 0.1, 0.2, 0.5)));
        // one worse by every criterion pushes out the later of the two, which no list holds any more
        assert!(picker.offer(3, &rec(&[0, 4], 0.1, 0.3, 0.4)));
        assert!(picker.holds(0) && !picker.holds(1) && picker.holds(3));
        let lowest = &picker.lists()[1].1;
        assert_eq!(lowest.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 0]);
    }
}
