//! The `kestrel.toml` configuration file.
//!
//! This crate owns the typed configuration of every component and the rules for building it:
//! defaults, then the file, then `KESTREL_*` environment variables. Every section and key is
//! documented on its field and in `docs/config.md`.
//!
//! Environment overrides name a key by its path with `__` between levels, upper-cased:
//! `KESTREL_LOG__FORMAT=json` sets `[log] format = "json"`. A value is read as a TOML value when
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
            if let Some(rest) = k.strip_prefix(ENV_PREFIX) {
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
