//! Segmentation metrics the way Cityscapes reports them: ONE confusion matrix accumulated over
//! the whole evaluation set (pixels labelled 255 ignored); IoU_k = TP / (TP + FP + FN); classes
//! absent from both labels and predictions are skipped in the mean (nan-mean).

use serde::Serialize;

/// Label value meaning "ignore this pixel".
pub const IGNORE: u8 = 255;

/// A K x K confusion matrix: rows are labels, columns predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfusionMatrix {
    pub classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix { classes, counts: vec![0; classes * classes] }
    }

    /// Adds one image. Labels of 255 are ignored; other labels or predictions outside the
    /// class set are an error naming the value.
    pub fn add(&mut self, label: &[u8], pred: &[u8]) -> Result<(), String> {
        if label.len() != pred.len() {
            return Err(format!("label has {} pixels but the prediction has {}", label.len(), pred.len()));
        }
        let k = self.classes;
        for (&l, &p) in label.iter().zip(pred) {
            if l == IGNORE {
                continue;
            }
            if l as usize >= k || p as usize >= k {
                return Err(format!("class value {} outside 0..{k} (label {l}, prediction {p})", l.max(p)));
            }
            self.counts[l as usize * k + p as usize] += 1;
        }
        Ok(())
    }

    /// Adds another matrix (e.g. from another thread).
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        assert_eq!(self.classes, other.classes, "merging matrices of different class counts");
        self.counts.iter_mut().zip(&other.counts).for_each(|(a, b)| *a += b);
    }

    /// Pixels with label `l` predicted as `p`.
    pub fn get(&self, l: usize, p: usize) -> u64 {
        self.counts[l * self.classes + p]
    }

    /// IoU per class; None where the class is absent from both labels and predictions.
    pub fn iou(&self) -> Vec<Option<f64>> {
        let k = self.classes;
        (0..k)
            .map(|c| {
                let tp = self.get(c, c);
                let fn_: u64 = (0..k).map(|p| self.get(c, p)).sum::<u64>() - tp;
                let fp: u64 = (0..k).map(|l| self.get(l, c)).sum::<u64>() - tp;
                let denom = tp + fp + fn_;
                (denom > 0).then(|| tp as f64 / denom as f64)
            })
            .collect()
    }

    /// Mean IoU over the classes present (nan-mean); NaN when nothing was counted.
    pub fn miou(&self) -> f64 {
        let v: Vec<f64> = self.iou().into_iter().flatten().collect();
        if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
    }

    /// Fraction of counted pixels predicted correctly.
    pub fn pixel_accuracy(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        let correct: u64 = (0..self.classes).map(|c| self.get(c, c)).sum();
        correct as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_by_hand() {
        let mut m = ConfusionMatrix::new(3);
        // the ignored pixel is predicted as class 2, which therefore counts nowhere
        m.add(&[0, 0, 1, 1, 255], &[0, 1, 1, 1, 2]).unwrap();
        // class 0: tp 1, fn 1, fp 0 -> 0.5; class 1: tp 2, fp 1, fn 0 -> 2/3; class 2 absent
        let iou = m.iou();
        assert!((iou[0].unwrap() - 0.5).abs() < 1e-12);
        assert!((iou[1].unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(iou[2], None);
        assert!((m.miou() - (0.5 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((m.pixel_accuracy() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn one_matrix_over_the_set_not_a_mean_of_images() {
        let mut m = ConfusionMatrix::new(2);
        m.add(&[0, 0, 0, 0], &[0, 0, 0, 0]).unwrap();
        m.add(&[1], &[0]).unwrap();
        // class 0: tp 4, fp 1 -> 0.8; class 1: tp 0, fn 1 -> 0
        assert!((m.miou() - 0.4).abs() < 1e-12);
        assert!(m.add(&[7], &[0]).unwrap_err().contains("7"));
        assert!(m.add(&[0, 1], &[0]).is_err());
    }
}
