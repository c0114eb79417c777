//! Checking a card before anything is built from it: every field, with an error that names the
//! field and says what was expected (a card is user input, possibly hostile).

use super::*;

impl ArchCard {
    /// Checks every field; the error names the field and says what was expected.
    pub fn validate(&self) -> Result<(), CardError> {
        if self.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if self.f == 0 || self.f % 2 == 1 || self.f > MAX_F {
            return Err(invalid("F", format!("must be an even number in 2..={MAX_F}, got {}", self.f)));
        }
        if self.b == 0 || self.b > 8 {
            return Err(invalid("B", format!("must be 1..=8, got {}", self.b)));
        }
        if self.classes.len() < 2 || self.classes.len() > 255 {
            return Err(invalid("classes", format!("needs 2..=255 classes, got {}", self.classes.len())));
        }
        if self.path.len() != NUM_CELLS {
            return Err(invalid("path", format!("needs {NUM_CELLS} levels, got {}", self.path.len())));
        }
        for (i, &level) in self.path.iter().enumerate() {
            if level >= NUM_LEVELS {
                return Err(invalid(format!("path[{i}]"), format!("level must be 0..=3, got {level}")));
            }
            let prev = if i == 0 { 0 } else { self.path[i - 1] };
            if level.abs_diff(prev) > 1 {
                let from = if i == 0 { "the stem (level 0)".to_string() } else { format!("cell {}", i - 1) };
                return Err(invalid(
                    format!("path[{i}]"),
                    format!("jumps from level {prev} ({from}) to {level}; a path moves at most one level per cell"),
                ));
            }
        }
        let last = NUM_CELLS - 1;
        for (k, &e) in self.exits.iter().enumerate() {
            if e >= last {
                return Err(invalid(
                    format!("exits[{k}]"),
                    format!("cell {e} is not an early exit: early exits must be before the last cell ({last})"),
                ));
            }
            if k > 0 && e <= self.exits[k - 1] {
                return Err(invalid(format!("exits[{k}]"), "exits must be strictly ascending"));
            }
            if e < self.low_level_cell {
                return Err(invalid(
                    format!("exits[{k}]"),
                    format!("exit at cell {e} comes before the low-level cell {}", self.low_level_cell),
                ));
            }
            let below = self.head_level() as i32 - self.path[e] as i32;
            if below > 2 {
                return Err(invalid(
                    format!("exits[{k}]"),
                    format!(
                        "exit cell {e} is at level {} but the head is at level {}: an adapter bridges at most two levels",
                        self.path[e],
                        self.head_level()
                    ),
                ));
            }
        }
        if self.low_level_cell > last {
            return Err(invalid("low_level_cell", format!("must be 0..={last}")));
        }
        if self.kind == ModelKind::Add && self.low_level_cell > 2 {
            // the reference's dense network only tracks the plain outputs of cells 0..=2
            return Err(invalid(
                "low_level_cell",
                "a dense (add) network takes its low-level feature from cells 0..=2",
            ));
        }
        if self.head_level() == 0 {
            return Err(invalid(
                "path[11]",
                "the last cell must be at level 1, 2 or 3 (the ASPP rates are defined there)",
            ));
        }
        self.validate_genotype()?;
        if self.edm.kind != EdmKind::None && self.exits.is_empty() {
            return Err(invalid("edm.kind", "a decision maker needs at least one early exit"));
        }
        if [self.stem.width, self.stem.out].iter().any(|&w| w == 0 || w > MAX_WIDTH) {
            let got = (self.stem.width, self.stem.out);
            return Err(invalid("stem", format!("widths must be in 1..={MAX_WIDTH}, got {got:?}")));
        }
        let widths = [self.head.width, self.head.low_level_width];
        if widths.iter().any(|&w| w == 0 || w > MAX_WIDTH) {
            return Err(invalid("head", format!("widths must be in 1..={MAX_WIDTH}, got {widths:?}")));
        }
        let edm = &self.edm;
        let widths = [edm.channels, edm.map_channels].into_iter().chain(edm.hidden.iter().copied());
        if edm.hidden.len() > 8 || widths.into_iter().any(|w| w == 0 || w > MAX_WIDTH) {
            return Err(invalid("edm", format!("at most 8 hidden layers, every width in 1..={MAX_WIDTH}")));
        }
        if self.normalization.std.iter().any(|s| *s <= 0.0 || !s.is_finite()) {
            return Err(invalid("normalization.std", "must be positive and finite"));
        }
        if self.normalization.mean.iter().any(|m| !m.is_finite()) {
            return Err(invalid("normalization.mean", "must be finite"));
        }
        Ok(())
    }

    fn validate_genotype(&self) -> Result<(), CardError> {
        if self.genotype.len() != 2 * self.b {
            return Err(invalid(
                "genotype",
                format!("needs two rows per block ({} rows for B={}), got {}", 2 * self.b, self.b, self.genotype.len()),
            ));
        }
        for block in 0..self.b {
            let lo = branch_offset(block);
            let hi = lo + block + 2;
            let rows = &self.genotype[2 * block..2 * block + 2];
            for (r, row) in rows.iter().enumerate() {
                let idx = 2 * block + r;
                if row[0] < lo || row[0] >= hi {
                    return Err(invalid(
                        format!("genotype[{idx}]"),
                        format!("branch {} does not exist in block {block}: its branches are {lo}..{}", row[0], hi - 1),
                    ));
                }
                if row[1] >= OP_NAMES.len() {
                    return Err(invalid(
                        format!("genotype[{idx}]"),
                        format!("op {} does not exist: ops are 0..=7 ({})", row[1], OP_NAMES.join(", ")),
                    ));
                }
            }
            if rows[0][0] == rows[1][0] {
                return Err(invalid(
                    format!("genotype[{}]", 2 * block + 1),
                    format!("block {block} uses branch {} twice; each block combines two different inputs", rows[0][0]),
                ));
            }
        }
        Ok(())
    }
}
