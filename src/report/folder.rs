//! Where a report is written while it is made: a temp folder beside the output folder, moved
//! into place only when complete. A cancelled or failed report leaves nothing behind, and a
//! previous report in the folder stays whole until the new one is ready; a killed process's
//! temp folder is removed by the next writer there ([`crate::fsutil::remove_stale_temps`]).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The two things a report consists of; `--force` replaces these and nothing else.
const PARTS: [&str; 2] = ["images", "index.html"];

/// A report being written: `dir()` is the temp folder, [`Staged::commit`] moves it to `out`;
/// dropped uncommitted, it is removed.
pub struct Staged {
    tmp: crate::fsutil::Temp,
    out: PathBuf,
    force: bool,
}

/// Whether `out` holds anything (a missing folder holds nothing).
fn used(out: &Path) -> bool {
    std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(out.exists())
}

fn refuse(out: &Path) -> anyhow::Error {
    anyhow::anyhow!("{}: not empty; pass --force to replace its index.html and images/", out.display())
}

impl Staged {
    /// Checks that `out` is new or empty (unless `force`) and creates the temp folder beside it.
    pub fn new(out: &Path, force: bool) -> anyhow::Result<Staged> {
        if used(out) && !force {
            return Err(refuse(out));
        }
        anyhow::ensure!(!out.exists() || out.is_dir(), "{}: not a folder", out.display());
        let tmp = crate::fsutil::temp_path(out).with_context(|| format!("{}: cannot create", out.display()))?;
        let staged = Staged { tmp: crate::fsutil::Temp::new(tmp), out: out.to_path_buf(), force };
        let dir = staged.dir();
        std::fs::create_dir_all(dir.join("images")).with_context(|| format!("{}: cannot create", dir.display()))?;
        Ok(staged)
    }

    /// The temp folder the report is written into.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// Moves the finished report to `out`: the whole folder when `out` is new or empty, else
    /// (`force`) its images/ and then its index.html, each replaced by a rename.
    pub fn commit(self) -> anyhow::Result<()> {
        let out = self.out.clone();
        let context = || format!("{}: cannot move the report into place", out.display());
        if !used(&out) {
            if out.exists() {
                std::fs::remove_dir(&out).with_context(context)?;
            }
            std::fs::rename(self.dir(), &out).with_context(context)?;
            self.tmp.keep();
            return Ok(());
        }
        if !self.force {
            return Err(refuse(&out));
        }
        for part in PARTS {
            let (old, new) = (out.join(part), self.dir().join(part));
            if part == "images" && old.exists() {
                // the old images go into the temp folder, removed with it
                std::fs::rename(&old, self.dir().join(".old-images")).with_context(context)?;
            }
            std::fs::rename(&new, &old).with_context(context)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(out: &Path, force: bool, page: &str) -> anyhow::Result<Staged> {
        let s = Staged::new(out, force)?;
        std::fs::write(s.dir().join("index.html"), page).unwrap();
        std::fs::write(s.dir().join("images/a.png"), page).unwrap();
        Ok(s)
    }

    /// Names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_folder_appears_whole_and_a_dropped_one_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("report");
        drop(stage(&out, false, "one").unwrap());
        assert!(names(tmp.path()).is_empty(), "{:?}", names(tmp.path()));
        stage(&out, false, "one").unwrap().commit().unwrap();
        assert_eq!(names(tmp.path()), ["report"]);
        assert_eq!(names(&out), ["images", "index.html"]);
        // an empty folder is taken as new
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        stage(&empty, false, "two").unwrap().commit().unwrap();
        assert_eq!(std::fs::read_to_string(empty.join("index.html")).unwrap(), "two");
    }

    #[test]
    fn force_replaces_the_report_and_keeps_the_users_files() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("report");
        stage(&out, false, "old").unwrap().commit().unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let err = stage(&out, false, "new").err().unwrap().to_string();
        assert!(err.contains("not empty; pass --force"), "{err}");
        // cancelled: the old report is untouched
        drop(stage(&out, true, "new").unwrap());
        assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), "old");
        stage(&out, true, "new").unwrap().commit().unwrap();
        assert_eq!(names(&out), ["images", "index.html", "notes.txt"]);
        assert_eq!(std::fs::read_to_string(out.join("images/a.png")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
        assert_eq!(names(tmp.path()), ["report"]);
    }
}
