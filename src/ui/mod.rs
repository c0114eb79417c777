//! The desktop app (eframe). Placeholder until the inspector lands.

/// Options of the app window.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AppArgs {}

/// Opens the app window.
pub fn run_app(_args: AppArgs) -> anyhow::Result<()> {
    anyhow::bail!("the app is not built yet")
}
