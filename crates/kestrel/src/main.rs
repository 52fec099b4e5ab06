//! `kestrel`: the one binary. It parses the command line, loads the configuration, sets up
//! logging and hands over to the library crate that owns each subcommand's work.
//!
//! Nothing here implements a capability: a subcommand module converts arguments into library
//! calls and library results into output.

mod cmd;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kestrel_config::{Config, LogFormat};

/// Runtime-powered security for Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "kestrel", version, about, propagate_version = true)]
struct Cli {
    /// Configuration file (TOML). Every key can be overridden by a KESTREL_SECTION__KEY variable.
    #[arg(long, global = true, env = "KESTREL_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Log format on standard error; overrides `[log] format`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    /// Log filter such as `debug` or `kestrel_sensor=trace`; overrides `[log] level`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show or check the effective configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCmd),
    /// Inventory an image, registry image, directory or running container as an SBOM.
    Sbom(cmd::sbom::SbomArgs),
    /// Import, update and inspect the offline advisory database.
    #[command(subcommand)]
    Db(cmd::db::DbCmd),
    /// Compare versions with an ecosystem's own ordering rules.
    #[command(subcommand)]
    Version(cmd::version::VersionCmd),
    /// Scan a target for security problems (`scan k8s`: Kubernetes posture).
    #[command(subcommand)]
    Scan(ScanCmd),
    /// Attack paths from the Internet (or any pod) to cluster admin, with a reason per hop.
    Paths(cmd::paths::PathsArgs),
    /// Validate Falco-syntax rule files and list the loaded detection rules.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCmd),
    /// Rank the vulnerabilities of the running containers by runtime risk (root).
    Risk(cmd::risk::RiskArgs),
    /// Run the API server, dashboard and alert sinks (`server token` mints a token).
    Server(cmd::server::ServerArgs),
    /// Run the sensor and rules on this node and ship alerts and health to a server.
    Agent(cmd::agent::AgentArgs),
    /// Server on SQLite, a local agent and the dashboard on http://127.0.0.1:PORT.
    Up(cmd::up::UpArgs),
    /// List the containers running here with their pod metadata, or identify a cgroup path.
    #[command(subcommand)]
    Container(cmd::container::ContainerCmd),
    /// Live runtime events and alerts from the eBPF sensor (root); `--check` reports probes.
    Watch(cmd::watch::WatchArgs),
    /// Feed a recording (`watch --record`) back through the sensor pipeline and rules.
    Replay(cmd::watch::ReplayArgs),
}

/// What `kestrel scan` looks at. One variant per target, each with its own module in `cmd/`.
#[derive(Debug, Subcommand)]
enum ScanCmd {
    /// Posture of Kubernetes manifests, a cluster dump (--snapshot) or a live cluster (--cluster).
    K8s(cmd::scan_k8s::K8sArgs),
    /// Vulnerabilities of an image, directory or container against the advisory database.
    Image(cmd::scan_image::ImageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = std::env::vars().filter(|(k, _)| k != "KESTREL_CONFIG_FILE");
    let mut config = match Config::load(cli.config.as_deref(), env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kestrel: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(f) = cli.log_format {
        config.log.format = match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    if let Some(l) = &cli.log_level {
        config.log.level = l.clone();
    }
    if let Err(e) = init_logging(&config) {
        eprintln!("kestrel: {e:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Config(c) => cmd::config::run(c, &config),
        Command::Sbom(a) => cmd::sbom::run(a),
        Command::Version(c) => cmd::version::run(c),
        Command::Db(c) => cmd::db::run(c, &config),
        Command::Scan(ScanCmd::K8s(a)) => cmd::scan_k8s::run(a, &config),
        Command::Scan(ScanCmd::Image(a)) => cmd::scan_image::run(a, &config),
        Command::Rules(c) => cmd::rules::run(c, &config),
        Command::Paths(a) => cmd::paths::run(a),
        Command::Risk(a) => cmd::risk::run(a, &config),
        Command::Server(a) => cmd::server::run(a, &config),
        Command::Agent(a) => cmd::agent::run(a, &config),
        Command::Up(a) => cmd::up::run(a, &config),
        Command::Container(c) => cmd::container::run(c, &config),
        Command::Watch(a) => cmd::watch::watch(a, &config),
        Command::Replay(a) => cmd::watch::replay(a, &config),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            if !matches!(config.log.format, LogFormat::Json) {
                // A human at a terminal should see the error even when logging is filtered.
                eprintln!("kestrel: error: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log.level)
        .map_err(|e| anyhow::anyhow!("invalid log level {:?}: {e}", config.log.level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
    }
    Ok(())
}
