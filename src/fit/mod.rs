//! The training-loop core that `add train` (`train::trainer`) and `add search`
//! (`search::searcher`) share, so both resume, pause and report the same way. It knows
//! neither: each implements [`Steps`] and keeps its own files through [`checkpoint`].
//!
//! - [`drive`]: the loop itself: steps from where the checkpoint left off, the progress bar, and
//!   the pause before a step on `--until` or Ctrl-C, checkpoint saved first; a run says what a
//!   step, the end of a step and a save are by implementing [`Steps`].
//! - [`checkpoint`]: the run folder, the state kept beside the weights, SGD's momentum in the
//!   checkpoint, and reading it all back for an exact resume.
//! - [`vars`]: a network's variables as the optimisers see them (trainable ones by name).
//! - [`batches`]: batches that depend only on (seed, step); [`loss`]: cross-entropy ignoring 255,
//!   averaged over exits; [`optim`]: SGD + poly lr; [`interrupt`]: the process's Ctrl-C flag.

pub mod batches;
pub mod checkpoint;
pub mod interrupt;
pub mod loss;
pub mod optim;
pub mod vars;

use indicatif::ProgressBar;

/// One run's steps, as [`drive`] calls them.
pub trait Steps {
    /// Runs step `step` (counted from 0 over the whole run) and sets `bar`'s message.
    fn step(&mut self, step: usize, bar: &ProgressBar) -> anyhow::Result<()>;
    /// After the bar counted a step, with `done` steps done: periodic checkpoints, epoch ends.
    fn stepped(&mut self, done: usize, bar: &ProgressBar) -> anyhow::Result<()>;
    /// Saves a checkpoint from which `--resume` continues at step `step`.
    fn save(&mut self, step: usize) -> anyhow::Result<()>;
}

/// How [`drive`] ended.
pub enum Ended {
    /// Every step done; the bar, for the run's last word.
    Finished(ProgressBar),
    /// Stopped before this step by `until` or Ctrl-C, checkpoint saved.
    Paused(usize),
}

/// Runs steps `start..total` of `run`, stopping before a step (checkpoint saved) when Ctrl-C
/// was pressed or the step is `until`, so long runs can span sessions.
pub fn drive(run: &mut impl Steps, start: usize, total: usize, until: Option<usize>) -> anyhow::Result<Ended> {
    interrupt::install();
    let bar = ProgressBar::new(total as u64).with_position(start as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} step {pos}/{len} {msg} [{elapsed} < {eta}]")
            .expect("valid template"),
    );
    for step in start..total {
        let interrupted = interrupt::requested();
        if interrupted || until == Some(step) {
            run.save(step)?;
            let why = if interrupted { "interrupted" } else { "paused" };
            bar.abandon_with_message(format!("{why}: checkpoint at step {step} saved; --resume continues"));
            return Ok(Ended::Paused(step));
        }
        run.step(step, &bar)?;
        bar.inc(1);
        run.stepped(step + 1, &bar)?;
    }
    Ok(Ended::Finished(bar))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what the loop asked for.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Steps for Log {
        fn step(&mut self, step: usize, _: &ProgressBar) -> anyhow::Result<()> {
            self.0.push(format!("step {step}"));
            Ok(())
        }
        fn stepped(&mut self, done: usize, _: &ProgressBar) -> anyhow::Result<()> {
            self.0.push(format!("done {done}"));
            Ok(())
        }
        fn save(&mut self, step: usize) -> anyhow::Result<()> {
            self.0.push(format!("save {step}"));
            Ok(())
        }
    }

    #[test]
    fn the_loop_runs_from_start_and_pauses_before_until_with_a_save() {
        let mut log = Log::default();
        assert!(matches!(drive(&mut log, 1, 3, None).unwrap(), Ended::Finished(_)));
        assert_eq!(log.0, ["step 1", "done 2", "step 2", "done 3"]);
        let mut log = Log::default();
        assert!(matches!(drive(&mut log, 0, 5, Some(1)).unwrap(), Ended::Paused(1)));
        assert_eq!(log.0, ["step 0", "done 1", "save 1"]);
        let mut log = Log::default();
        assert!(matches!(drive(&mut log, 2, 5, Some(2)).unwrap(), Ended::Paused(2)), "a pause at the start saves");
        assert_eq!(log.0, ["save 2"]);
    }
}
