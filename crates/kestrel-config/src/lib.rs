//! The `kestrel.toml` configuration file.
//!
//! This crate owns the typed configuration of every component and the rules for building it:
//! defaults, then the file, then `KESTREL_*` environment variables. Every section and key is
//! documented on its field and in `docs/config.md`.
//!
//! Environment overrides name a key by its path with `__` between levels, upper-cased:
//! `KESTREL_LOG__FORMAT=json` sets `[log] format = "json"`. A `KESTREL_` variable without `__`
//! cannot name a key (every key is in a section) and is not configuration. A value is read as a TOML value when
//! it parses as one (`true`, `42`, `["a", "b"]`) and as a string otherwise.
//!
//! Architecture invariant: loading is a pure function of (file text, environment). Unknown keys,
//! in the file or in the environment, are rejected with their full dotted name; a configuration is
//! never partially applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The prefix of every environment variable that overrides a configuration key.
pub const ENV_PREFIX: &str = "KESTREL_";

/// Errors building a configuration. Each names the file or variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(
        "environment variable {var} does not name a configuration key (use KESTREL_SECTION__KEY, for example KESTREL_LOG__FORMAT)"
    )]
    BadEnvName { var: String },
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `kestrel_sensor=debug,info`.
    pub level: String,
    /// `text` (human lines) or `json` (one object per line).
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The whole configuration. Each component owns one section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[log]`: where and how Kestrel logs.
    pub log: LogConfig,
    /// `[detection]`: rules, threat intelligence, alert outputs and enforcement.
    pub detection: DetectionConfig,
    /// `[server]`: the API server, its database, TLS and alert sinks (`kestrel server`).
    pub server: ServerConfig,
    /// `[agent]`: where and how an agent ships its data (`kestrel agent`).
    pub agent: AgentConfig,
    /// `[db]`: the offline advisory database and where `kestrel db update` downloads from.
    pub db: DbConfig,
    /// `[container]`: container runtime sockets, the Kubernetes pod watch and how long events
    /// wait for container metadata.
    pub container: ContainerConfig,
    /// `[sensor]`: what the eBPF runtime sensor captures and how (`kestrel watch`).
    pub sensor: SensorConfig,
    /// `[risk]`: how `kestrel risk` classifies environments and judges non-use.
    pub risk: RiskConfig,
    /// `[posture]`: defaults of `kestrel scan k8s` (exceptions, severity, disabled checks,
    /// exit code); its flags override them.
    pub posture: PostureConfig,
}

/// Kubernetes posture scans (`kestrel scan k8s`, documented in `docs/posture.md`). Each key is
/// the default of the flag named beside it; a flag given on the command line wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostureConfig {
    /// Exceptions file (YAML) applied to every scan (`--exceptions`). A relative path is
    /// relative to the working directory.
    pub exceptions: Option<PathBuf>,
    /// Report only findings of this severity or higher: `low`, `medium`, `high` or
    /// `critical` (`--severity`).
    pub min_severity: String,
    /// Check ids whose findings are never reported (`--disable-check`, which replaces this
    /// list). An unknown id is an error.
    pub disabled_checks: Vec<String>,
    /// Exit with this code when findings remain after filtering and exceptions; 0 always
    /// succeeds (`--exit-code`).
    pub exit_code: u8,
}

impl Default for PostureConfig {
    fn default() -> Self {
        PostureConfig {
            exceptions: None,
            min_severity: "low".to_owned(),
            disabled_checks: Vec::new(),
            exit_code: 0,
        }
    }
}

/// Runtime-aware risk (`kestrel risk`, documented in `docs/risk.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Pod and namespace label keys that name the environment, consulted in order.
    pub environment_labels: Vec<String>,
    /// Words (in label values or `-`/`_`/`.`-separated namespace names) that mean each
    /// environment: keys `production`, `staging`, `test`, `sandbox`.
    pub environment_words: BTreeMap<String, Vec<String>>,
    /// A workload observed from its start for at least this many seconds, whose package was
    /// never touched, has that package "not in use" (`--min-observation` overrides).
    pub min_observation_secs: u64,
    /// Alerts raised on a workload in the last this many seconds make it "attacked" in the
    /// agent's and `kestrel up`'s assessments (`kestrel risk` counts every alert of its
    /// observation). 0 counts no alert.
    pub attacked_window_secs: u64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        let words = |ws: &[&str]| ws.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let mut environment_words = BTreeMap::new();
        environment_words.insert(
            "production".to_owned(),
            words(&["prod", "production", "prd", "live"]),
        );
        environment_words.insert(
            "staging".to_owned(),
            words(&["stg", "stage", "staging", "preprod", "uat"]),
        );
        environment_words.insert(
            "test".to_owned(),
            words(&["dev", "development", "test", "testing", "qa", "ci"]),
        );
        environment_words.insert(
            "sandbox".to_owned(),
            words(&["sandbox", "playground", "demo", "scratch"]),
        );
        RiskConfig {
            environment_labels: words(&[
                "environment",
                "env",
                "app.kubernetes.io/environment",
                "tier",
            ]),
            environment_words,
            min_observation_secs: 60,
            attacked_window_secs: 24 * 3600,
        }
    }
}

