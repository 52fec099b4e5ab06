//! Attack paths: which chains of Kubernetes permissions and misconfigurations lead from the
//! Internet, or from any compromised pod, to cluster admin (as KubeHound does).
//!
//! This crate owns the typed attack graph ([`graph`]) built from Kestrel's one Kubernetes
//! object model ([`kestrel_k8s`]): nodes are the Internet, Services, Ingresses, workloads,
//! ServiceAccounts, nodes (hosts), token Secrets and cluster admin; every edge has a kind and
//! a sentence naming the objects and fields that make the step possible ([`build`]). Paths are
//! the shortest ones (breadth-first, bounded length) and are rendered as a table, JSON or
//! Graphviz DOT ([`output`]).
//!
//! ```
//! let mut inv = kestrel_k8s::Inventory::new();
//! kestrel_k8s::load::load_str(&mut inv, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec:\n  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]\n", "p.yaml").unwrap();
//! let report = kestrel_paths::analyze(&inv, &kestrel_paths::Options::default());
//! assert!(report.paths.is_empty()); // root on the node, but no admin token there
//! ```
//!
//! Architecture invariant: this crate never reads files, parses YAML or talks to an API server,
//! and never decides RBAC by role name; it only reads the [`kestrel_k8s::Inventory`] and the
//! views `kestrel_k8s` derives from it (`pod::workloads`, `rbac::Rbac`).

pub mod build;
pub mod graph;
pub mod output;

use std::collections::BTreeSet;

use serde::Serialize;

pub use graph::{Edge, EdgeKind, Graph, Node, NodeKind};

/// Where paths start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum From {
    /// The Internet only.
    #[default]
    Internet,
    /// The Internet and every workload ("if this pod is compromised").
    Any,
}

/// What to enumerate.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub from: From,
    /// Paths longer than this many hops are left out.
    pub max_hops: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            from: From::Internet,
            max_hops: 10,
        }
    }
}

/// One step of a path. Converts field for field into `kestrel_store::model::PathHop`
/// (`edge` is its `relation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub from: Node,
    pub to: Node,
    pub edge: EdgeKind,
    pub explanation: String,
}

/// A path from a source to cluster admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttackPath {
    /// Stable across runs: a hash of the nodes and edge kinds along the path.
    pub id: String,
    pub source: Node,
    pub target: Node,
    pub length: usize,
    pub hops: Vec<Hop>,
}

impl AttackPath {
    /// The first workload on the path (its entry point), if any.
    pub fn entry_workload(&self) -> Option<&Node> {
        std::iter::once(&self.source)
            .chain(self.hops.iter().map(|h| &h.to))
            .find(|n| matches!(n.kind, NodeKind::Workload(_)))
    }
}

/// The graph and the paths found in it.
#[derive(Debug)]
pub struct Report {
    pub graph: Graph,
    pub paths: Vec<AttackPath>,
}

/// Builds the graph of `inv` and enumerates its paths to cluster admin.
pub fn analyze(inv: &kestrel_k8s::Inventory, options: &Options) -> Report {
    let graph = build::build(inv);
    let paths = find_paths(&graph, options);
    Report { graph, paths }
}

/// Shortest paths to cluster admin: one per Internet entry point and exposed workload (so the
/// LoadBalancer and the Ingress in front of the same pods are both shown), then, with
/// [`From::Any`], one per workload. Identical hop sequences are reported once.
pub fn find_paths(graph: &Graph, options: &Options) -> Vec<AttackPath> {
    let admin = graph
        .find(&Node::cluster_admin())
        .expect("the builder always adds the cluster admin node");
    let next = graph.next_hop_towards(admin);
    let to_admin = |start: usize| -> Option<Vec<&Edge>> {
        let mut hops = Vec::new();
        let mut at = start;
        while at != admin {
            let e = &graph.edges()[next[at]?];
            hops.push(e);
            at = e.to;
        }
        Some(hops)
    };
    let mut out: Vec<Vec<&Edge>> = Vec::new();
    if let Some(internet) = graph.find(&Node::internet()) {
        for first in graph.out_edges(internet) {
            // Entry point → (Service →) workload, through exposure edges only.
            let mut prefixes: Vec<Vec<&Edge>> = vec![vec![first]];
            let mut done = Vec::new();
            while let Some(prefix) = prefixes.pop() {
                let last = prefix.last().expect("prefixes are never empty").to;
                if matches!(graph.nodes()[last].kind, NodeKind::Workload(_)) {
                    done.push(prefix);
                    continue;
                }
                for e in graph.out_edges(last) {
                    if matches!(e.kind, EdgeKind::RoutesTo | EdgeKind::Exposes) {
                        let mut p = prefix.clone();
                        p.push(e);
                        prefixes.push(p);
                    }
                }
            }
            done.sort_by_key(|p| p.last().map(|e| e.to));
            for mut prefix in done {
                let last = prefix.last().expect("prefixes are never empty").to;
                if let Some(rest) = to_admin(last) {
                    prefix.extend(rest);
                    out.push(prefix);
                }
            }
        }
    }
    if options.from == From::Any {
        for (i, n) in graph.nodes().iter().enumerate() {
            if matches!(n.kind, NodeKind::Workload(_))
                && let Some(p) = to_admin(i)
            {
                out.push(p);
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.into_iter()
        .filter(|p| !p.is_empty() && p.len() <= options.max_hops)
        .filter(|p| seen.insert(p.iter().map(|e| (e.from, e.to, e.kind)).collect::<Vec<_>>()))
        .map(|p| to_path(graph, &p))
        .collect()
}

fn to_path(graph: &Graph, edges: &[&Edge]) -> AttackPath {
    let node = |i: usize| graph.nodes()[i].clone();
    let hops: Vec<Hop> = edges
        .iter()
        .map(|e| Hop {
            from: node(e.from),
            to: node(e.to),
            edge: e.kind,
            explanation: e.explanation.clone(),
        })
        .collect();
    let mut key = String::new();
    for h in &hops {
        key.push_str(&format!("{:?}|{}|", h.from, h.edge));
    }
    AttackPath {
        id: format!("{:016x}", fnv1a(key.as_bytes())),
        source: hops[0].from.clone(),
        target: hops[hops.len() - 1].to.clone(),
        length: hops.len(),
        hops,
    }
}

/// FNV-1a: a stable (unlike `DefaultHasher`) 64-bit hash for path ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
