//! Parameters and Multi-Adds of every cell for one input size, computed from the architecture
//! card alone (the network is built on fresh variables, never run). Building takes a moment, so
//! the app computes it on a helper thread and the network view and dataset browser read it.

use crate::network::{ArchCard, CostTable, ParamTable};
use std::sync::Arc;

/// What the cell properties panel and the dataset table need to know about the model's cost.
#[derive(Debug, Clone)]
pub struct NetSummary {
    /// Name of the card it was computed for (a new model makes it stale).
    pub card_name: String,
    /// Parameters of each cell.
    pub cell_params: Vec<usize>,
    /// Multi-Adds per cell and per exit at `table.input` (height, width).
    pub table: Arc<CostTable>,
}

impl NetSummary {
    /// Whether this summary describes `card` at `input` (height, width).
    pub fn matches(&self, card: &ArchCard, input: (usize, usize)) -> bool {
        self.card_name == card.name && self.table.input == input
    }
}

/// Counts parameters per cell and Multi-Adds at `h x w`.
pub fn summarize(card: &ArchCard, h: usize, w: usize) -> anyhow::Result<NetSummary> {
    let params = ParamTable::of(card)?;
    Ok(NetSummary {
        card_name: card.name.clone(),
        cell_params: (0..card.path.len()).map(|i| params.cell(i)).collect(),
        table: Arc::new(CostTable::for_card(card, h, w)?),
    })
}
