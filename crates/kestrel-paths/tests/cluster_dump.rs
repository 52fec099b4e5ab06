//! The planted attack paths of the recorded cluster dump (see
//! `crates/kestrel-k8s/testdata/k8s-api/README.md`) are found.

use kestrel_paths::{EdgeKind, From, NodeKind, Options, analyze};

fn dump() -> kestrel_k8s::Inventory {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kestrel-k8s/testdata/k8s-api/cluster-dump.json");
    let mut inv = kestrel_k8s::Inventory::new();
    kestrel_k8s::load::load_path(&mut inv, &path).expect("the recorded dump loads");
    inv
}

/// Each path as `source: edge target, edge target, ...`.
fn summaries(from: From) -> Vec<String> {
    let report = analyze(&dump(), &Options { from, max_hops: 10 });
    report
        .paths
        .iter()
        .map(|p| {
            let hops: Vec<String> = p
                .hops
                .iter()
                .map(|h| format!("{} {}", h.edge, h.to))
                .collect();
            format!("{}: {}", p.source, hops.join(", "))
        })
        .collect()
}

#[test]
fn internet_reaches_cluster_admin_through_web_and_ci_deployer() {
    let got = summaries(From::Internet);
    let via_lb = "the Internet: reachable_from_internet Service shop-prod/web, exposes Deployment shop-prod/web, runs_as ServiceAccount shop-prod/web, can_create_pods ServiceAccount shop-prod/ci-deployer, is_cluster_admin_equivalent cluster admin";
    let via_ingress = "the Internet: reachable_from_internet Ingress shop-prod/web, routes_to Service shop-prod/web, exposes Deployment shop-prod/web, runs_as ServiceAccount shop-prod/web, can_create_pods ServiceAccount shop-prod/ci-deployer, is_cluster_admin_equivalent cluster admin";
    assert!(got.iter().any(|p| p == via_lb), "{got:#?}");
    assert!(got.iter().any(|p| p == via_ingress), "{got:#?}");
    // Only the production web pods are exposed and privileged enough to matter; staging's
    // NodePort Service fronts a pod whose account cannot reach admin.
    assert!(got.iter().all(|p| p.starts_with("the Internet:")));
    assert!(got.iter().all(|p| !p.contains("shop-staging")), "{got:#?}");
}

#[test]
fn privileged_debugger_escapes_to_node_1_and_reads_a_token_there() {
    let got = summaries(From::Any);
    let debugger = got
        .iter()
        .find(|p| p.starts_with("Pod monitoring/node-debugger:"))
        .expect("a path from the privileged hostPID pod");
    assert!(
        debugger.starts_with(
            "Pod monitoring/node-debugger: escapes_to_node Node node-1, node_reads_token ServiceAccount shop-prod/web,"
        ),
        "{debugger}"
    );
    assert!(debugger.ends_with("cluster admin"), "{debugger}");
}

#[test]
fn graph_has_the_planted_edges() {
    let report = analyze(&dump(), &Options::default());
    let g = &report.graph;
    let has = |kind: EdgeKind, from: &str, to: &str| {
        g.edges().iter().any(|e| {
            e.kind == kind
                && g.nodes()[e.from].to_string() == from
                && g.nodes()[e.to].to_string() == to
        })
    };
    assert!(has(
        EdgeKind::ReachableFromInternet,
        "the Internet",
        "Service shop-staging/admin"
    ));
    assert!(has(
        EdgeKind::CanExec,
        "ServiceAccount shop-prod/web",
        "Deployment shop-prod/web"
    ));
    assert!(has(
        EdgeKind::IsClusterAdminEquivalent,
        "ServiceAccount shop-prod/ci-deployer",
        "cluster admin"
    ));
    // nodes/proxy `get` is exec through the kubelet API: root-equivalent on the node.
    assert!(has(
        EdgeKind::CanProxyToNode,
        "ServiceAccount monitoring/agent",
        "Node node-1"
    ));
    // ...but it is not cluster admin by itself.
    assert!(!has(
        EdgeKind::IsClusterAdminEquivalent,
        "ServiceAccount monitoring/agent",
        "cluster admin"
    ));
    assert!(
        g.nodes()
            .iter()
            .filter(|n| n.kind == NodeKind::Node)
            .all(|n| n.name == "node-1")
    );
}
