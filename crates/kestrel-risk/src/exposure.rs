//! Exposure routes of a running pod from the Kubernetes objects that select it.
//!
//! A pod is reachable from outside the cluster through a LoadBalancer or NodePort Service whose
//! selector matches its labels, an Ingress whose backend is such a Service (of any type), a
//! Gateway API route to such a Service attached to a Gateway listener (internet-facing unless
//! the Gateway is known to be internal, see `kestrel_k8s::gateway`), or its own `hostNetwork`
//! and `hostPort`s. Services are matched by selector, not by name, because
//! that is how traffic is routed.

use std::collections::BTreeMap;

use kestrel_k8s::Inventory;

use crate::signals::ExposureRoute;

/// The routes from outside the cluster to pod `name` in `namespace`, whose labels are `labels`
/// when the Pod object itself is not in the inventory.
pub fn routes(
    inv: &Inventory,
    namespace: &str,
    name: &str,
    runtime_labels: &BTreeMap<String, String>,
) -> Vec<ExposureRoute> {
    let pod = inv.pods.iter().map(|p| &p.object).find(|p| {
        p.metadata.namespace.as_deref().unwrap_or("default") == namespace
            && p.metadata.name.as_deref() == Some(name)
    });
    let labels = pod
        .and_then(|p| p.metadata.labels.clone())
        .unwrap_or_else(|| runtime_labels.clone());
    let mut out = Vec::new();
    if let Some(spec) = pod.and_then(|p| p.spec.as_ref()) {
        if spec.host_network == Some(true) {
            out.push(ExposureRoute::HostNetwork);
        }
        for c in &spec.containers {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.and_then(|h| u16::try_from(h).ok()) {
                    out.push(ExposureRoute::HostPort { port: hp });
                }
            }
        }
    }
    // Services in the pod's namespace that select it.
    let selecting: Vec<&k8s_openapi::api::core::v1::Service> = inv
        .services
        .iter()
        .map(|s| &s.object)
        .filter(|s| s.metadata.namespace.as_deref().unwrap_or("default") == namespace)
        .filter(|s| {
            s.spec
                .as_ref()
                .and_then(|sp| sp.selector.as_ref())
                .is_some_and(|sel| {
                    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
                })
        })
        .collect();
    for s in &selecting {
        let Some(spec) = &s.spec else { continue };
        let svc = s.metadata.name.clone().unwrap_or_default();
        match spec.type_.as_deref() {
            Some("LoadBalancer") => {
                for p in spec.ports.iter().flatten() {
                    out.push(ExposureRoute::LoadBalancer {
                        service: svc.clone(),
                        port: u16::try_from(p.port).unwrap_or(0),
                    });
                }
            }
            Some("NodePort") => {
                for p in spec.ports.iter().flatten() {
                    out.push(ExposureRoute::NodePort {
                        service: svc.clone(),
                        port: p.node_port.and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
                    });
                }
            }
            _ => {}
        }
    }
    let selecting_names: Vec<String> = selecting
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    for svc in &selecting_names {
        for g in kestrel_k8s::gateway::service_exposures(inv, namespace, svc) {
            out.push(ExposureRoute::Gateway {
                gateway: g.gateway.to_string(),
                port: g.port,
                route_kind: g.route_kind.to_string(),
                route: g.route.to_string(),
                internet: g.internet,
            });
        }
    }
    for ing in inv.ingresses.iter().map(|i| &i.object) {
        if ing.metadata.namespace.as_deref().unwrap_or("default") != namespace {
            continue;
        }
        let Some(spec) = &ing.spec else { continue };
        let mut hits: Vec<String> = Vec::new();
        if let Some(b) = spec
            .default_backend
            .as_ref()
            .and_then(|b| b.service.as_ref())
            && selecting_names.contains(&b.name)
        {
            hits.push("*".to_owned());
        }
        for rule in spec.rules.iter().flatten() {
            let to_pod = rule.http.iter().flat_map(|h| &h.paths).any(|p| {
                p.backend
                    .service
                    .as_ref()
                    .is_some_and(|s| selecting_names.contains(&s.name))
            });
            if to_pod {
                hits.push(rule.host.clone().unwrap_or_else(|| "*".to_owned()));
            }
        }
        for host in hits {
            out.push(ExposureRoute::Ingress {
                name: ing.metadata.name.clone().unwrap_or_default(),
                host,
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJECTS: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: web-7d9, namespace: shop, labels: {app: web}}
spec:
  containers:
    - name: app
      image: web
      ports: [{containerPort: 8080, hostPort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 443, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-internal, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: other-np, namespace: shop}
spec: {type: NodePort, selector: {app: other}, ports: [{port: 80, nodePort: 31000}]}
---
apiVersion: v1
kind: Service
metadata: {name: web-np-elsewhere, namespace: prod}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 31001}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web-internal, port: {number: 80}}}
"#;

    #[test]
    fn routes_by_selector_not_name() {
        let mut inv = Inventory::new();
        kestrel_k8s::load::load_str(&mut inv, OBJECTS, "objects.yaml").unwrap();
        let r = routes(&inv, "shop", "web-7d9", &BTreeMap::new());
        assert_eq!(
            r,
            vec![
                ExposureRoute::LoadBalancer {
                    service: "web-lb".into(),
                    port: 443
                },
                ExposureRoute::Ingress {
                    name: "shop".into(),
                    host: "shop.example.com".into()
                },
                ExposureRoute::HostPort { port: 30080 },
            ]
        );
        // A pod the objects do not list is matched by its runtime labels (Services only).
        let mut labels = BTreeMap::new();
        labels.insert("app".to_owned(), "other".to_owned());
        assert_eq!(
            routes(&inv, "shop", "other-1", &labels),
            vec![ExposureRoute::NodePort {
                service: "other-np".into(),
                port: 31000
            }]
        );
        assert!(routes(&inv, "shop", "lonely", &BTreeMap::new()).is_empty());
    }

    /// The Gateway API "multiple namespaces" guide around a pod of `store-ns`: its ClusterIP
    /// Service is a backend of an HTTPRoute attached to the shared Gateway, and of a TCPRoute
    /// on an internal Gateway.
    const GATEWAYS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: store-ns, labels: {shared-gateway-access: "true"}}
