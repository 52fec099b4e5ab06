//! `kestrel config`: show the effective configuration after the file and environment overrides.

use std::process::ExitCode;

use clap::Subcommand;
use kestrel_config::Config;

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the effective configuration as TOML.
    Show,
    /// Load the configuration and report whether it is valid (exit code 0) or not (2).
    Check,
}

pub fn run(cmd: ConfigCmd, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCmd::Show => print!("{}", config.to_toml()),
        // Reaching this point means loading succeeded: errors exit before dispatch.
        ConfigCmd::Check => println!("configuration is valid"),
    }
    Ok(ExitCode::SUCCESS)
}
