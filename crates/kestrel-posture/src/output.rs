//! Report formats: a terminal table, JSON (documented in `docs/posture.md`), SARIF 2.1.0 and
//! JUnit XML.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::Report;
use crate::catalog::{self, Check, Crosswalk, Severity};
use crate::exceptions::Exception;
use crate::finding::Finding;

#[derive(Debug, Serialize)]
struct JsonResource<'a> {
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
}

#[derive(Debug, Serialize)]
struct JsonFinding<'a> {
    check_id: &'a str,
    title: &'a str,
    severity: &'a str,
    resource: JsonResource<'a>,
    container: Option<&'a str>,
    path: &'a str,
    owasp: &'a [&'a str],
    crosswalk: &'a Crosswalk,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<JsonSource<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonSource<'a> {
    file: &'a str,
    document: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
}

fn json_finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        check_id: f.check.id,
        title: f.check.title,
        severity: f.check.severity.as_str(),
        resource: JsonResource {
            kind: f.resource.kind.as_str(),
            namespace: f.resource.namespace.as_deref(),
            name: &f.resource.name,
        },
        container: f.container.as_deref(),
        path: &f.path,
        owasp: f.check.owasp,
        crosswalk: &f.check.crosswalk,
        message: &f.message,
        source: f.origin.as_ref().map(|o| JsonSource {
            file: &o.source,
            document: o.document,
            line: o.line,
        }),
    }
}

#[derive(Debug, Serialize)]
struct JsonSuppressed<'a> {
    #[serde(flatten)]
    finding: JsonFinding<'a>,
    exception: &'a Exception,
}

/// The JSON report (`docs/posture.md`): borrowed from the report and serialised straight to
/// the output, so a large scan never builds an intermediate `serde_json::Value` tree.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    findings: Vec<JsonFinding<'a>>,
    not_assessed: &'a [kestrel_k8s::NotAssessed],
    suppressed: Vec<JsonSuppressed<'a>>,
    expired_exceptions: &'a [Exception],
    summary: JsonSummary,
}

#[derive(Debug, Serialize)]
struct JsonSummary {
    objects: usize,
    findings: usize,
    by_severity: JsonBySeverity,
}

#[derive(Debug, Serialize)]
struct JsonBySeverity {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
}

/// The JSON report of `report`; `exceptions` are the items its suppressions index into.
pub fn to_json<'a>(report: &'a Report, exceptions: &'a [Exception]) -> JsonReport<'a> {
    let suppressed = report
        .suppressed
        .iter()
        .filter_map(|(f, i)| {
            exceptions.get(*i).map(|e| JsonSuppressed {
                finding: json_finding(f),
                exception: e,
            })
        })
        .collect();
    let count = |s: Severity| {
        report
            .findings
            .iter()
            .filter(|f| f.check.severity == s)
            .count()
    };
    JsonReport {
        findings: report.findings.iter().map(json_finding).collect(),
        not_assessed: &report.not_assessed,
        suppressed,
        expired_exceptions: &report.expired,
        summary: JsonSummary {
            objects: report.objects,
            findings: report.findings.len(),
            by_severity: JsonBySeverity {
                critical: count(Severity::Critical),
                high: count(Severity::High),
                medium: count(Severity::Medium),
                low: count(Severity::Low),
            },
        },
    }
}