---
apiVersion: v1
kind: Pod
metadata: {name: store-1, namespace: store-ns, labels: {app: store}}
spec: {containers: [{name: app, image: store}]}
---
apiVersion: v1
kind: Service
metadata: {name: store, namespace: store-ns}
spec: {selector: {app: store}, ports: [{port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared-gateway, namespace: infra-ns}
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
        selector: {matchLabels: {shared-gateway-access: "true"}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: store-ns}
spec:
  parentRefs: [{name: shared-gateway, namespace: infra-ns}]
  rules: [{backendRefs: [{name: store, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: east-west, namespace: store-ns}
spec:
  gatewayClassName: eg
  listeners: [{name: tcp, protocol: TCP, port: 9000}]
status:
  addresses: [{type: IPAddress, value: 10.20.0.9}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: store-tcp, namespace: store-ns}
spec:
  parentRefs: [{name: east-west}]
  rules: [{backendRefs: [{name: store, port: 8080}]}]
"#;

    #[test]
    fn gateway_routes() {
        let mut inv = Inventory::new();
        kestrel_k8s::load::load_str(&mut inv, GATEWAYS, "gateways.yaml").unwrap();
        let r = routes(&inv, "store-ns", "store-1", &BTreeMap::new());
        let exposure = crate::signals::Exposure {
            routes: r.clone(),
            ..Default::default()
        };
        assert!(exposure.is_internet());
        assert_eq!(
            exposure.describe().unwrap(),
            "exposed on 443 via Gateway infra-ns/shared-gateway (HTTPRoute store-ns/store), \
             exposed on 9000 via internal Gateway store-ns/east-west (TCPRoute store-ns/store-tcp)"
        );
        // Through the internal Gateway alone: reachable in the cluster, not from the Internet.
        let internal = crate::signals::Exposure {
            routes: r.into_iter().filter(|r| !r.is_internet()).collect(),
            ..Default::default()
        };
        assert!(!internal.is_internet() && internal.is_listening());
    }
}
