//! List filters. Each is the query string of its API endpoint (unknown parameters are rejected)
//! and turns into a WHERE clause of constant SQL with bound values.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::{Environment, ExposureLevel, InUse, Severity, in_use_code};
use crate::{Arg, Result, Where, parse_time};

/// `GET /api/v1/alerts` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// Only alerts at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only alerts before this RFC 3339 time.
    pub until: Option<String>,
    /// Exact rule name.
    pub rule: Option<String>,
    /// Minimum priority (`warning` means warning and more severe); Falco names and aliases.
    pub priority: Option<String>,
    pub cluster: Option<String>,
    pub node: Option<String>,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    /// Workload name (or pod name when the agent did not know the workload).
    pub workload: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// An [`AlertFilter`] with its times and priority parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AlertBounds {
    /// Unix nanoseconds, inclusive.
    pub since: Option<i64>,
    /// Unix nanoseconds, exclusive.
    pub until: Option<i64>,
    pub min_rank: Option<i64>,
}

impl AlertFilter {
    pub(crate) fn bounds(&self) -> Result<AlertBounds> {
        let since = self
            .since
            .as_deref()
            .map(|s| parse_time(s, "since"))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|s| parse_time(s, "until"))
            .transpose()?;
        let min_rank = self
            .priority
            .as_deref()
            .map(|p| {
                p.parse::<kestrel_event::Priority>()
                    .map(crate::priority_rank)
                    .map_err(|e| crate::StoreError::invalid("priority", e.to_string()))
            })
            .transpose()?;
        Ok(AlertBounds {
            since,
            until,
            min_rank,
        })
    }

    /// The WHERE clause over `alerts` with the time range replaced by `[since, until)`.
    pub(crate) fn where_between(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        min_rank: Option<i64>,
    ) -> Where {
        let mut w = Where::default();
        if let Some(s) = since {
            w.cond("time_ns >= ?", Arg::I(s));
        }
        if let Some(u) = until {
            w.cond("time_ns < ?", Arg::I(u));
        }
        if let Some(r) = min_rank {
            w.cond("priority_rank >= ?", Arg::I(r));
        }
        text(&mut w, "rule = ?", &self.rule);
        text(&mut w, "cluster = ?", &self.cluster);
        text(&mut w, "node = ?", &self.node);
        text(&mut w, "namespace = ?", &self.namespace);
        text(&mut w, "pod = ?", &self.pod);
        text(&mut w, "workload = ?", &self.workload);
        w
    }

    /// The WHERE clause over `alert_counts` for whole hours `[first_hour, end_hour)`, or `None`
    /// when the filter names a column the rollup does not keep (node, namespace, pod,
    /// workload).
    pub(crate) fn rollup_where(
        &self,
        first_hour: Option<i64>,
        end_hour: Option<i64>,
        min_rank: Option<i64>,
    ) -> Option<Where> {
        if self.node.is_some()
            || self.namespace.is_some()
            || self.pod.is_some()
            || self.workload.is_some()
        {
            return None;
        }
        let mut w = Where::default();
        if let Some(h) = first_hour {
            w.cond("hour >= ?", Arg::I(h));
        }
        if let Some(h) = end_hour {
            w.cond("hour < ?", Arg::I(h));
        }
        if let Some(r) = min_rank {
            w.cond("priority_rank >= ?", Arg::I(r));
        }
        text(&mut w, "rule = ?", &self.rule);
        text(&mut w, "cluster = ?", &self.cluster);
        Some(w)
    }
}

fn text(w: &mut Where, expr: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        w.cond(expr, Arg::S(v.clone()));
    }
}

fn like(w: &mut Where, expr: &'static str, v: &Option<String>) {
    if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
        // LIKE metacharacters in the user's text are matched literally.
        let escaped = v
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        w.cond(expr, Arg::S(format!("%{escaped}%")));
    }
}

/// `GET /api/v1/workloads` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkloadFilter {
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub exposure: Option<ExposureLevel>,
    pub environment: Option<Environment>,
    /// Case-insensitive substring of the name or an image.
    pub q: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl WorkloadFilter {
    pub(crate) fn to_where(&self) -> Result<Where> {
        let mut w = Where::default();
        text(&mut w, "w.cluster = ?", &self.cluster);
        text(&mut w, "w.namespace = ?", &self.namespace);
        text(&mut w, "w.kind = ?", &self.kind);
        text(&mut w, "w.name = ?", &self.name);
        if let Some(e) = self.exposure {
            w.cond("w.exposure = ?", Arg::S(e.as_str().to_owned()));
        }
        if let Some(e) = self.environment {
            w.cond("w.environment = ?", Arg::S(e.as_str().to_owned()));
        }
        like(
            &mut w,
            "(LOWER(w.name) LIKE ? ESCAPE '\\' OR LOWER(w.images) LIKE ? ESCAPE '\\')",
            &self.q,
        );
        Ok(w)
    }
}