/// A plain-text table for terminals, one finding per block.
pub fn to_table(report: &Report) -> String {
    let mut s = String::new();
    let sev_w = 8;
    let id_w = report
        .findings
        .iter()
        .map(|f| f.check.id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let res_w = report
        .findings
        .iter()
        .map(|f| f.resource.to_string().len())
        .max()
        .unwrap_or(8)
        .clamp(8, 60);
    let _ = writeln!(
        s,
        "{:sev_w$}  {:id_w$}  {:res_w$}  MESSAGE",
        "SEVERITY", "CHECK", "RESOURCE"
    );
    for f in &report.findings {
        let _ = writeln!(
            s,
            "{:sev_w$}  {:id_w$}  {:res_w$}  {}",
            f.check.severity.as_str().to_ascii_uppercase(),
            f.check.id,
            f.resource.to_string(),
            f.message
        );
        let _ = writeln!(
            s,
            "{:sev_w$}  {:id_w$}  {:res_w$}  at {}",
            "", "", "", f.path
        );
    }
    let _ = writeln!(s);
    let count = |sev: &str| {
        report
            .findings
            .iter()
            .filter(|f| f.check.severity.as_str() == sev)
            .count()
    };
    let _ = writeln!(
        s,
        "{} findings in {} objects ({} critical, {} high, {} medium, {} low); {} suppressed by exceptions",
        report.findings.len(),
        report.objects,
        count("critical"),
        count("high"),
        count("medium"),
        count("low"),
        report.suppressed.len()
    );
    for n in &report.not_assessed {
        let ns = n
            .namespace
            .as_deref()
            .map(|n| format!(" in namespace {n}"))
            .unwrap_or_default();
        let _ = writeln!(s, "NOT ASSESSED: {}{ns}: {}", n.kind, n.reason);
    }
    for e in &report.expired {
        let _ = writeln!(
            s,
            "EXPIRED EXCEPTION: check {} ({}) expired on {}; it no longer applies",
            e.check,
            e.reason,
            e.expires.map(|d| d.to_string()).unwrap_or_default()
        );
    }
    s
}

fn sarif_level(c: &Check) -> &'static str {
    match c.severity {
        catalog::Severity::Critical | catalog::Severity::High => "error",
        catalog::Severity::Medium => "warning",
        catalog::Severity::Low => "note",
    }
}

/// SARIF's `security-severity` (a CVSS-like score GitHub uses to rank results).
fn security_severity(c: &Check) -> &'static str {
    match c.severity {
        catalog::Severity::Critical => "9.5",
        catalog::Severity::High => "8.0",
        catalog::Severity::Medium => "5.5",
        catalog::Severity::Low => "3.0",
    }
}

/// SARIF 2.1.0, one rule per check that has findings.
pub fn to_sarif(report: &Report) -> Value {
    let used: BTreeSet<&str> = report.findings.iter().map(|f| f.check.id).collect();
    let rules: Vec<Value> = catalog::ALL
        .iter()
        .filter(|c| used.contains(c.id))
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.title,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.rationale},
                "help": {"text": c.remediation},
                "defaultConfiguration": {"level": sarif_level(c)},
                "properties": {
                    "tags": std::iter::once("security").chain(c.owasp.iter().copied()).collect::<Vec<_>>(),
                    "security-severity": security_severity(c),
                    "crosswalk": c.crosswalk,
                }
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut loc = json!({
                "logicalLocations": [{
                    "fullyQualifiedName": format!("{}#{}", f.resource, f.path),
                    "kind": "resource",
                }]
            });
            if let Some(o) = &f.origin {
                let mut phys = json!({"artifactLocation": {"uri": o.source.as_ref()}});
                if let Some(line) = o.line {
                    phys["region"] = json!({"startLine": line});
                }
                loc["physicalLocation"] = phys;
            }
            json!({
                "ruleId": f.check.id,
                "level": sarif_level(f.check),
                "message": {"text": f.message},
                "locations": [loc],
                "properties": {"container": f.container, "path": f.path},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kestrel",
                "informationUri": "https://github.com/kestrel-security/kestrel",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one test case per check; a check with findings fails with one `<failure>` per
/// finding in its body, so CI systems show each check once.
pub fn to_junit(report: &Report) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = catalog::ALL
        .iter()
        .filter(|c| report.findings.iter().any(|f| f.check.id == c.id))
        .count();
    let _ = writeln!(
        s,
        "<testsuites name=\"kestrel scan k8s\" tests=\"{}\" failures=\"{failures}\">",
        catalog::ALL.len()
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"kubernetes-posture\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        catalog::ALL.len()
    );
    for c in catalog::ALL {
        let fs: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.check.id == c.id)
            .collect();
        let _ = write!(
            s,
            "    <testcase classname=\"{}\" name=\"{}: {}\"",
            xml_escape(&format!("{:?}", c.category).to_ascii_lowercase()),
            c.id,
            xml_escape(c.title)
        );
        if fs.is_empty() {
            s.push_str("/>\n");
            continue;
        }
        s.push_str(">\n");
        let body: Vec<String> = fs
            .iter()
            .map(|f| {
                format!(
                    "{} {}: {} (at {})",
                    f.check.severity.as_str().to_ascii_uppercase(),
                    f.resource,
                    f.message,
                    f.path
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "      <failure message=\"{} finding(s), severity {}\" type=\"{}\">{}</failure>",
            fs.len(),
            c.severity,
            c.id,
            xml_escape(&body.join("\n"))
        );
        s.push_str("    </testcase>\n");
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}
