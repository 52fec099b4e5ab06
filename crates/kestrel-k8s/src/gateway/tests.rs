//! Attachment and exposure on the Gateway API specification's own examples (the
//! multiple-namespace, TCP routing, gRPC routing and ReferenceGrant guides of
//! gateway-api.sigs.k8s.io), with the namespaces and Services they refer to.

use super::*;

/// The "Multiple namespaces" guide: a shared Gateway in `infra-ns` admits routes from
/// namespaces labelled `shared-gateway-access: "true"`.
const SHARED: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: infra-ns
  labels:
    shared-gateway-access: "true"
---
apiVersion: v1
kind: Namespace
metadata:
  name: site-ns
  labels:
    shared-gateway-access: "true"
---
apiVersion: v1
kind: Namespace
metadata:
  name: store-ns
  labels:
    shared-gateway-access: "true"
---
apiVersion: v1
kind: Namespace
metadata:
  name: no-external-access
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: shared-gateway
  namespace: infra-ns
spec:
  gatewayClassName: shared-gateway-class
  listeners:
  - name: https
    hostname: "foo.example.com"
    protocol: HTTPS
    port: 443
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            shared-gateway-access: "true"
    tls:
      certificateRefs:
      - name: foo-example-com
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: home
  namespace: site-ns
spec:
  parentRefs:
  - name: shared-gateway
    namespace: infra-ns
  rules:
  - backendRefs:
    - name: home
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: store
  namespace: store-ns
spec:
  parentRefs:
  - name: shared-gateway
    namespace: infra-ns
  rules:
  - matches:
    - path:
        value: /store
    backendRefs:
    - name: store
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: hidden
  namespace: no-external-access
spec:
  parentRefs:
  - name: shared-gateway
    namespace: infra-ns
  rules:
  - backendRefs:
    - name: hidden
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bar
  namespace: site-ns
spec:
  parentRefs:
  - name: shared-gateway
    namespace: infra-ns
  hostnames: ["bar.example.com"]
  rules:
  - backendRefs:
    - name: bar
      port: 8080
"#;

/// The "TCP routing" and "gRPC routing" guides (v1alpha2 and v1 shapes), a TLS passthrough
/// listener, and an internal Gateway.
const PROTOCOLS: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: my-tcp-gateway
spec:
  gatewayClassName: my-tcp-gateway-class
  listeners:
  - name: foo
    protocol: TCP
    port: 8080
    allowedRoutes:
      kinds:
      - kind: TCPRoute
  - name: bar
    protocol: TCP
    port: 8090
    allowedRoutes:
      kinds:
      - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-app-1
spec:
  parentRefs:
  - name: my-tcp-gateway
    sectionName: foo
  rules:
  - backendRefs:
    - name: my-foo-service
      port: 6000
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: my-grpc-gateway
  annotations:
    networking.gke.io/load-balancer-type: Internal
spec:
  gatewayClassName: my-grpc-gateway-class
  listeners:
  - name: grpc
    protocol: HTTPS
    port: 50051
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: grpc-app-1
spec:
  parentRefs:
  - name: my-grpc-gateway
  hostnames:
  - "example.com"
  rules:
  - matches:
    - method:
        service: com.example.User
        method: Login
    backendRefs:
    - name: my-grpc-service
      port: 50051
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tls-passthrough
spec:
  gatewayClassName: example
  listeners:
  - name: tls
    protocol: TLS
    hostname: "*.example.com"
    port: 443
    tls:
      mode: Passthrough
status:
  addresses:
  - type: IPAddress
    value: 203.0.113.10
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata:
  name: tls-app
spec:
  parentRefs:
  - name: tls-passthrough
  hostnames: ["secure.example.com"]
  rules:
  - backendRefs:
    - name: tls-backend
      port: 443
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: private-vip
spec:
  gatewayClassName: example
  listeners:
  - name: http
    protocol: HTTP
    port: 80
status:
  addresses:
  - value: 10.0.4.7
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: via-private
spec:
  parentRefs:
  - name: private-vip
  # An HTTPRoute cannot attach to a TCP listener: the port-8080 TCP listener ignores it.
  - name: my-tcp-gateway
    sectionName: foo
  rules:
  - backendRefs:
    - name: my-foo-service
      port: 6000
"#;

/// The "ReferenceGrant" guide: an HTTPRoute in `foo` routes to a Service in `bar`, which
/// only counts once `bar` grants it.
const GRANT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: foo
spec:
  gatewayClassName: example
  listeners:
  - name: http
    protocol: HTTP
    port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: foo
  namespace: foo
spec:
  parentRefs:
  - name: gw
  rules:
  - matches:
    - path:
        value: /bar
    backendRefs:
    - name: bar
      namespace: bar
      port: 8080
"#;

const REFERENCE_GRANT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: bar
  namespace: bar
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: foo
  to:
  - group: ""
    kind: Service
"#;

fn load(texts: &[&str]) -> Inventory {
    let mut inv = Inventory::new();
    for (i, t) in texts.iter().enumerate() {
        crate::load::load_str(&mut inv, t, &format!("doc{i}.yaml")).unwrap();
    }
    assert!(inv.ignored.is_empty(), "{:?}", inv.ignored);
    inv
}

/// One line per exposure: `port gateway listener kind route internet`.
fn check(inv: &Inventory, namespace: &str, service: &str, expected: &[&str]) {
    let got: Vec<String> = service_exposures(inv, namespace, service)
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {} {}",
                e.port,
                e.gateway,
                e.listener,
                e.route_kind,
                e.route,
                if e.internet { "internet" } else { "internal" }
            )
        })
        .collect();
    assert_eq!(got, expected, "{namespace}/{service}");
}

