//! Building the attack graph from the inventory.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use kestrel_k8s::pod::{EffectiveContainer, EffectivePod, SettingSource, workloads};
use kestrel_k8s::rbac::{Grant, Rbac, Scope, Subject};
use kestrel_k8s::{Inventory, ObjectRef};

use crate::graph::{ANY_NODE, EdgeKind, Graph, Node, NodeKind};

/// Host paths whose mount gives control of the node: its root file system, its credentials or
/// the container runtime's API (which starts privileged containers on request).
const DANGEROUS_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/root",
    "/proc",
    "/var/lib/kubelet",
    "/var/run",
    "/run",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd",
    "/run/containerd",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
];

/// Capabilities that let a container break out to the host on their own.
const ESCAPE_CAPABILITIES: &[&str] = &["SYS_ADMIN", "SYS_MODULE", "ALL"];

/// Ways to run code as another account of a namespace by creating something, in the order
/// they are reported: (verb, group, resource).
const CREATE_WORKLOAD: &[(&str, &str, &str)] = &[
    ("create", "", "pods"),
    ("create", "apps", "deployments"),
    ("create", "apps", "daemonsets"),
    ("create", "apps", "statefulsets"),
    ("create", "apps", "replicasets"),
    ("create", "batch", "jobs"),
    ("create", "batch", "cronjobs"),
    ("create", "", "replicationcontrollers"),
];

/// Builds the attack graph of `inv`.
pub fn build(inv: &Inventory) -> Graph {
    let mut g = Graph::new();
    g.node(Node::internet());
    g.node(Node::cluster_admin());
    let pods = workloads(inv);
    let hosts = host_names(inv, &pods);
    expose(inv, &pods, &mut g);
    for p in &pods {
        workload_edges(p, &hosts, &mut g);
    }
    rbac_edges(inv, &pods, &hosts, &mut g);
    g
}

fn workload_node(p: &EffectivePod<'_>) -> Node {
    Node::new(
        NodeKind::Workload(p.object.kind),
        p.object.namespace.as_deref(),
        &p.object.name,
    )
}

fn ns_of<'p>(p: &'p EffectivePod<'_>) -> &'p str {
    p.object.namespace.as_deref().unwrap_or("default")
}

/// The nodes a workload's pods may run on: the one `spec.nodeName` names, else every node.
fn placement<'h>(p: &EffectivePod<'_>, hosts: &'h [String]) -> Vec<&'h str> {
    match p.spec.node_name.as_deref() {
        Some(n) => hosts
            .iter()
            .filter(|h| h.as_str() == n)
            .map(String::as_str)
            .collect(),
        None => hosts.iter().map(String::as_str).collect(),
    }
}

