use expect_test::{Expect, expect};

use crate::{From, Options, analyze, output};

/// Loads `manifests`, finds the paths from the Internet and from every workload, and compares
/// the table with `expected`.
fn check(manifests: &str, expected: Expect) {
    let mut inv = kestrel_k8s::Inventory::new();
    kestrel_k8s::load::load_str(&mut inv, manifests, "test.yaml").expect("valid manifests");
    let report = analyze(
        &inv,
        &Options {
            from: From::Any,
            max_hops: 10,
        },
    );
    expected.assert_eq(&output::to_table(&report));
}

/// A LoadBalancer in front of `shop/web`, whose account may create pods in `shop`, where
/// `shop/deployer` is bound to cluster-admin.
const EXPOSED_CREATOR: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web-lb, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: shop/web:1.0}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
AUTOMOUNT
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-creator, namespace: shop}
rules:
- {apiGroups: [""], resources: [pods], verbs: [create, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-creates-pods, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-creator}
subjects: [{kind: ServiceAccount, name: web, namespace: shop}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: deployer-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: deployer, namespace: shop}]
"#;

#[test]
fn exposed_pod_that_can_create_pods_reaches_cluster_admin() {
    check(
        &EXPOSED_CREATOR.replace("AUTOMOUNT", ""),
        expect![[r#"
            PATH 1 [c6a8fa3375fda32e] the Internet → cluster admin (5 hops)
              1. [reachable_from_internet] Service shop/web-lb (LoadBalancer, port 443) is reachable from the Internet
              2. [exposes] Service shop/web-lb (LoadBalancer, port 443) exposes the pods of Deployment shop/web (selector app=web)
              3. [runs_as] Deployment shop/web mounts the token of ServiceAccount shop/web (automountServiceAccountToken is not set)
              4. [can_create_pods] ServiceAccount shop/web can create pods in namespace shop (RoleBinding shop/web-creates-pods → Role shop/pod-creator) and run them as ServiceAccount shop/deployer
              5. [is_cluster_admin_equivalent] ServiceAccount shop/deployer holds * on * cluster-wide through ClusterRoleBinding/deployer-admin (ClusterRole/cluster-admin)

            PATH 2 [024eec633a5e3c7a] Deployment shop/web → cluster admin (3 hops)
              1. [runs_as] Deployment shop/web mounts the token of ServiceAccount shop/web (automountServiceAccountToken is not set)
              2. [can_create_pods] ServiceAccount shop/web can create pods in namespace shop (RoleBinding shop/web-creates-pods → Role shop/pod-creator) and run them as ServiceAccount shop/deployer
              3. [is_cluster_admin_equivalent] ServiceAccount shop/deployer holds * on * cluster-wide through ClusterRoleBinding/deployer-admin (ClusterRole/cluster-admin)

            2 attack paths to cluster admin (7 nodes, 6 edges in the graph)
        "#]],
    );
}

#[test]
fn token_not_automounted_means_no_path() {
    check(
        &EXPOSED_CREATOR.replace("AUTOMOUNT", "automountServiceAccountToken: false"),
        expect![[r#"
            0 attack paths to cluster admin (6 nodes, 4 edges in the graph)
        "#]],
    );
}

#[test]
fn privileged_pod_reads_admin_token_on_its_node_only() {
    check(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: debugger, namespace: ops}
spec:
  nodeName: node-1
  containers: [{name: sh, image: busybox, securityContext: {privileged: true}}]
---
apiVersion: v1
kind: Pod
metadata: {name: operator, namespace: ops}
spec:
  nodeName: node-1
  serviceAccountName: operator
  containers: [{name: op, image: ops/operator:2}]
---
apiVersion: v1
kind: Pod
metadata: {name: sock, namespace: ops}
spec:
  nodeName: node-2
  containers:
  - name: c
    image: docker:cli
    volumeMounts: [{name: sock, mountPath: /var/run/docker.sock}]
  volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: operator-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: operator, namespace: ops}]
"#,
        expect![[r#"
            PATH 1 [284a41b3494ffad4] Pod ops/debugger → cluster admin (3 hops)
              1. [escapes_to_node] container sh of Pod ops/debugger is privileged (spec.containers[0].securityContext.privileged) and can take over the node (Node node-1)
              2. [node_reads_token] root on Node node-1 can read the token of ServiceAccount ops/operator mounted by Pod ops/operator
              3. [is_cluster_admin_equivalent] ServiceAccount ops/operator holds * on * cluster-wide through ClusterRoleBinding/operator-admin (ClusterRole/cluster-admin)

            PATH 2 [99f3fe2a60259b77] Pod ops/operator → cluster admin (2 hops)
              1. [runs_as] Pod ops/operator mounts the token of ServiceAccount ops/operator (automountServiceAccountToken is not set)
              2. [is_cluster_admin_equivalent] ServiceAccount ops/operator holds * on * cluster-wide through ClusterRoleBinding/operator-admin (ClusterRole/cluster-admin)

            2 attack paths to cluster admin (9 nodes, 9 edges in the graph)
        "#]],
    );
}

#[test]
fn role_binding_to_read_secrets_in_kube_system() {
    check(
        r#"
apiVersion: v1
kind: Service
metadata: {name: api, namespace: app}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{port: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: app, labels: {app: api}}
spec:
  serviceAccountName: api
  containers: [{name: api, image: app/api:3}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: kube-system}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: api-reads-secrets, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects: [{kind: ServiceAccount, name: api, namespace: app}]
---
apiVersion: v1
kind: Secret
metadata:
  name: admin-token
  namespace: kube-system
  annotations: {kubernetes.io/service-account.name: admin}
type: kubernetes.io/service-account-token
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin-is-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: admin, namespace: kube-system}]
"#,
        expect![[r#"
            PATH 1 [ef9124dd252472a4] the Internet → cluster admin (6 hops)
              1. [reachable_from_internet] Service app/api (NodePort, port 8080 (node port 30080)) is reachable from the Internet
              2. [exposes] Service app/api (NodePort, port 8080 (node port 30080)) exposes the pods of Pod app/api (selector app=api)
              3. [runs_as] Pod app/api mounts the token of ServiceAccount app/api (automountServiceAccountToken is not set)
              4. [can_read_secrets] ServiceAccount app/api can get secrets in namespace kube-system (RoleBinding kube-system/api-reads-secrets → Role kube-system/secret-reader) including Secret kube-system/admin-token
              5. [holds_token] Secret kube-system/admin-token holds a long-lived token of ServiceAccount kube-system/admin
              6. [is_cluster_admin_equivalent] ServiceAccount kube-system/admin holds * on * cluster-wide through ClusterRoleBinding/admin-is-admin (ClusterRole/cluster-admin)

            PATH 2 [5bc0e1c2a02e1174] Pod app/api → cluster admin (4 hops)
              1. [runs_as] Pod app/api mounts the token of ServiceAccount app/api (automountServiceAccountToken is not set)
              2. [can_read_secrets] ServiceAccount app/api can get secrets in namespace kube-system (RoleBinding kube-system/api-reads-secrets → Role kube-system/secret-reader) including Secret kube-system/admin-token
              3. [holds_token] Secret kube-system/admin-token holds a long-lived token of ServiceAccount kube-system/admin
              4. [is_cluster_admin_equivalent] ServiceAccount kube-system/admin holds * on * cluster-wide through ClusterRoleBinding/admin-is-admin (ClusterRole/cluster-admin)

            2 attack paths to cluster admin (8 nodes, 7 edges in the graph)
        "#]],
    );
}

#[test]
fn pod_not_exposed_has_a_pod_path_only() {
    check(
        &EXPOSED_CREATOR
            .replace("AUTOMOUNT", "")
            .replace("type: LoadBalancer", "type: ClusterIP"),
        expect![[r#"
            PATH 1 [024eec633a5e3c7a] Deployment shop/web → cluster admin (3 hops)
              1. [runs_as] Deployment shop/web mounts the token of ServiceAccount shop/web (automountServiceAccountToken is not set)
              2. [can_create_pods] ServiceAccount shop/web can create pods in namespace shop (RoleBinding shop/web-creates-pods → Role shop/pod-creator) and run them as ServiceAccount shop/deployer
              3. [is_cluster_admin_equivalent] ServiceAccount shop/deployer holds * on * cluster-wide through ClusterRoleBinding/deployer-admin (ClusterRole/cluster-admin)

            1 attack path to cluster admin (7 nodes, 5 edges in the graph)
        "#]],
    );
}

#[test]
fn impersonation_and_escalation_are_their_own_edges() {
    check(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec:
  serviceAccountName: impersonator
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x}
spec:
  serviceAccountName: escalator
  containers: [{name: c, image: i}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate}
rules: [{apiGroups: [""], resources: [users, groups], verbs: [impersonate]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: escalate}
rules:
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: imp}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate}
subjects: [{kind: ServiceAccount, name: impersonator, namespace: x}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: esc}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: escalate}
subjects: [{kind: ServiceAccount, name: escalator, namespace: x}]
"#,
        expect![[r#"
            PATH 1 [55bb1d3393517ec9] Pod x/a → cluster admin (2 hops)
              1. [runs_as] Pod x/a mounts the token of ServiceAccount x/impersonator (automountServiceAccountToken is not set)
              2. [can_impersonate] ServiceAccount x/impersonator can impersonate any user or group (system:masters) through ClusterRoleBinding/imp

            PATH 2 [ce19b3514e377f98] Pod x/b → cluster admin (2 hops)
              1. [runs_as] Pod x/b mounts the token of ServiceAccount x/escalator (automountServiceAccountToken is not set)
              2. [can_escalate] ServiceAccount x/escalator can bind/escalate ClusterRoles (ClusterRoleBinding/esc) and write ClusterRoleBindings or ClusterRoles (ClusterRoleBinding/esc): can grant itself cluster-admin

            2 attack paths to cluster admin (7 nodes, 6 edges in the graph)
        "#]],
    );
}

#[test]
fn max_hops_leaves_out_longer_paths() {
    let mut inv = kestrel_k8s::Inventory::new();
    kestrel_k8s::load::load_str(
        &mut inv,
        &EXPOSED_CREATOR.replace("AUTOMOUNT", ""),
        "t.yaml",
    )
    .expect("valid manifests");
    let lens = |max_hops| -> Vec<usize> {
        analyze(
            &inv,
            &Options {
                from: From::Any,
                max_hops,
            },
        )
        .paths
        .iter()
        .map(|p| p.length)
        .collect()
    };
    assert_eq!(lens(10), vec![5, 3]);
    assert_eq!(lens(3), vec![3]);
}

#[test]
fn json_and_dot_name_the_path() {
    let mut inv = kestrel_k8s::Inventory::new();
    kestrel_k8s::load::load_str(
        &mut inv,
        &EXPOSED_CREATOR.replace("AUTOMOUNT", ""),
        "t.yaml",
    )
    .expect("valid manifests");
    let report = analyze(&inv, &Options::default());
    let json = serde_json::to_value(output::to_json(&report)).expect("serializable");
    let hop = &json["paths"][0]["hops"][0];
    assert_eq!(
        hop["from"],
        serde_json::json!({"kind": "Internet", "name": "internet"})
    );
    assert_eq!(
        hop["to"],
        serde_json::json!({"kind": "Service", "namespace": "shop", "name": "web-lb"})
    );
    assert_eq!(hop["edge"], "reachable_from_internet");
    assert_eq!(json["paths"][0]["length"], 5);
    assert_eq!(json["nodes"], report.graph.nodes().len());
    let dot = output::to_dot(&report);
    assert!(dot.starts_with("digraph attack_paths {"));
    assert!(
        dot.contains(
            r#"[label="can_create_pods", tooltip="ServiceAccount shop/web can create pods"#
        )
    );
    assert_eq!(
        dot.matches("color=red").count(),
        6 + 5,
        "6 nodes and 5 edges on the path"
    );
}

/// The same pods behind a ClusterIP Service that an HTTPRoute attaches to a public Gateway of
/// another namespace; the Gateway is the entry point. Marked internal, it is none.
const GATEWAY: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: infra, annotations: {EXPOSURE}}
spec:
  gatewayClassName: example
  listeners:
  - {name: https, protocol: HTTPS, port: 443, allowedRoutes: {namespaces: {from: All}}}
  - {name: http, protocol: HTTP, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: infra}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: web, port: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 8080}]
"#;

fn behind_gateway(exposure: &str) -> String {
    let creator = EXPOSED_CREATOR.replace("AUTOMOUNT", "");
    // Drop the LoadBalancer (the first document).
    let (_, rest) = creator.split_once("---").unwrap();
    format!("{}---{rest}", GATEWAY.replace("EXPOSURE", exposure))
}

#[test]
fn public_gateway_route_is_an_entry_point() {
    check(
        &behind_gateway(""),
        expect![[r#"
            PATH 1 [b5bf4e1b8754a001] the Internet → cluster admin (6 hops)
              1. [reachable_from_internet] Gateway infra/public (listener https on port 443) is reachable from the Internet
              2. [routes_to] Gateway infra/public routes requests to Service shop/web through HTTPRoute shop/shop, host shop.example.com
              3. [exposes] Service shop/web (ClusterIP, port 8080) exposes the pods of Deployment shop/web (selector app=web)
              4. [runs_as] Deployment shop/web mounts the token of ServiceAccount shop/web (automountServiceAccountToken is not set)
              5. [can_create_pods] ServiceAccount shop/web can create pods in namespace shop (RoleBinding shop/web-creates-pods → Role shop/pod-creator) and run them as ServiceAccount shop/deployer
              6. [is_cluster_admin_equivalent] ServiceAccount shop/deployer holds * on * cluster-wide through ClusterRoleBinding/deployer-admin (ClusterRole/cluster-admin)

            PATH 2 [024eec633a5e3c7a] Deployment shop/web → cluster admin (3 hops)
              1. [runs_as] Deployment shop/web mounts the token of ServiceAccount shop/web (automountServiceAccountToken is not set)
              2. [can_create_pods] ServiceAccount shop/web can create pods in namespace shop (RoleBinding shop/web-creates-pods → Role shop/pod-creator) and run them as ServiceAccount shop/deployer
              3. [is_cluster_admin_equivalent] ServiceAccount shop/deployer holds * on * cluster-wide through ClusterRoleBinding/deployer-admin (ClusterRole/cluster-admin)

            2 attack paths to cluster admin (8 nodes, 7 edges in the graph)
        "#]],
    );
}

#[test]
fn internal_gateway_is_no_entry_point() {
    check(
        &behind_gateway("kestrel.dev/exposure: internal"),
        expect![[r#"
            PATH 1 [024eec633a5e3c7a] Deployment shop/web → cluster admin (3 hops)
              1. [runs_as] Deployment shop/web mounts the token of ServiceAccount shop/web (automountServiceAccountToken is not set)
              2. [can_create_pods] ServiceAccount shop/web can create pods in namespace shop (RoleBinding shop/web-creates-pods → Role shop/pod-creator) and run them as ServiceAccount shop/deployer
              3. [is_cluster_admin_equivalent] ServiceAccount shop/deployer holds * on * cluster-wide through ClusterRoleBinding/deployer-admin (ClusterRole/cluster-admin)

            1 attack path to cluster admin (7 nodes, 5 edges in the graph)
        "#]],
    );
}