#[test]
fn shared_gateway_admits_selected_namespaces() {
    let inv = load(&[SHARED]);
    check(
        &inv,
        "store-ns",
        "store",
        &["443 infra-ns/shared-gateway https HTTPRoute store-ns/store internet"],
    );
    check(
        &inv,
        "site-ns",
        "home",
        &["443 infra-ns/shared-gateway https HTTPRoute site-ns/home internet"],
    );
    // The namespace lacks the label the listener selects on.
    check(&inv, "no-external-access", "hidden", &[]);
    // bar.example.com never matches the listener's foo.example.com.
    check(&inv, "site-ns", "bar", &[]);
    // A Service the routes do not name, and a name in another namespace.
    check(&inv, "site-ns", "store", &[]);
}

#[test]
fn selector_without_namespace_objects_uses_the_name_label() {
    // Only the Gateway and routes, no Namespace objects: `kubernetes.io/metadata.name` is
    // still known, the custom label is not.
    let text = SHARED
        .split("---")
        .filter(|d| !d.contains("kind: Namespace"))
        .collect::<Vec<_>>()
        .join("---");
    let inv = load(&[&text]);
    check(&inv, "store-ns", "store", &[]);
    let by_name = text.replace(
        "shared-gateway-access: \"true\"\n    tls",
        "kubernetes.io/metadata.name: store-ns\n    tls",
    );
    let inv = load(&[&by_name]);
    check(
        &inv,
        "store-ns",
        "store",
        &["443 infra-ns/shared-gateway https HTTPRoute store-ns/store internet"],
    );
}

#[test]
fn route_kinds_listeners_and_internal_gateways() {
    let inv = load(&[PROTOCOLS]);
    // sectionName: only the `foo` listener, and an HTTPRoute is not a TCPRoute.
    check(
        &inv,
        "default",
        "my-foo-service",
        &[
            "8080 default/my-tcp-gateway foo TCPRoute default/tcp-app-1 internet",
            "80 default/private-vip http HTTPRoute default/via-private internal",
        ],
    );
    check(
        &inv,
        "default",
        "my-grpc-service",
        &["50051 default/my-grpc-gateway grpc GRPCRoute default/grpc-app-1 internal"],
    );
    check(
        &inv,
        "default",
        "tls-backend",
        &["443 default/tls-passthrough tls TLSRoute default/tls-app internet"],
    );
    let counts = inv.gateway_api.counts();
    assert_eq!(counts[&GatewayKind::Gateway], 4);
    assert_eq!(counts[&GatewayKind::HTTPRoute], 1);
    assert_eq!(counts[&GatewayKind::TCPRoute], 1);
}

#[test]
fn cross_namespace_backends_need_a_reference_grant() {
    let inv = load(&[GRANT]);
    check(&inv, "bar", "bar", &[]);
    let inv = load(&[GRANT, REFERENCE_GRANT]);
    check(
        &inv,
        "bar",
        "bar",
        &["80 foo/gw http HTTPRoute foo/foo internet"],
    );
}

#[test]
fn internal_evidence() {
    let gw = |extra: &str| -> Gateway {
        let text = format!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n{extra}");
        let v: Value = serde_norway::from_str(&text).unwrap();
        serde_json::from_value(v).unwrap()
    };
    for (extra, internal) in [
        ("spec: {gatewayClassName: istio}", false),
        ("spec: {gatewayClassName: gke-l7-rilb}", true),
        (
            "spec: {gatewayClassName: gke-l7-global-external-managed}",
            false,
        ),
        (
            "spec:\n  gatewayClassName: eg\n  infrastructure:\n    annotations:\n      service.beta.kubernetes.io/aws-load-balancer-scheme: internal",
            true,
        ),
        (
            "spec:\n  gatewayClassName: eg\n  addresses: [{type: IPAddress, value: 192.168.1.5}]",
            true,
        ),
        (
            "spec:\n  gatewayClassName: eg\nstatus:\n  addresses: [{type: Hostname, value: lb.example.com}]",
            false,
        ),
        (
            "spec:\n  gatewayClassName: eg\nstatus:\n  addresses: [{value: 10.0.0.1}, {value: 198.51.100.7}]",
            false,
        ),
        (
            "metadata:\n  name: g\n  annotations: {kestrel.dev/exposure: internet}\nspec: {gatewayClassName: gke-l7-rilb}",
            false,
        ),
    ] {
        let extra = if extra.starts_with("metadata") {
            extra.to_owned()
        } else {
            format!("metadata: {{name: g}}\n{extra}")
        };
        assert_eq!(gw(&extra).is_internal(), internal, "{extra}");
    }
}

#[test]
fn hostname_intersection() {
    for (a, b, yes) in [
        ("foo.example.com", "foo.example.com", true),
        ("*.example.com", "foo.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false),
        ("foo.example.com", "*.example.com", true),
        ("foo.example.com", "bar.example.com", false),
        ("*.example.com", "*.example.com", true),
    ] {
        assert_eq!(hostnames_intersect(a, b), yes, "{a} {b}");
    }
}

#[test]
fn bad_shape_names_the_object() {
    let mut inv = Inventory::new();
    let e = crate::load::load_str(
        &mut inv,
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{namespace: x}]}\n",
        "bad.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("bad.yaml") && e.contains("HTTPRoute \"r\""),
        "{e}"
    );
}
