//! `add`: with no subcommand opens the app; subcommands do the same work headless.

use clap::Parser;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = add_studio::cli::Cli::parse();
    add_studio::cli::run(cli)
}
