//! Writing files so that nothing a user made is ever lost or half-written: write a temp file
//! in the same folder, flush it to disk, then rename it over the final name. A writer killed
//! mid-write (SIGKILL, power loss) leaves its temp file behind; the next process that writes
//! into that folder removes it (once per folder and process, and only when its writer is gone).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically (temp file + fsync + rename), creating the folder.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic_write_with(path, true, |f| f.write_all(bytes))
}

/// Like [`atomic_write`], with the content produced by `fill` writing into the temp file.
/// `durable` = false skips the fsync (for bulk data that can be regenerated).
pub fn atomic_write_with(
    path: &Path,
    durable: bool,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A fresh temp file name beside `path` (`.NAME.tmp-PID-N`), for writers that stream into a file
/// and rename it when complete; creates the folder and clears dead writers' temps from it.
pub fn temp_path(path: &Path) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::other(format!("{}: not a file path", path.display())))?;
    std::fs::create_dir_all(dir)?;
    sweep_once(dir);
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(".{}.tmp-{}-{unique}", name.to_string_lossy(), std::process::id())))
}

/// A temp file or folder named by [`temp_path`] that is removed when dropped, unless it was
/// [`Temp::keep`]t: a writer that fails or is cancelled midway (an export, a report) leaves
/// nothing behind. The writer renames [`Temp::path`] into place, then keeps it.
pub struct Temp(Option<PathBuf>);

impl Temp {
    /// Guards `path`, which the caller creates (a file, or a folder to fill).
    pub fn new(path: PathBuf) -> Temp {
        Temp(Some(path))
    }

    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("a kept temp is no longer guarded")
    }

    /// Stops guarding: the path was renamed into place (or is the caller's now).
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// Removes the temp files that [`atomic_write`] left in `dir` when its process was killed
/// mid-write (`.NAME.tmp-PID-N` whose PID no longer runs), and folders staged under such a name
/// (a report), so a resumed run does not pile them up. Returns how many it removed. A temp file of a live process is never touched.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_writer(&name) else { continue };
        // a folder staged whole (a report) goes the same way as a file
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let remove = |p: &Path| if is_dir { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
        if !process_alive(pid) && remove(&entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes stale temp files from `dir` the first time this process writes there: one listing
/// per folder, however many files go into it.
fn sweep_once(dir: &Path) {
    static SWEPT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let first = SWEPT.lock().map(|mut s| s.insert(dir.to_path_buf())).unwrap_or(false);
    if first {
        remove_stale_temps(dir);
    }
}

/// Creates a run's output folder and clears what a killed earlier run left half-written in it
/// (saying so on stderr): what training and search call before writing checkpoints.
pub fn prepare_run_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: cannot create: {e}", dir.display())))?;
    let stale = remove_stale_temps(dir);
    if stale > 0 {
        eprintln!("{}: removed {stale} temp file(s) that a killed run left half-written", dir.display());
    }
    Ok(())
}

/// The writer's PID of a temp file name made by [`atomic_write_with`], if it is one.
fn temp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, unique) = tail.split_once('-')?;
    unique.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` runs. Without /proc (not Linux) every process is taken as alive, so
/// nothing is removed that might still be written.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_is_removed_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = temp_path(&dir.path().join("talk.gif")).unwrap();
        std::fs::write(&file, b"half").unwrap();
        let folder = temp_path(&dir.path().join("slides")).unwrap();
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::write(folder.join("sub/0001.png"), b"x").unwrap();
        drop(Temp::new(file.clone()));
        drop(Temp::new(folder.clone()));
        assert!(!file.exists() && !folder.exists(), "dropped temps are removed, folders with their content");

        let kept = temp_path(&dir.path().join("report")).unwrap();
        std::fs::create_dir(&kept).unwrap();
        let t = Temp::new(kept.clone());
        assert_eq!(t.path(), kept);
        t.keep();
        assert!(kept.is_dir(), "a kept temp stays");
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temps_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // a PID above Linux's pid_max (2^22) never runs
        let dead = dir.path().join(".checkpoint.safetensors.tmp-4194305-0");
        let live = dir.path().join(format!(".model.safetensors.tmp-{}-3", std::process::id()));
        let other = dir.path().join("notes.tmp-1-2");
        for p in [&dead, &live, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let staged = dir.path().join(".report.tmp-4194305-1");
        std::fs::create_dir_all(staged.join("images")).unwrap();
        std::fs::write(staged.join("images/a.png"), b"x").unwrap();
        assert_eq!(remove_stale_temps(dir.path()), 2);
        assert!(!dead.exists() && !staged.exists() && live.exists() && other.exists());
        assert_eq!(temp_writer(".a.b.tmp-12-7"), Some(12));
        assert_eq!(temp_writer(".a.tmp-x-7"), None);
    }

    #[test]
    fn the_first_write_into_a_folder_removes_dead_writers_temps() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".eval.json.tmp-4194305-9");
        std::fs::write(&dead, b"half").unwrap();
        atomic_write(&dir.path().join("eval.md"), b"x").unwrap();
        assert!(!dead.exists(), "the killed writer's temp file is still there");
    }

    #[test]
    fn failed_fill_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        atomic_write(&p, b"old").unwrap();
        let r = atomic_write_with(&p, true, |_| Err(std::io::Error::other("disk full")));
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
