//! The typed attack graph: who can reach what, and why.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use kestrel_k8s::Kind;
use serde::{Serialize, Serializer};

/// What a graph node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// Anyone on the Internet.
    Internet,
    /// A Service (any type; only LoadBalancer and NodePort ones are reachable from the Internet).
    Service,
    Ingress,
    /// A Gateway API Gateway (only those not marked internal are reachable from the Internet).
    Gateway,
    /// A workload (Deployment, DaemonSet, bare Pod...): its pods.
    Workload(Kind),
    ServiceAccount,
    /// A cluster node (the host), or `*` when the input names no nodes.
    Node,
    /// A Secret holding a long-lived ServiceAccount token.
    Secret,
    /// Full control of the cluster.
    ClusterAdmin,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Internet => "Internet",
            NodeKind::Service => "Service",
            NodeKind::Ingress => "Ingress",
            NodeKind::Gateway => "Gateway",
            NodeKind::Workload(k) => k.as_str(),
            NodeKind::ServiceAccount => "ServiceAccount",
            NodeKind::Node => "Node",
            NodeKind::Secret => "Secret",
            NodeKind::ClusterAdmin => "ClusterAdmin",
        }
    }
}

impl Serialize for NodeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One node: kind, namespace (for namespaced objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Node {
    pub kind: NodeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl Node {
    pub fn new(kind: NodeKind, namespace: Option<&str>, name: &str) -> Node {
        Node {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    pub fn internet() -> Node {
        Node::new(NodeKind::Internet, None, "internet")
    }

    pub fn cluster_admin() -> Node {
        Node::new(NodeKind::ClusterAdmin, None, "cluster-admin")
    }

    pub fn service_account(namespace: &str, name: &str) -> Node {
        Node::new(NodeKind::ServiceAccount, Some(namespace), name)
    }

    pub fn host(name: &str) -> Node {
        Node::new(NodeKind::Node, None, name)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.namespace) {
            (NodeKind::Internet, _) => f.write_str("the Internet"),
            (NodeKind::ClusterAdmin, _) => f.write_str("cluster admin"),
            (NodeKind::Node, _) if self.name == ANY_NODE => f.write_str("the node it runs on"),
            (k, Some(ns)) => write!(f, "{} {}/{}", k.as_str(), ns, self.name),
            (k, None) => write!(f, "{} {}", k.as_str(), self.name),
        }
    }
}

/// The name of the stand-in node used when the input says nothing about nodes (manifests).
pub const ANY_NODE: &str = "*";

/// Why one node leads to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The Internet reaches a LoadBalancer or NodePort Service, an Ingress or a Gateway.
    ReachableFromInternet,
    /// An Ingress, or a Gateway through an attached route, sends traffic to a Service.
    RoutesTo,
    /// A Service selects the pods of a workload.
    Exposes,
    /// A workload's pods have their ServiceAccount token mounted.
    RunsAs,
    /// A container can take over the node it runs on.
    EscapesToNode,
    /// Root on a node reads the tokens mounted by the pods on it.
    NodeReadsToken,
    /// Creating pods (or a controller of pods) in a namespace runs code as any of its accounts.
    CanCreatePods,
    /// `create serviceaccounts/token` mints a token for an account.
    CanCreateTokens,
    /// `create pods/exec` runs commands in a namespace's existing pods.
    CanExec,
    /// `create`/`get nodes/proxy` runs commands in every container of a node through the
    /// kubelet API, which is as good as root on the node for token theft.
    CanProxyToNode,
    /// `get`/`list secrets` reads a token Secret.
    CanReadSecrets,
    /// A token Secret holds an account's token.
    HoldsToken,
    /// Impersonating users or groups (`system:masters`) cluster-wide.
    CanImpersonate,
    /// `bind`/`escalate` ClusterRoles plus writing bindings: can grant itself anything.
    CanEscalate,
    /// Holds `*` on `*` cluster-wide.
    IsClusterAdminEquivalent,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::ReachableFromInternet => "reachable_from_internet",
            EdgeKind::RoutesTo => "routes_to",
            EdgeKind::Exposes => "exposes",
            EdgeKind::RunsAs => "runs_as",
            EdgeKind::EscapesToNode => "escapes_to_node",
            EdgeKind::NodeReadsToken => "node_reads_token",
            EdgeKind::CanCreatePods => "can_create_pods",
            EdgeKind::CanCreateTokens => "can_create_tokens",
            EdgeKind::CanExec => "can_exec",
            EdgeKind::CanProxyToNode => "can_proxy_to_node",
            EdgeKind::CanReadSecrets => "can_read_secrets",
            EdgeKind::HoldsToken => "holds_token",
            EdgeKind::CanImpersonate => "can_impersonate",
            EdgeKind::CanEscalate => "can_escalate",
            EdgeKind::IsClusterAdminEquivalent => "is_cluster_admin_equivalent",
        }
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One edge, with the sentence that justifies it (naming the objects and fields involved).
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub explanation: String,
}

/// Nodes and edges, with edges indexed by their source. Nodes and edges keep insertion order,
/// which the builder makes deterministic, so output is stable from run to run.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    index: HashMap<Node, usize>,
    edges: Vec<Edge>,
    seen_edges: HashSet<(usize, usize, EdgeKind)>,
    out: Vec<Vec<usize>>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// The id of `node`, adding it if new.
    pub fn node(&mut self, node: Node) -> usize {
        if let Some(&i) = self.index.get(&node) {
            return i;
        }
        let i = self.nodes.len();
        self.index.insert(node.clone(), i);
        self.nodes.push(node);
        self.out.push(Vec::new());
        i
    }

    pub fn find(&self, node: &Node) -> Option<usize> {
        self.index.get(node).copied()
    }

    /// Adds an edge; a second edge of the same kind between the same nodes is dropped (the
    /// first reason found is enough to show the step is possible).
    pub fn edge(&mut self, from: Node, to: Node, kind: EdgeKind, explanation: String) {
        let (from, to) = (self.node(from), self.node(to));
        if from == to || !self.seen_edges.insert((from, to, kind)) {
            return;
        }
        self.out[from].push(self.edges.len());
        self.edges.push(Edge {
            from,
            to,
            kind,
            explanation,
        });
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The edges leaving node `i`.
    pub fn out_edges(&self, i: usize) -> impl Iterator<Item = &Edge> {
        self.out[i].iter().map(|&e| &self.edges[e])
    }

    /// For every node, the first edge of a shortest path to `target` (`None`: unreachable),
    /// by a breadth-first search over reversed edges.
    pub fn next_hop_towards(&self, target: usize) -> Vec<Option<usize>> {
        let mut incoming: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            incoming.entry(e.to).or_default().push(i);
        }
        let mut next = vec![None; self.nodes.len()];
        let mut done = vec![false; self.nodes.len()];
        done[target] = true;
        let mut queue = std::collections::VecDeque::from([target]);
        while let Some(n) = queue.pop_front() {
            for &ei in incoming.get(&n).into_iter().flatten() {
                let from = self.edges[ei].from;
                if !done[from] {
                    done[from] = true;
                    next[from] = Some(ei);
                    queue.push_back(from);
                }
            }
        }
        next
    }
}