/// Node names from the Node objects and the pods' `spec.nodeName`; the stand-in `*` when the
/// input names none (plain manifests), so that escapes still lead somewhere.
fn host_names(inv: &Inventory, pods: &[EffectivePod<'_>]) -> Vec<String> {
    let mut names: BTreeSet<String> = inv
        .nodes
        .iter()
        .filter_map(|n| n.object.metadata.name.clone())
        .collect();
    names.extend(pods.iter().filter_map(|p| p.spec.node_name.clone()));
    if names.is_empty() {
        names.insert(ANY_NODE.to_owned());
    }
    names.into_iter().collect()
}

fn service_ports(svc: &Service) -> String {
    let ports: Vec<String> = svc
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .map(|p| match p.node_port {
            Some(np) => format!("{} (node port {np})", p.port),
            None => p.port.to_string(),
        })
        .collect();
    match ports.len() {
        0 => "no ports".to_owned(),
        1 => format!("port {}", ports[0]),
        _ => format!("ports {}", ports.join(", ")),
    }
}

/// Internet → LoadBalancer/NodePort Service, Ingress or Gateway → Service → workload.
fn expose(inv: &Inventory, pods: &[EffectivePod<'_>], g: &mut Graph) {
    for l in &inv.services {
        let svc = &l.object;
        let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let Some(spec) = &svc.spec else { continue };
        let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let node = Node::new(NodeKind::Service, Some(ns), name);
        let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
        if matches!(ty, "LoadBalancer" | "NodePort") {
            g.edge(
                Node::internet(),
                node.clone(),
                EdgeKind::ReachableFromInternet,
                format!(
                    "Service {ns}/{name} ({ty}, {}) is reachable from the Internet",
                    service_ports(svc)
                ),
            );
        }
        let sel: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for p in pods.iter().filter(|p| ns_of(p) == ns) {
            if selector.iter().all(|(k, v)| p.pod_labels.get(k) == Some(v)) {
                g.edge(
                    node.clone(),
                    workload_node(p),
                    EdgeKind::Exposes,
                    format!(
                        "Service {ns}/{name} ({ty}, {}) exposes the pods of {} {ns}/{} (selector {})",
                        service_ports(svc),
                        p.object.kind,
                        p.object.name,
                        sel.join(",")
                    ),
                );
            }
        }
    }
    for l in &inv.ingresses {
        let ing = &l.object;
        let ns = ing.metadata.namespace.as_deref().unwrap_or("default");
        let name = ing.metadata.name.as_deref().unwrap_or_default();
        let Some(spec) = &ing.spec else { continue };
        let node = Node::new(NodeKind::Ingress, Some(ns), name);
        let mut backends: Vec<String> = Vec::new();
        let mut hosts: Vec<String> = Vec::new();
        let mut push = |b: &k8s_openapi::api::networking::v1::IngressBackend| {
            if let Some(s) = &b.service {
                backends.push(s.name.clone());
            }
        };
        if let Some(b) = &spec.default_backend {
            push(b);
        }
        for r in spec.rules.iter().flatten() {
            for p in r.http.iter().flat_map(|h| h.paths.iter()) {
                push(&p.backend);
            }
            if let Some(h) = &r.host {
                hosts.push(h.clone());
            }
        }
        if backends.is_empty() {
            continue;
        }
        let hosts = if hosts.is_empty() {
            "any host".to_owned()
        } else {
            format!("host {}", hosts.join(", "))
        };
        g.edge(
            Node::internet(),
            node.clone(),
            EdgeKind::ReachableFromInternet,
            format!("Ingress {ns}/{name} ({hosts}) is reachable from the Internet"),
        );
        backends.dedup();
        for svc in backends {
            let target = Node::new(NodeKind::Service, Some(ns), &svc);
            // Only Services that exist and select pods lead anywhere; a dangling backend is
            // a posture problem, not a path.
            if g.find(&target).is_some() {
                g.edge(
                    node.clone(),
                    target,
                    EdgeKind::RoutesTo,
                    format!("Ingress {ns}/{name} routes requests to Service {ns}/{svc}"),
                );
            }
        }
    }
    gateways(inv, g);
}

/// Internet → Gateway → Service, through the routes attached to the Gateway's listeners (the
/// attachment rules are `kestrel_k8s::gateway`'s). A Gateway marked internal (annotations, class
/// or `kestrel.dev/exposure: internal`) is no entry point.
fn gateways(inv: &Inventory, g: &mut Graph) {
    use kestrel_k8s::gateway::{GatewayExposure, NamespacedName, service_exposures};
    use std::collections::{BTreeMap, BTreeSet};
    /// What one Gateway leads to: its listeners that route somewhere, and the Services reached.
    #[derive(Default)]
    struct Reach {
        listeners: BTreeSet<String>,
        routes: Vec<(Node, GatewayExposure)>,
    }
    let mut by_gateway: BTreeMap<NamespacedName, Reach> = BTreeMap::new();
    for l in &inv.services {
        let svc = &l.object;
        let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let target = Node::new(NodeKind::Service, Some(ns), name);
        // As for Ingresses: only a Service that selects pods leads anywhere.
        if g.find(&target).is_none() {
            continue;
        }
        for e in service_exposures(inv, ns, name)
            .into_iter()
            .filter(|e| e.internet)
        {
            let entry = by_gateway.entry(e.gateway.clone()).or_default();
            entry
                .listeners
                .insert(format!("{} on port {}", e.listener, e.port));
            entry.routes.push((target.clone(), e));
        }
    }
    for (gw, Reach { listeners, routes }) in by_gateway {
        let node = Node::new(NodeKind::Gateway, Some(&gw.namespace), &gw.name);
        let listeners: Vec<String> = listeners.into_iter().collect();
        g.edge(
            Node::internet(),
            node.clone(),
            EdgeKind::ReachableFromInternet,
            format!(
                "Gateway {gw} (listener {}) is reachable from the Internet",
                listeners.join(", ")
            ),
        );
        for (target, e) in routes {
            let hosts = if e.hostnames.is_empty() {
                String::new()
            } else {
                format!(", host {}", e.hostnames.join(", "))
            };
            g.edge(
                node.clone(),
                target.clone(),
                EdgeKind::RoutesTo,
                format!(
                    "Gateway {gw} routes requests to {target} through {} {}{hosts}",
                    e.route_kind, e.route
                ),
            );
        }
    }
}

/// Why a container can take over its node, naming the field at fault; `None` if it cannot.
fn escape_reason(p: &EffectivePod<'_>, c: &EffectiveContainer<'_>) -> Option<String> {
    let who = format!(
        "container {} of {} {}/{}",
        c.name,
        p.object.kind,
        ns_of(p),
        p.object.name
    );
    if c.security.privileged.value {
        return Some(format!(
            "{who} is privileged ({}) and can take over the node",
            c.security.privileged.path
        ));
    }
    if p.host_pid() {
        return Some(format!(
            "{who} shares the host PID namespace ({}.hostPID) and can enter the node's processes",
            p.spec_path
        ));
    }
    if let Some(cap) = c
        .security
        .capabilities_add
        .iter()
        .find(|cap| ESCAPE_CAPABILITIES.contains(&cap.as_str()))
    {
        return Some(format!(
            "{who} adds capability {cap} ({}.add) and can break out to the node",
            c.security.capabilities_path
        ));
    }
    if p.host_network()
        && c.security
            .capabilities_add
            .iter()
            .any(|cap| cap == "NET_ADMIN")
    {
        return Some(format!(
            "{who} has hostNetwork with NET_ADMIN ({}.hostNetwork, {}.add) and controls the node's network",
            p.spec_path, c.security.capabilities_path
        ));
    }
    for (vi, v) in p.spec.volumes.iter().flatten().enumerate() {
        let Some(hp) = &v.host_path else { continue };
        let path = hp.path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        if !DANGEROUS_HOST_PATHS.contains(&path) {
            continue;
        }
        if c.volume_mounts.iter().any(|m| m.name == v.name) {
            return Some(format!(
                "{who} mounts host path {} ({}.volumes[{vi}].hostPath) and can take over the node",
                hp.path, p.spec_path
            ));
        }
    }
    None
}

fn workload_edges(p: &EffectivePod<'_>, hosts: &[String], g: &mut Graph) {
    let w = workload_node(p);
    let ns = ns_of(p);
    let sa = &p.service_account;
    let sa_node = Node::service_account(ns, &sa.name);
    if sa.automount.value {
        let why = match sa.automount.source {
            SettingSource::Default => "automountServiceAccountToken is not set".to_owned(),
            _ => format!("{} is true", sa.automount.path),
        };
        g.edge(
            w.clone(),
            sa_node.clone(),
            EdgeKind::RunsAs,
            format!(
                "{} {ns}/{} mounts the token of ServiceAccount {ns}/{} ({why})",
                p.object.kind, p.object.name, sa.name
            ),
        );
        for h in placement(p, hosts) {
            g.edge(
                Node::host(h),
                sa_node.clone(),
                EdgeKind::NodeReadsToken,
                format!(
                    "root on {} can read the token of ServiceAccount {ns}/{} mounted by {} {ns}/{}",
                    Node::host(h),
                    sa.name,
                    p.object.kind,
                    p.object.name
                ),
            );
        }
    } else {
        // Keep the account in the graph: RBAC edges may still lead to it.
        g.node(sa_node);
    }
    if let Some(reason) = p.containers.iter().find_map(|c| escape_reason(p, c)) {
        for h in placement(p, hosts) {
            let target = Node::host(h);
            g.edge(
                w.clone(),
                target.clone(),
                EdgeKind::EscapesToNode,
                format!("{reason} ({target})"),
            );
        }
    }
}

fn grant_label(g: &Grant) -> String {
    format!("{} → {}", label(&g.binding), label(&g.role))
}

fn label(r: &ObjectRef) -> String {
    match &r.namespace {
        Some(ns) => format!("{} {ns}/{}", r.kind, r.name),
        None => format!("{} {}", r.kind, r.name),
    }
}

/// The first grant of `grants` allowing the request, per scope.
fn allowed<'g>(
    grants: &[&'g Grant],
    verb: &str,
    group: &str,
    resource: &str,
) -> BTreeMap<Scope, &'g Grant> {
    let mut out = BTreeMap::new();
    for g in grants {
        if g.allows(verb, group, resource).is_some() {
            out.entry(g.scope.clone()).or_insert(*g);
        }
    }
    out
}

fn rbac_edges(inv: &Inventory, pods: &[EffectivePod<'_>], hosts: &[String], g: &mut Graph) {
    let rbac = Rbac::build(inv);
    // Every account the input mentions: objects, pods' accounts and binding subjects.
    let mut accounts: BTreeSet<(String, String)> = BTreeSet::new();
    for l in &inv.service_accounts {
        let m = &l.object.metadata;
        if let Some(n) = &m.name {
            accounts.insert((
                m.namespace.clone().unwrap_or_else(|| "default".into()),
                n.clone(),
            ));
        }
    }
    for p in pods {
        accounts.insert((ns_of(p).to_owned(), p.service_account.name.clone()));
    }
    for s in rbac.subjects() {
        if let Subject::ServiceAccount { namespace, name } = s {
            accounts.insert((namespace.clone(), name.clone()));
        }
    }
    let mut by_ns: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (ns, n) in &accounts {
        by_ns.entry(ns).or_default().push(n);
    }
    let mut workloads_by_ns: BTreeMap<&str, Vec<&EffectivePod<'_>>> = BTreeMap::new();
    for p in pods {
        workloads_by_ns.entry(ns_of(p)).or_default().push(p);
    }
    // Token Secrets by namespace: (secret name, account name).
    let mut token_secrets: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for l in &inv.secrets {
        let m = &l.object.metadata;
        if l.object.type_.as_deref() != Some("kubernetes.io/service-account-token") {
            continue;
        }
        let (Some(ns), Some(name), Some(sa)) = (
            m.namespace.clone(),
            m.name.clone(),
            m.annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .cloned(),
        ) else {
            continue;
        };
        token_secrets.entry(ns).or_default().push((name, sa));
    }
    let admins = rbac.cluster_admin_equivalent();
    let all_ns: Vec<String> = by_ns
        .keys()
        .chain(workloads_by_ns.keys())
        .map(|s| s.to_string())
        .chain(token_secrets.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let namespaces = |scope: &Scope| -> Vec<String> {
        match scope {
            Scope::Cluster => all_ns.clone(),
            Scope::Namespace(n) => vec![n.clone()],
        }
    };
    for (ns, name) in &accounts {
        let subject = Subject::ServiceAccount {
            namespace: ns.clone(),
            name: name.clone(),
        };
        let me = Node::service_account(ns, name);
        let who = format!("ServiceAccount {ns}/{name}");
        let grants: Vec<&Grant> = rbac.grants_for(&subject).collect();
        // Direct cluster admin: `*` on `*`, impersonation, or bind/escalate plus writing
        // bindings. Chains through other accounts are edges of their own below.
        let direct = admins
            .get(&subject)
            .filter(|p| p.steps.len() == 1)
            .map(|p| (p.steps[0].clone(), subject.to_string()))
            .or_else(|| {
                kestrel_k8s::rbac::implied_groups(&subject)
                    .into_iter()
                    .map(|name| Subject::Group { name })
                    .find_map(|grp| {
                        admins
                            .get(&grp)
                            .filter(|p| p.steps.len() == 1)
                            .map(|p| (p.steps[0].clone(), grp.to_string()))
                    })
            });
        if let Some((step, holder)) = direct {
            let wildcard = grants
                .iter()
                .any(|g| g.scope == Scope::Cluster && g.rules.iter().any(|r| r.is_full_wildcard()));
            let kind = if wildcard {
                EdgeKind::IsClusterAdminEquivalent
            } else if ["users", "groups"]
                .iter()
                .any(|r| rbac.can(&subject, "impersonate", "", r, None).is_some())
            {
                EdgeKind::CanImpersonate
            } else if rbac
                .can(
                    &subject,
                    "bind",
                    "rbac.authorization.k8s.io",
                    "clusterroles",
                    None,
                )
                .or_else(|| {
                    rbac.can(
                        &subject,
                        "escalate",
                        "rbac.authorization.k8s.io",
                        "clusterroles",
                        None,
                    )
                })
                .is_some()
            {
                EdgeKind::CanEscalate
            } else {
                EdgeKind::IsClusterAdminEquivalent
            };
            let via = if holder == subject.to_string() {
                String::new()
            } else {
                format!(" (as a member of {holder})")
            };
            g.edge(
                me.clone(),
                Node::cluster_admin(),
                kind,
                format!("{who}{via} {step}"),
            );
            // Already admin: edges onward from here cannot shorten any path to admin, and
            // for `*` holders they would be an edge to every account and workload.
            continue;
        }
        for (verb, group, res) in CREATE_WORKLOAD {
            for (scope, gr) in allowed(&grants, verb, group, res) {
                for tns in namespaces(&scope) {
                    for target in by_ns.get(tns.as_str()).into_iter().flatten() {
                        g.edge(
                            me.clone(),
                            Node::service_account(&tns, target),
                            EdgeKind::CanCreatePods,
                            format!(
                                "{who} can create {res} in namespace {tns} ({}) and run them as ServiceAccount {tns}/{target}",
                                grant_label(gr)
                            ),
                        );
                    }
                }
            }
        }
        for (scope, gr) in allowed(&grants, "create", "", "serviceaccounts/token") {
            for tns in namespaces(&scope) {
                for target in by_ns.get(tns.as_str()).into_iter().flatten() {
                    g.edge(
                        me.clone(),
                        Node::service_account(&tns, target),
                        EdgeKind::CanCreateTokens,
                        format!(
                            "{who} can create serviceaccounts/token in namespace {tns} ({}) and mint a token for ServiceAccount {tns}/{target}",
                            grant_label(gr)
                        ),
                    );
                }
            }
        }
        for (scope, gr) in allowed(&grants, "create", "", "pods/exec") {
            for tns in namespaces(&scope) {
                for p in workloads_by_ns.get(tns.as_str()).into_iter().flatten() {
                    g.edge(
                        me.clone(),
                        workload_node(p),
                        EdgeKind::CanExec,
                        format!(
                            "{who} can create pods/exec in namespace {tns} ({}) and run commands in the pods of {} {tns}/{}",
                            grant_label(gr),
                            p.object.kind,
                            p.object.name
                        ),
                    );
                }
            }
        }
        // The kubelet authorizes `exec` over its API as `create`/`get nodes/proxy`, a
        // cluster-scoped resource, so only cluster-wide grants count.
        for verb in ["create", "get"] {
            if let Some(gr) = allowed(&grants, verb, "", "nodes/proxy").get(&Scope::Cluster) {
                for h in hosts {
                    g.edge(
                        me.clone(),
                        Node::host(h),
                        EdgeKind::CanProxyToNode,
                        format!(
                            "{who} can {verb} nodes/proxy ({}) and run commands in any container on {} through the kubelet API",
                            grant_label(gr),
                            Node::host(h)
                        ),
                    );
                }
            }
        }
        for verb in ["get", "list"] {
            for (scope, gr) in allowed(&grants, verb, "", "secrets") {
                for tns in namespaces(&scope) {
                    for (secret, _) in token_secrets.get(&tns).into_iter().flatten() {
                        g.edge(
                            me.clone(),
                            Node::new(NodeKind::Secret, Some(&tns), secret),
                            EdgeKind::CanReadSecrets,
                            format!(
                                "{who} can {verb} secrets in namespace {tns} ({}) including Secret {tns}/{secret}",
                                grant_label(gr)
                            ),
                        );
                    }
                }
            }
        }
        for (scope, gr) in allowed(&grants, "impersonate", "", "serviceaccounts") {
            for tns in namespaces(&scope) {
                for target in by_ns.get(tns.as_str()).into_iter().flatten() {
                    g.edge(
                        me.clone(),
                        Node::service_account(&tns, target),
                        EdgeKind::CanImpersonate,
                        format!(
                            "{who} can impersonate ServiceAccount {tns}/{target} ({})",
                            grant_label(gr)
                        ),
                    );
                }
            }
        }
    }
    for (ns, list) in &token_secrets {
        for (secret, sa) in list {
            g.edge(
                Node::new(NodeKind::Secret, Some(ns), secret),
                Node::service_account(ns, sa),
                EdgeKind::HoldsToken,
                format!(
                    "Secret {ns}/{secret} holds a long-lived token of ServiceAccount {ns}/{sa}"
                ),
            );
        }
    }
}