/// The runtime sensor (`kestrel-sensor`, documented in `docs/sensor.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorConfig {
    /// Size of the kernel ring buffer in bytes (rounded up to a power of two). Larger survives
    /// longer bursts before drops.
    pub ring_buffer_bytes: u32,
    /// Opens of paths starting with one of these prefixes are reported (filtered in the kernel,
    /// on the path as the program passed it). `""` reports every open.
    pub open_prefixes: Vec<String>,
    /// Opens that may write (`O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC` or `O_APPEND`) of paths
    /// starting with one of these prefixes are reported; reads there are not. For places read
    /// all the time (`/proc`, `/var/log`) where only writes matter to the rules.
    pub open_write_prefixes: Vec<String>,
    /// Opens of paths ending with one of these (at most 64 bytes) are reported, whatever the
    /// directory: file names such as `release_agent` or `.bash_history`.
    pub open_suffixes: Vec<String>,
    /// Opens with any of these flags are reported whatever the path: `O_WRONLY`, `O_RDWR`,
    /// `O_CREAT`, `O_TRUNC`, `O_APPEND`.
    pub open_flags: Vec<String>,
    /// Environment variables captured at exec (`LD_PRELOAD`...); empty disables environment
    /// capture.
    pub env: Vec<String>,
    /// Processes the process table holds before evicting the least recently used.
    pub process_table_capacity: usize,
    /// Ancestors kept with each process.
    pub ancestry_depth: usize,
    /// Without eBPF: `auto` falls back to the proc connector, else /proc polling (degraded),
    /// `never` fails, `force` uses the fallback even when eBPF works.
    pub fallback: SensorFallback,
    /// Executables killed (SIGKILL from the kernel) when exec'd, by path (resolved to device and
    /// inode at start).
    pub deny_exec: Vec<PathBuf>,
    /// Report denied execs (`enforcement: would_kill`) without killing.
    pub deny_dry_run: bool,
    /// Capture DNS queries and answers (UDP port 53). Off, no packet program is attached, which
    /// saves a few tens of nanoseconds on every packet of the node; DNS rules, intel on domain
    /// names and `fd.sip.name` then have nothing to work on.
    pub dns: bool,
}

/// Paths every open of which matters to the default rules: credentials, configuration,
/// service-account tokens, kubelet state, cron tables. (`docs/sensor.md` says which rule needs
/// which entry.)
pub const DEFAULT_OPEN_PREFIXES: &[&str] = &[
    "/etc/",
    "/root/",
    "/home/",
    "/var/run/secrets/",
    "/run/secrets/",
    "/var/lib/kubelet/",
    "/var/spool/cron/",
    "/boot/",
    "/proc/sys/",
    "/sys/kernel/",
    "/dev/mem",
    "/dev/kmem",
];

/// Paths only whose opens for writing matter to the default rules. Reads there are constant
/// (`ps` reads `/proc` all the time, log shippers read `/var/log`) and are not reported.
pub const DEFAULT_OPEN_WRITE_PREFIXES: &[&str] = &[
    "/proc/",
    "/var/log/",
    "/dev/log",
    "/bin/",
    "/sbin/",
    "/usr/bin/",
    "/usr/sbin/",
    "/usr/local/bin/",
    "/usr/local/sbin/",
    "/usr/lib/systemd/system/",
    "/lib/systemd/system/",
];

