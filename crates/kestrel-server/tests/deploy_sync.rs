//! The Helm chart (`deploy/helm/kestrel`) and the plain manifests (`deploy/manifests/kestrel.yaml`)
//! describe the same deployment. No `helm` binary is installable here to render the chart, so
//! this compares what can be read from the template text without rendering, with the release
//! named `kestrel` as `docs/server.md` installs it and `{{ .Values.x }}` replaced by the default
//! in `values.yaml`: the same objects (kind and name) both ways,
//! and for the containers the same environment variables, probe paths, added capabilities and
//! host paths. It catches an object or a setting added to one and forgotten in the other; it
//! does not check conditionals or other template logic.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(rel: &str) -> String {
    let path = deploy().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The scalar values of `values.yaml` by dotted path (`agent.bufferHostPath`).
fn chart_values() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in read("helm/kestrel/values.yaml").lines() {
        let text = line.split(" #").next().unwrap_or("").trim_end();
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let indent = text.len() - text.trim_start().len();
        let Some((key, value)) = text.trim_start().split_once(':') else {
            continue;
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).chain([key]).collect();
        let value = value.trim().trim_matches('"');
        if value.is_empty() {
            stack.push((indent, key.to_owned()));
        } else {
            out.push((path.join("."), value.to_owned()));
        }
    }
    out
}

/// The chart's templates, concatenated, with the release name and the default values
/// substituted.
fn templates() -> String {
    let dir = deploy().join("helm/kestrel/templates");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no templates in {}", dir.display());
    let text = names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap() + "\n---\n")
        .collect::<String>()
        .replace("{{ .Release.Name }}", "kestrel");
    let values = chart_values();
    assert!(
        values.iter().any(|(k, _)| k == "agent.bufferHostPath"),
        "values.yaml was read: {values:?}"
    );
    values.iter().fold(text, |t, (k, v)| {
        t.replace(&format!("{{{{ .Values.{k} }}}}"), v)
    })
}

/// (kind, metadata.name) of every document.
fn objects(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for doc in text.split("\n---") {
        let kind = doc.lines().find_map(|l| l.strip_prefix("kind: "));
        let mut in_metadata = false;
        let mut name = None;
        for l in doc.lines() {
            if !l.starts_with(' ') {
                in_metadata = l.trim_end() == "metadata:";
                continue;
            }
            if in_metadata && let Some(n) = l.strip_prefix("  name: ") {
                name = Some(n.trim());
                break;
            }
        }
        if let (Some(k), Some(n)) = (kind, name) {
            out.insert((k.trim().to_owned(), n.to_owned()));
        }
    }
    out
}

/// The trimmed values of lines `prefix VALUE` (any indentation).
fn values(text: &str, prefix: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(prefix))
        .map(|v| v.trim().to_owned())
        .collect()
}

#[test]
fn chart_and_manifests_describe_the_same_deployment() {
    let manifests = read("manifests/kestrel.yaml");
    let chart = templates();

    let mut plain = objects(&manifests);
    // `helm install --create-namespace` makes the namespace; the manifests carry it.
    assert!(plain.remove(&("Namespace".to_owned(), "kestrel".to_owned())));
    let templated = objects(&chart);
    assert!(plain.len() >= 8, "the manifests were read: {plain:?}");
    assert_eq!(
        plain, templated,
        "objects in the manifests vs objects in the chart's templates"
    );

    // Every environment variable of the manifests is set by the chart too.
    let env_missing: Vec<_> = values(&manifests, "- name: ")
        .into_iter()
        .filter(|n| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .filter(|n| !chart.contains(&format!("- name: {n}")))
        .collect();
    assert!(
        env_missing.is_empty(),
        "env in the manifests only: {env_missing:?}"
    );
    // The same probes, the same added capabilities, the same host paths (with the chart's
    // default values).
    assert_eq!(
        values(&manifests, "path: /"),
        values(&chart, "path: /"),
        "paths"
    );
    assert_eq!(
        values(&manifests, "add: "),
        values(&chart, "add: "),
        "capabilities"
    );
    assert_eq!(
        values(&manifests, "privileged: "),
        values(&chart, "privileged: "),
        "privileged settings"
    );
}