/// Sort keys of the vulnerability list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VulnSort {
    /// The risk model's score (default).
    #[default]
    Score,
    Severity,
    Epss,
    Vulnerability,
    Package,
    Workload,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// `GET /api/v1/vulnerabilities` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VulnFilter {
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    /// Workload name.
    pub workload: Option<String>,
    pub workload_kind: Option<String>,
    /// Minimum severity.
    pub severity: Option<Severity>,
    pub min_score: Option<f64>,
    pub kev: Option<bool>,
    pub in_use: Option<InUse>,
    /// Exact vulnerability id.
    pub vulnerability: Option<String>,
    /// Case-insensitive substring of the vulnerability id, package or image.
    pub q: Option<String>,
    pub sort: Option<VulnSort>,
    pub order: Option<Order>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl VulnFilter {
    pub(crate) fn to_where(&self) -> Result<Where> {
        let mut w = Where::default();
        text(&mut w, "cluster = ?", &self.cluster);
        text(&mut w, "namespace = ?", &self.namespace);
        text(&mut w, "workload = ?", &self.workload);
        text(&mut w, "workload_kind = ?", &self.workload_kind);
        text(&mut w, "vuln_id = ?", &self.vulnerability);
        if let Some(s) = self.severity {
            w.cond("severity_rank >= ?", Arg::I(s.rank()));
        }
        if let Some(s) = self.min_score {
            w.cond("score >= ?", Arg::F(s));
        }
        if let Some(k) = self.kev {
            w.cond("kev = ?", Arg::I(i64::from(k)));
        }
        if let Some(u) = self.in_use {
            w.cond("in_use = ?", Arg::I(in_use_code(u)));
        }
        like(
            &mut w,
            "(LOWER(vuln_id) LIKE ? ESCAPE '\\' OR LOWER(package) LIKE ? ESCAPE '\\' OR LOWER(image) LIKE ? ESCAPE '\\')",
            &self.q,
        );
        Ok(w)
    }

    /// The ORDER BY clause, from constants only; `id` last makes pages stable.
    pub(crate) fn order_by(&self) -> String {
        let dir = match self.order.unwrap_or_default() {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        };
        let col = match self.sort.unwrap_or_default() {
            VulnSort::Score => "score".to_owned(),
            VulnSort::Severity => "severity_rank".to_owned(),
            VulnSort::Epss => "COALESCE(epss, -1.0)".to_owned(),
            VulnSort::Vulnerability => "vuln_id".to_owned(),
            VulnSort::Package => "package".to_owned(),
            VulnSort::Workload => format!("namespace {dir}, workload"),
        };
        format!("{col} {dir}, score DESC, id")
    }
}

/// `GET /api/v1/posture` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PostureFilter {
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    /// Resource kind.
    pub kind: Option<String>,
    /// Resource name.
    pub name: Option<String>,
    pub check_id: Option<String>,
    /// Minimum severity.
    pub severity: Option<Severity>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl PostureFilter {
    pub(crate) fn to_where(&self) -> Result<Where> {
        let mut w = Where::default();
        text(&mut w, "cluster = ?", &self.cluster);
        text(&mut w, "namespace = ?", &self.namespace);
        text(&mut w, "kind = ?", &self.kind);
        text(&mut w, "name = ?", &self.name);
        text(&mut w, "check_id = ?", &self.check_id);
        if let Some(s) = self.severity {
            w.cond("severity_rank >= ?", Arg::I(s.rank()));
        }
        Ok(w)
    }
}

/// `GET /api/v1/attack-paths` parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PathFilter {
    pub cluster: Option<String>,
    pub namespace: Option<String>,
    /// Name of the entry workload.
    pub workload: Option<String>,
    pub min_score: Option<f64>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl PathFilter {
    pub(crate) fn to_where(&self) -> Result<Where> {
        let mut w = Where::default();
        text(&mut w, "cluster = ?", &self.cluster);
        text(&mut w, "namespace = ?", &self.namespace);
        text(&mut w, "workload = ?", &self.workload);
        if let Some(s) = self.min_score {
            w.cond("score >= ?", Arg::F(s));
        }
        Ok(w)
    }
}