/// File names the default rules look for in any directory: container-escape, history,
/// SSH-key, shell-profile and cloud-credential files.
pub const DEFAULT_OPEN_SUFFIXES: &[&str] = &[
    "release_agent",
    "core_pattern",
    "bash_history",
    "zsh_history",
    ".ash_history",
    "authorized_keys",
    "authorized_keys2",
    ".bashrc",
    ".bash_profile",
    ".profile",
    ".zshrc",
    ".aws/credentials",
    ".aws/config",
    ".config/gcloud/credentials.db",
    ".config/gcloud/access_tokens.db",
    ".config/gcloud/application_default_credentials.json",
    ".azure/accessTokens.json",
    ".azure/msal_token_cache.json",
];

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            ring_buffer_bytes: 8 << 20,
            open_prefixes: owned(DEFAULT_OPEN_PREFIXES),
            open_write_prefixes: owned(DEFAULT_OPEN_WRITE_PREFIXES),
            open_suffixes: owned(DEFAULT_OPEN_SUFFIXES),
            open_flags: Vec::new(),
            env: vec!["LD_PRELOAD".to_owned(), "LD_LIBRARY_PATH".to_owned()],
            process_table_capacity: 32_768,
            ancestry_depth: 8,
            fallback: SensorFallback::Auto,
            deny_exec: Vec::new(),
            deny_dry_run: false,
            dns: true,
        }
    }
}

/// What the sensor does on a kernel where eBPF cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SensorFallback {
    /// The proc connector, else /proc polling, reported as degraded.
    Auto,
    /// Refuse to start.
    Never,
    /// The fallback even when eBPF works.
    Force,
}

/// Container and pod identity (`kestrel-container`, documented in `docs/containers.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerConfig {
    /// podman's libpod API socket (`podman system service`); empty to not ask podman. A socket
    /// that does not exist at start-up is skipped.
    pub podman_socket: PathBuf,
    /// The Docker Engine API socket; empty to not ask Docker. Skipped when it does not exist.
    pub docker_socket: PathBuf,
    /// CRI sockets (containerd, CRI-O) to ask over gRPC; those that do not exist are skipped.
    pub cri_sockets: Vec<PathBuf>,
    /// Where the host's proc file system is mounted (`/host/proc` when the sensor runs in a
    /// container).
    pub proc_root: PathBuf,
    /// This node's name; when set, pods with `spec.nodeName` equal to it are watched through the
    /// Kubernetes API (in-cluster service account or kubeconfig). In a DaemonSet, set
    /// `KESTREL_CONTAINER__NODE_NAME` from the downward API (`spec.nodeName`).
    pub node_name: Option<String>,
    /// A kubeconfig file for the pod watch; unset: the in-cluster service account, else
    /// `$KUBECONFIG` or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// How long an event of a container whose metadata is still being looked up is held before
    /// it is emitted with what is known, in milliseconds.
    pub hold_ms: u64,
    /// How long a new pod container waits for kubelet to report it in the pod status, in
    /// milliseconds.
    pub pod_status_wait_ms: u64,
    /// Timeout of one runtime API request, in milliseconds.
    pub runtime_timeout_ms: u64,
    /// At most this many containers are remembered.
    pub cache_size: usize,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            podman_socket: PathBuf::from("/run/podman/podman.sock"),
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            cri_sockets: vec![
                PathBuf::from("/run/containerd/containerd.sock"),
                PathBuf::from("/var/run/crio/crio.sock"),
            ],
            proc_root: PathBuf::from("/proc"),
            node_name: None,
            kubeconfig: None,
            hold_ms: 500,
            pod_status_wait_ms: 10_000,
            runtime_timeout_ms: 2_000,
            cache_size: 4096,
        }
    }
}

/// The advisory database (`kestrel db`, `kestrel scan image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbConfig {
    /// The SQLite file holding advisories, KEV and EPSS.
    pub path: PathBuf,
    /// Base URL of the OSV bucket layout (`<base>/<Ecosystem>/all.zip`, `modified_id.csv`);
    /// point it at a mirror for air-gapped use.
    pub osv_base_url: String,
    /// OSV ecosystems `kestrel db update` downloads (OSV's directory names).
    pub osv_ecosystems: Vec<String>,
    /// CISA Known Exploited Vulnerabilities catalog (JSON); empty to skip.
    pub kev_url: String,
    /// FIRST EPSS scores (CSV, gzip or plain); empty to skip.
    pub epss_url: String,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            path: PathBuf::from("/var/lib/kestrel/advisories.db"),
            osv_base_url: "https://osv-vulnerabilities.storage.googleapis.com".to_owned(),
            osv_ecosystems: [
                "Debian", "Ubuntu", "Alpine", "Red Hat", "PyPI", "npm", "Go", "crates.io",
                "Maven", "RubyGems", "NuGet", "Packagist",
            ]
            .map(str::to_owned)
            .to_vec(),
            kev_url:
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
                    .to_owned(),
            epss_url: "https://epss.cyentia.com/epss_scores-current.csv.gz".to_owned(),
        }
    }
}

