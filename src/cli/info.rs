//! `add info`: what a model is: its card, parameters and Multi-Adds per cell and per exit.

use crate::data::size::parse_size;
use crate::engine::device;
use crate::network::{AddNet, ArchCard, BuildMode, CostTable, ParamTable};

use super::model_arg::ModelArgs;

/// Options of `add info`.
#[derive(Debug, Clone, clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input size HxW for the Multi-Add counts.
    #[arg(long, default_value = "1025x2049")]
    pub size: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `add info`.
pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let card = args.model.card()?;
    let (h, w) = parse_size("--size", &args.size)?;
    let (h, w) = (h as usize, w as usize);
    let params = ParamTable::of(&card)?;
    // Multi-Adds need only the shapes: build on fresh variables.
    let vm = candle_nn::VarMap::new();
    let net = AddNet::load(
        &card,
        candle_nn::VarBuilder::from_varmap(&vm, candle_core::DType::F32, &candle_core::Device::Cpu),
        BuildMode::Folded,
    )?;
    let cost = CostTable::of(&net, h, w);
    // The device `--device` picks for infer/bench/the app (info itself only counts shapes).
    let device = match device::select(Some(&args.model.device)) {
        Ok(d) => device::name(&d),
        Err(e) => format!("none ({e})"),
    };
    if args.json {
        let v = serde_json::json!({ "card": card, "params": { "network": params.network(), "tensors": params.tensors }, "cost": cost, "device": device });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(&card, &params, &cost));
        println!("device: {device}");
    }
    Ok(())
}

fn g(madds: u64) -> String {
    format!("{:.2} G", madds as f64 / 1e9)
}

fn m(params: usize) -> String {
    format!("{:.3} M", params as f64 / 1e6)
}

/// The text report.
pub fn render(card: &ArchCard, p: &ParamTable, c: &CostTable) -> String {
    let mut s = String::new();
    s += &format!("{}  kind {:?}, F={}, B={}, {} classes\n", card.name, card.kind, card.f, card.b, card.classes.len());
    s += &format!(
        "path {:?}, exits at cells {:?}, low-level cell {}, EDM {:?}\n",
        card.path,
        card.exit_cells(),
        card.low_level_cell,
        card.edm.kind
    );
    s += &format!(
        "parameters: network {} (shared head {}), decision makers {}\n",
        m(p.network()),
        m(p.shared_head()),
        m(p.tensors.values().sum::<usize>() - p.network())
    );
    s += &format!("\nMulti-Adds at {}x{}: stem {}\n", c.input.0, c.input.1, g(c.stem_madds));
    s += "cell level  out size     Multi-Adds   params\n";
    for cell in &c.cells {
        let low =
            if cell.low_level_madds > 0 { format!(" (+{} low-level)", g(cell.low_level_madds)) } else { String::new() };
        s += &format!(
            "{:>4} {:>5}  {:>4}x{:<6} {:>10}  {:>9}{low}\n",
            cell.cell,
            cell.level,
            cell.out_size.0,
            cell.out_size.1,
            g(cell.madds),
            m(p.cell(cell.cell))
        );
    }
    s += "\nexit cell   head        EDM        path (answer here)\n";
    for e in &c.exits {
        s += &format!(
            "{:>4} {:>4}  {:>10} {:>10}  {:>10}\n",
            e.exit,
            e.cell,
            g(e.head_madds),
            g(e.edm_madds + e.edm_map_madds),
            g(e.path_madds)
        );
    }
    s += &format!("full path: {}\n", g(c.full_path()));
    s
}
