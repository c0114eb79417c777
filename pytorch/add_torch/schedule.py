"""Learning-rate schedules.

`poly` is the reference's: base * (1 - step / steps) ** 0.9, so the total must be known up front.

`wsd` (warm-up, stable, decay) is the campaign's: a linear warm-up over `warmup` steps, then the
base rate for as long as the campaign runs, so a run can be extended by any number of steps
without changing what came before; when a model is to be shipped a decay is branched off at the
step reached (`decay_from`), falling to zero over `decay_steps` steps by the same 0.9 power the
poly schedule uses. The stable run goes on untouched; the branch is a run of its own.

A schedule is a small dict, recorded in the checkpoint and in the model file's provenance, so a
run continues exactly from either."""

POLY_POWER = 0.9


def poly(base, step, total):
    return base * max(0.0, 1.0 - step / max(1, total)) ** POLY_POWER


def make(kind, base, steps, warmup=0):
    if kind == "poly":
        return {"kind": "poly", "base": base, "steps": steps}
    if kind == "wsd":
        return {"kind": "wsd", "base": base, "warmup": warmup, "decay_from": None, "decay_steps": 0}
    raise SystemExit(f"--schedule {kind}: expected poly or wsd")


def branch_decay(schedule, step, decay_steps):
    """The schedule of a decay branched off a `wsd` run at `step`."""
    if schedule["kind"] != "wsd":
        raise SystemExit(f"a decay can only be branched off a wsd schedule, this run's is {schedule['kind']}")
    if schedule["decay_from"] is not None:
        raise SystemExit(f"this run already decays from step {schedule['decay_from']}; branch off its stable run")
    if decay_steps < 1:
        raise SystemExit(f"--decay-steps {decay_steps}: must be at least 1")
    return dict(schedule, decay_from=step, decay_steps=decay_steps)


def lr_at(schedule, step):
    """The learning rate of `step` (counted from 0)."""
    base = schedule["base"]
    if schedule["kind"] == "poly":
        return poly(base, step, schedule["steps"])
    warmup = schedule.get("warmup", 0)
    lr = base * min(1.0, (step + 1) / warmup) if warmup > 0 else base
    start = schedule.get("decay_from")
    if start is not None and step >= start:
        lr = min(lr, poly(base, step - start, schedule["decay_steps"]))
    return lr


def end_step(schedule, steps):
    """The step a run with this schedule finishes at: a poly run's total, a decay branch's end,
    a stable wsd run never (it stops where it is told to)."""
    if schedule["kind"] == "poly":
        return schedule["steps"]
    if schedule.get("decay_from") is not None:
        return schedule["decay_from"] + schedule["decay_steps"]
    return None