/// API server settings (`kestrel server`, `kestrel up`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// `sqlite://PATH` or a file path (SQLite, WAL), or `postgres://USER:PASS@HOST/DB`.
    pub database: String,
    /// PEM certificate chain; with `tls_key`, the server speaks HTTPS only.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Where newly stored alerts are forwarded (`[[server.sinks]]`).
    pub sinks: Vec<SinkConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:7420".to_owned(),
            database: "kestrel.db".to_owned(),
            tls_cert: None,
            tls_key: None,
            sinks: Vec::new(),
        }
    }
}

/// One alert sink (`[[server.sinks]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// Name in logs, metrics and dead letters.
    pub name: String,
    /// `webhook` (Falco JSON, as Falcosidekick accepts) or `slack` (incoming webhook).
    pub kind: String,
    /// `http://` or `https://` URL to POST to.
    pub url: String,
    /// Lowest alert priority sent (Falco names).
    pub min_priority: String,
    /// Attempts before an alert goes to the dead letters.
    pub max_attempts: u32,
    /// First retry delay; doubles each retry up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Alerts waiting for delivery before new ones are dead-lettered at once.
    pub queue_capacity: usize,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            name: "webhook".to_owned(),
            kind: "webhook".to_owned(),
            url: String::new(),
            min_priority: "debug".to_owned(),
            max_attempts: 5,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            queue_capacity: 10_000,
        }
    }
}

/// Agent settings (`kestrel agent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Server base URL, e.g. `https://kestrel.example:7420`.
    pub server: Option<String>,
    /// File holding the cluster enrollment token (or use `KESTREL_AGENT__TOKEN`).
    pub token_file: Option<PathBuf>,
    /// The enrollment token itself; prefer `token_file` or the environment.
    pub token: Option<String>,
    /// Cluster name the enrollment token belongs to.
    pub cluster: String,
    /// Node name; defaults to `NODE_NAME` or the host name.
    pub node: Option<String>,
    /// Directory of the on-disk buffer of unsent batches.
    pub buffer_dir: PathBuf,
    /// Largest size of the buffer; when full, new batches are dropped and counted.
    pub buffer_max_bytes: u64,
    /// PEM CA certificate to trust for the server, besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds between runtime risk assessments of the node (running containers inventoried,
    /// matched against `[db] path`, ranked with the live sensor's evidence) shipped as
    /// workloads and vulnerability findings; 0 turns them off. With them on, the sensor reports
    /// every successful file open, since interpreters load modules with open(2).
    pub risk_interval_secs: u64,
    /// Seconds after start before the first assessment.
    pub risk_first_delay_secs: u64,
    /// Kubernetes objects (manifests or `kubectl get -o json` dumps) giving the Services,
    /// Ingresses, Gateway API routes and namespace labels that decide the exposure and
    /// environment of the node's workloads.
    pub k8s_files: Vec<PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            server: None,
            token_file: None,
            token: None,
            cluster: "default".to_owned(),
            node: None,
            buffer_dir: PathBuf::from("/var/lib/kestrel/agent-buffer"),
            buffer_max_bytes: 256 * 1024 * 1024,
            ca_file: None,
            risk_interval_secs: 300,
            risk_first_delay_secs: 15,
            k8s_files: Vec::new(),
        }
    }
}

/// Threat detection settings (`kestrel watch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectionConfig {
    /// Load the built-in default rules before `rules_files`.
    pub builtin_rules: bool,
    /// Falco-syntax rule files, loaded in order after the built-in rules; later files append to
    /// and override earlier ones.
    pub rules_files: Vec<PathBuf>,
    /// Lowest priority that raises an alert: emergency, alert, critical, error, warning, notice,
    /// informational or debug.
    pub min_priority: String,
    /// Rate limit per rule and container: alerts allowed at once.
    pub rate_burst: u32,
    /// Rate limit per rule and container: alerts per second refilled.
    pub rate_per_second: f64,
    /// Threat-intelligence feed files (IP, CIDR and domain indicators; text or CSV).
    pub intel_files: Vec<PathBuf>,
    /// Seconds between checks of rule and feed files for changes; 0 disables the check (SIGHUP
    /// still reloads).
    pub reload_interval_secs: u64,
    /// Append alerts as JSON lines to this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts_file: Option<PathBuf>,
    /// POST every alert as Falco JSON to this URL (Falcosidekick's listen address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Send alerts to syslog: `unix:/dev/log` or `udp:HOST:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog: Option<String>,
    /// Enforcement of `action: kill` rules.
    pub enforcement: EnforcementMode,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            builtin_rules: true,
            rules_files: Vec::new(),
            min_priority: "debug".to_owned(),
            rate_burst: 10,
            rate_per_second: 1.0,
            intel_files: Vec::new(),
            reload_interval_secs: 5,
            alerts_file: None,
            webhook_url: None,
            syslog: None,
            enforcement: EnforcementMode::Off,
        }
    }
}

