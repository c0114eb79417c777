//! Exit rates per difficulty bin: a generated set records each scene's difficulty in its
//! manifest, and a dynamic network should answer easy scenes earlier than hard ones.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::collect::ImageRecord;
use super::sweep::chosen_exit;
use crate::engine::Policy;

/// Difficulty (0 easy .. 1 hard) of each image named in `root/manifest.jsonl` (generated sets)
/// or `root/samples.json` (the sample gallery), keyed by `root` joined with the image's path,
/// which is how the dataset loaders name samples. Empty when neither file is there (real
/// datasets); a manifest line that is not JSON is an error naming the file and line.
pub fn load(root: &Path) -> anyhow::Result<HashMap<PathBuf, f32>> {
    let mut out = HashMap::new();
    let mut take = |v: &serde_json::Value| {
        let d = v["difficulty"].as_f64().or_else(|| v["info"]["difficulty"].as_f64());
        if let (Some(image), Some(d)) = (v["image"].as_str(), d) {
            out.insert(root.join(image), d as f32);
        }
    };
    let path = root.join("manifest.jsonl");
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("{}: line {}: not JSON: {e}", path.display(), i + 1))?;
            take(&v);
        }
    }
    if let Ok(text) = std::fs::read_to_string(root.join("samples.json"))
        && let Ok(serde_json::Value::Array(items)) = serde_json::from_str(&text)
    {
        items.iter().for_each(&mut take);
    }
    Ok(out)
}

/// Sets each record's difficulty from `table` (see [`load`]).
pub fn attach(recs: &mut [ImageRecord], table: &HashMap<PathBuf, f32>) {
    for r in recs {
        r.difficulty = table.get(Path::new(&r.image)).copied();
    }
}

/// Bins of the exit-rate tables (`add eval`'s and the report's): easy, medium, hard.
pub const BINS: usize = 3;

/// One difficulty bin: its range, how many images fell in it, and the share answered at each exit.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Bin {
    pub from: f32,
    pub to: f32,
    pub images: usize,
    pub exit_rate: Vec<f64>,
}

/// Exit rates of `policy` over `bins` equal difficulty bins; empty when no record has one.
pub fn exit_rates(policy: &Policy, recs: &[ImageRecord], bins: usize) -> Vec<Bin> {
    let Some(first) = recs.first() else { return Vec::new() };
    let mut rates = Rates::new(bins, first.exits.len());
    for r in recs {
        rates.add(r.difficulty, chosen_exit(policy, r));
    }
    rates.bins()
}

/// Exit rates counted image by image (the report's single pass holds no records): per equal
/// difficulty bin over 0..1, how many images answered at each exit.
pub struct Rates {
    counts: Vec<Vec<usize>>,
}

impl Rates {
    pub fn new(bins: usize, exits: usize) -> Rates {
        Rates { counts: vec![vec![0; exits]; bins.max(1)] }
    }

    /// Counts an image of `difficulty` (None or outside 0..1: not counted) answered at `exit`.
    pub fn add(&mut self, difficulty: Option<f32>, exit: usize) {
        let Some(d) = difficulty.filter(|d| (0.0..=1.0).contains(d)) else { return };
        let n = self.counts.len();
        let bin = ((d * n as f32) as usize).min(n - 1);
        if let Some(c) = self.counts[bin].get_mut(exit) {
            *c += 1;
        }
    }

    /// The bins; empty when no image had a difficulty.
    pub fn bins(&self) -> Vec<Bin> {
        if self.counts.iter().flatten().all(|&c| c == 0) {
            return Vec::new();
        }
        let n = self.counts.len();
        let bin = |(b, c): (usize, &Vec<usize>)| {
            let images: usize = c.iter().sum();
            let exit_rate = c.iter().map(|&x| if images > 0 { x as f64 / images as f64 } else { 0.0 }).collect();
            Bin { from: b as f32 / n as f32, to: (b + 1) as f32 / n as f32, images, exit_rate }
        };
        self.counts.iter().enumerate().map(bin).collect()
    }
}

/// A markdown table of `bins` under a heading naming the policy.
pub fn markdown(policy: &str, bins: &[Bin]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nExit rates of `{policy}` by scene difficulty:\n\n| difficulty | images | exit rates |\n|---|---|---|"
    );
    for b in bins {
        let rates = b.exit_rate.iter().map(|x| format!("{:.0}%", 100.0 * x)).collect::<Vec<_>>().join(" / ");
        let _ = writeln!(s, "| {:.2}-{:.2} | {} | {rates} |", b.from, b.to, b.images);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ExitStats;
    use crate::eval::collect::ExitRecord;
    use crate::eval::metrics::ConfusionMatrix;

    fn rec(image: &str, entropy: f32) -> ImageRecord {
        let exit = |e: f32| ExitRecord {
            stats: ExitStats { edm_score: None, edm_map_score: None, mean_entropy: Some(e), confident_fraction: None },
            edm_ms: 0.0,
            edm_map_ms: 0.0,
            head_ms: 0.0,
            baseline_agreement: None,
            confusion: ConfusionMatrix::new(2),
        };
        ImageRecord {
            image: image.into(),
            cell_ms: vec![],
            exits: vec![exit(entropy), exit(0.0)],
            baseline_ms: None,
            baseline_confusion: None,
            difficulty: None,
        }
    }

    #[test]
    fn bins_count_the_exit_each_image_takes() {
        let dir = tempfile::tempdir().unwrap();
        let lines = [r#"{"image":"a/x.png","difficulty":0.1}"#, r#"{"image":"a/y.png","difficulty":0.9}"#];
        std::fs::write(dir.path().join("manifest.jsonl"), lines.join("\n")).unwrap();
        let table = load(dir.path()).unwrap();
        let root = dir.path().display().to_string();
        let mut recs = vec![rec(&format!("{root}/a/x.png"), 0.1), rec(&format!("{root}/a/y.png"), 0.9)];
        attach(&mut recs, &table);
        assert_eq!(recs[0].difficulty, Some(0.1));
        let bins = exit_rates(&Policy::Entropy { threshold: 0.5 }, &recs, 2);
        // the easy image is confident at exit 0, the hard one goes on to the last exit
        assert_eq!((bins[0].images, bins[0].exit_rate.clone()), (1, vec![1.0, 0.0]));
        assert_eq!((bins[1].images, bins[1].exit_rate.clone()), (1, vec![0.0, 1.0]));
        assert!(markdown("entropy:0.5", &bins).contains("| 0.50-1.00 | 1 | 0% / 100% |"));
    }

    #[test]
    fn rates_keep_one_in_the_last_bin_and_skip_the_unknown() {
        let mut r = Rates::new(4, 2);
        assert!(r.bins().is_empty(), "nothing counted: no table");
        for (d, e) in [(Some(1.0), 1), (Some(0.0), 0), (None, 0), (Some(1.5), 0), (Some(0.8), 0)] {
            r.add(d, e);
        }
        let bins = r.bins();
        assert_eq!(bins.iter().map(|b| b.images).collect::<Vec<_>>(), [1, 0, 0, 2]);
        assert_eq!(bins[3].exit_rate, [0.5, 0.5]);
        assert_eq!(bins[1].exit_rate, [0.0, 0.0], "an empty bin");
    }
}
