//! Rendering a [`Report`]: a table for people, JSON for tools, DOT for Graphviz.

use std::collections::HashSet;
use std::fmt::Write;

use serde::Serialize;

use crate::{AttackPath, Report};

/// The JSON document of `kestrel paths --format json`.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub paths: &'a [AttackPath],
    pub nodes: usize,
    pub edges: usize,
}

pub fn to_json(report: &Report) -> JsonReport<'_> {
    JsonReport {
        paths: &report.paths,
        nodes: report.graph.nodes().len(),
        edges: report.graph.edges().len(),
    }
}

/// One block per path: a header, then one numbered sentence per hop.
pub fn to_table(report: &Report) -> String {
    let mut s = String::new();
    for (i, p) in report.paths.iter().enumerate() {
        let _ = writeln!(
            s,
            "PATH {} [{}] {} → {} ({} hops)",
            i + 1,
            p.id,
            p.source,
            p.target,
            p.length
        );
        for (j, h) in p.hops.iter().enumerate() {
            let _ = writeln!(s, "  {}. [{}] {}", j + 1, h.edge, h.explanation);
        }
        s.push('\n');
    }
    let n = report.paths.len();
    let _ = writeln!(
        s,
        "{n} attack path{} to cluster admin ({} nodes, {} edges in the graph)",
        if n == 1 { "" } else { "s" },
        report.graph.nodes().len(),
        report.graph.edges().len()
    );
    s
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The whole graph in Graphviz DOT, with the nodes and edges of the paths in red.
pub fn to_dot(report: &Report) -> String {
    let g = &report.graph;
    let on_path: HashSet<(String, String, &str)> = report
        .paths
        .iter()
        .flat_map(|p| &p.hops)
        .map(|h| (h.from.to_string(), h.to.to_string(), h.edge.as_str()))
        .collect();
    let nodes_on_path: HashSet<String> = on_path
        .iter()
        .flat_map(|(a, b, _)| [a.clone(), b.clone()])
        .collect();
    let mut s = String::from("digraph attack_paths {\n  rankdir=LR;\n  node [shape=box];\n");
    for (i, n) in g.nodes().iter().enumerate() {
        let label = n.to_string();
        let style = if nodes_on_path.contains(&label) {
            ", color=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(s, "  n{i} [label={}{style}];", quote(&label));
    }
    for e in g.edges() {
        let (from, to) = (&g.nodes()[e.from], &g.nodes()[e.to]);
        let style = if on_path.contains(&(from.to_string(), to.to_string(), e.kind.as_str())) {
            ", color=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "  n{} -> n{} [label={}, tooltip={}{style}];",
            e.from,
            e.to,
            quote(e.kind.as_str()),
            quote(&e.explanation)
        );
    }
    s.push_str("}\n");
    s
}