/// What happens when an `action: kill` rule matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnforcementMode {
    /// Kill rules alert like any other rule.
    #[default]
    Off,
    /// Alerts record that the process would have been killed.
    DryRun,
    /// The sensor kills matching executions in the kernel.
    Kill,
}

impl Config {
    /// Loads the configuration: defaults, then `path` if given, then the `KESTREL_*` variables
    /// of `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "defaults".to_owned()),
        };
        Config::from_parts(&text, &origin, env)
    }

    /// Builds a configuration from file text (named `origin` in errors) and environment pairs.
    pub fn from_parts(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        // Validate the file alone first so that an error in it is reported against the file,
        // not against the merged result.
        Config::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
            ConfigError::Invalid {
                origin: origin.to_owned(),
                message: e.to_string(),
            }
        })?;
        let mut overrides: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in env {
            // Every key lives in a section, so only `KESTREL_SECTION__KEY` can name one. Other
            // `KESTREL_*` variables (`KESTREL_CONFIG_FILE`, `KESTREL_REGISTRY_PASSWORD`, test
            // settings) are not configuration and are left to whoever reads them.
            if let Some(rest) = k.strip_prefix(ENV_PREFIX)
                && rest.contains("__")
            {
                overrides.insert(rest.to_owned(), v);
            }
        }
        for (rest, value) in &overrides {
            let var = format!("{ENV_PREFIX}{rest}");
            let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            if path.iter().any(|p| p.is_empty()) {
                return Err(ConfigError::BadEnvName { var });
            }
            set_path(&mut table, &path, parse_env_value(value));
            Config::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
                ConfigError::Invalid {
                    origin: format!("environment variable {var}"),
                    message: e.to_string(),
                }
            })?;
        }
        Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Invalid {
            origin: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// The effective configuration as TOML, for `kestrel config show`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    // A bare word such as `json` is not valid TOML; wrapping it keeps `KESTREL_LOG__FORMAT=json`
    // natural to write while still allowing numbers, booleans and arrays.
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("path is never empty");
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cur = entry.as_table_mut().expect("just made a table");
    }
    cur.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_when_empty() {
        let c = Config::from_parts("", "test", env(&[])).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn file_then_env() {
        let c = Config::from_parts(
            "[log]\nlevel = \"debug\"\n",
            "k.toml",
            env(&[("KESTREL_LOG__FORMAT", "json"), ("PATH", "/bin")]),
        )
        .unwrap();
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn unknown_file_key_is_named() {
        let e = Config::from_parts("[log]\nlevl = \"debug\"\n", "k.toml", env(&[])).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("k.toml") && msg.contains("levl"), "{msg}");
    }

    #[test]
    fn unknown_section_is_named() {
        let e = Config::from_parts("[lgo]\n", "k.toml", env(&[])).unwrap_err();
        assert!(e.to_string().contains("lgo"), "{e}");
    }

    #[test]
    fn unknown_env_key_is_named() {
        let e =
            Config::from_parts("", "k.toml", env(&[("KESTREL_LOG__COLOUR", "yes")])).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("KESTREL_LOG__COLOUR") && msg.contains("colour"),
            "{msg}"
        );
    }

    #[test]
    fn bad_env_value_is_named() {
        let e =
            Config::from_parts("", "k.toml", env(&[("KESTREL_LOG__FORMAT", "xml")])).unwrap_err();
        assert!(e.to_string().contains("KESTREL_LOG__FORMAT"), "{e}");
    }

    #[test]
    fn variables_without_a_section_are_not_configuration() {
        let c = Config::from_parts(
            "",
            "k.toml",
            env(&[
                ("KESTREL_REGISTRY_PASSWORD", "secret"),
                ("KESTREL_TEST_POSTGRES_URL", "postgres://x"),
            ]),
        )
        .unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn malformed_env_name() {
        let e = Config::from_parts("", "k.toml", env(&[("KESTREL_LOG____X", "1")])).unwrap_err();
        assert!(matches!(e, ConfigError::BadEnvName { .. }), "{e}");
    }

    #[test]
    fn missing_file_is_named() {
        let e = Config::load(Some(Path::new("/nonexistent/kestrel.toml")), env(&[])).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/kestrel.toml"), "{e}");
    }
}
