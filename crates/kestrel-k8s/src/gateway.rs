//! Gateway API (`gateway.networking.k8s.io`): Gateways, the routes attached to them
//! (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute) and ReferenceGrants, and which Services
//! they expose on which listener ports.
//!
//! The Gateway API ships as CRDs, not in `k8s-openapi`, so the fields that decide attachment are
//! modelled here; every other field is ignored. The `v1`, `v1beta1` and `v1alpha2` shapes agree
//! on all of them, so any version of the group is read.
//!
//! Attachment follows the specification: a route's `parentRefs` name a Gateway (namespace
//! defaulting to the route's), optionally one listener by `sectionName` or `port`; the listener
//! must allow routes from the route's namespace (`allowedRoutes.namespaces.from`: `Same` by
//! default, `All`, or `Selector` over the namespace's labels), allow the route's kind (by
//! default the kinds of the listener's protocol) and share a hostname with the route when both
//! name one. A `backendRef` to a Service in another namespace only counts when a ReferenceGrant
//! in that namespace allows it.
//!
//! Whether a Gateway faces the Internet cannot be read from the object with certainty: it
//! depends on the implementation behind its GatewayClass. [`Gateway::is_internal`] says
//! internal only on positive evidence (a private or loopback address, a cloud's
//! internal-load-balancer annotation, an internal GatewayClass name, or
//! `kestrel.dev/exposure: internal`); every other Gateway is assumed to face the Internet,
//! since most Gateways are provisioned as public load balancers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;
use serde_json::Value;

use crate::error::LoadError;
use crate::inventory::Inventory;
use crate::object::{Located, Origin};

/// The API group of the Gateway API.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// Annotation that overrides the Internet-facing assumption: `internal` or `internet`.
pub const EXPOSURE_ANNOTATION: &str = "kestrel.dev/exposure";

/// The Gateway API kinds the model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum GatewayKind {
    Gateway,
    HTTPRoute,
    GRPCRoute,
    TLSRoute,
    TCPRoute,
    UDPRoute,
    ReferenceGrant,
}

impl GatewayKind {
    /// The kind of an object of `apiVersion` and `kind`, when it is a Gateway API kind read here.
    pub fn from_type(api_version: &str, kind: &str) -> Option<GatewayKind> {
        let (group, _version) = api_version.split_once('/')?;
        if group != GROUP {
            return None;
        }
        Some(match kind {
            "Gateway" => GatewayKind::Gateway,
            "HTTPRoute" => GatewayKind::HTTPRoute,
            "GRPCRoute" => GatewayKind::GRPCRoute,
            "TLSRoute" => GatewayKind::TLSRoute,
            "TCPRoute" => GatewayKind::TCPRoute,
            "UDPRoute" => GatewayKind::UDPRoute,
            "ReferenceGrant" => GatewayKind::ReferenceGrant,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::Gateway => "Gateway",
            GatewayKind::HTTPRoute => "HTTPRoute",
            GatewayKind::GRPCRoute => "GRPCRoute",
            GatewayKind::TLSRoute => "TLSRoute",
            GatewayKind::TCPRoute => "TCPRoute",
            GatewayKind::UDPRoute => "UDPRoute",
            GatewayKind::ReferenceGrant => "ReferenceGrant",
        }
    }
}

impl std::fmt::Display for GatewayKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Gateway`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: GatewaySpec,
    #[serde(default)]
    pub status: Option<GatewayStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    #[serde(default)]
    pub gateway_class_name: String,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// Requested addresses.
    #[serde(default)]
    pub addresses: Vec<GatewayAddress>,
    /// Labels and annotations the implementation copies to the infrastructure it creates
    /// (for example the load balancer Service): where internal-load-balancer annotations go.
    #[serde(default)]
    pub infrastructure: Option<Infrastructure>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Infrastructure {
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// Addresses the implementation assigned.
    #[serde(default)]
    pub addresses: Vec<GatewayAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAddress {
    /// `IPAddress` (the default), `Hostname` or an implementation-specific type.
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub port: i32,
    /// `HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP` or an implementation-specific protocol.
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub allowed_routes: Option<AllowedRoutes>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowedRoutes {
    #[serde(default)]
    pub namespaces: Option<RouteNamespaces>,
    #[serde(default)]
    pub kinds: Vec<RouteGroupKind>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `Same` (the default), `All` or `Selector`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroupKind {
    #[serde(default)]
    pub group: Option<String>,
    pub kind: String,
}

/// Any route kind: the fields that decide attachment and backends are common to all of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: RouteSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// HTTPRoute, GRPCRoute and TLSRoute only.
    #[serde(default)]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub section_name: Option<String>,
    #[serde(default)]
    pub port: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendRef {
    /// `""` (core) by default.
    #[serde(default)]
    pub group: Option<String>,
    /// `Service` by default.
    #[serde(default)]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub port: Option<i32>,
}

/// A `ReferenceGrant`: lets objects of other namespaces refer to objects in its own.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrant {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ReferenceGrantSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceGrantSpec {
    #[serde(default)]
    pub from: Vec<GrantFrom>,
    #[serde(default)]
    pub to: Vec<GrantTo>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantFrom {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantTo {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A route with its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedRoute {
    pub kind: GatewayKind,
    pub route: Route,
}

/// Every Gateway API object read.
#[derive(Debug, Default)]
pub struct GatewayApi {
    pub gateways: Vec<Located<Gateway>>,
    pub routes: Vec<Located<TypedRoute>>,
    pub reference_grants: Vec<Located<ReferenceGrant>>,
}

impl GatewayApi {
    /// Adds one object of a Gateway API kind. A document whose fields do not match the shape
    /// is an error naming it.
    pub fn add(
        &mut self,
        kind: GatewayKind,
        value: Value,
        origin: &Origin,
    ) -> Result<(), LoadError> {
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_owned();
        let schema = |e: serde_json::Error| LoadError::GatewaySchema {
            source_name: origin.source.clone(),
            document: origin.document,
            kind,
            name: name.clone(),
            message: e.to_string(),
        };
        match kind {
            GatewayKind::Gateway => self.gateways.push(Located {
                object: serde_json::from_value(value).map_err(schema)?,
                origin: origin.clone(),
            }),
            GatewayKind::ReferenceGrant => self.reference_grants.push(Located {
                object: serde_json::from_value(value).map_err(schema)?,
                origin: origin.clone(),
            }),
            route => self.routes.push(Located {
                object: TypedRoute {
                    kind: route,
                    route: serde_json::from_value(value).map_err(schema)?,
                },
                origin: origin.clone(),
            }),
        }
        Ok(())
    }

    /// How many objects of each kind were read.
    pub fn counts(&self) -> BTreeMap<GatewayKind, usize> {
        let mut out = BTreeMap::new();
        if !self.gateways.is_empty() {
            out.insert(GatewayKind::Gateway, self.gateways.len());
        }
        if !self.reference_grants.is_empty() {
            out.insert(GatewayKind::ReferenceGrant, self.reference_grants.len());
        }
        for r in &self.routes {
            *out.entry(r.object.kind).or_default() += 1;
        }
        out
    }
}

/// A namespace-qualified object name, printed `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct NamespacedName {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for NamespacedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A Service reachable through a Gateway listener by way of one route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct GatewayExposure {
    pub gateway: NamespacedName,
    pub listener: String,
    pub port: u16,
    pub route_kind: GatewayKind,
    pub route: NamespacedName,
    /// The route's hostnames (empty: any the listener accepts).
    pub hostnames: Vec<String>,
    /// The Gateway is assumed to face the Internet (see [`Gateway::is_internal`]).
    pub internet: bool,
}

fn ns_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

impl Gateway {
    /// Internal only on positive evidence; see the module documentation.
    pub fn is_internal(&self) -> bool {
        let meta_ann = self.metadata.annotations.as_ref();
        let infra_ann = self.spec.infrastructure.as_ref().map(|i| &i.annotations);
        let annotations = meta_ann.into_iter().chain(infra_ann).flatten();
        let mut explicit = None;
        let mut internal_annotation = false;
        for (k, v) in annotations {
            let v = v.to_ascii_lowercase();
            match k.as_str() {
                EXPOSURE_ANNOTATION => explicit = Some(v == "internal"),
                "networking.gke.io/load-balancer-type"
                | "service.beta.kubernetes.io/aws-load-balancer-scheme"
                | "alb.ingress.kubernetes.io/scheme"
                | "service.beta.kubernetes.io/oci-load-balancer-internal"
                | "service.beta.kubernetes.io/azure-load-balancer-internal"
                | "service.beta.kubernetes.io/aws-load-balancer-internal"
                | "networking.gke.io/internal-load-balancer-allow-global-access" => {
                    if matches!(v.as_str(), "internal" | "true") {
                        internal_annotation = true;
                    }
                }
                _ => {}
            }
        }
        if let Some(e) = explicit {
            return e;
        }
        if internal_annotation {
            return true;
        }
        let class = self.spec.gateway_class_name.to_ascii_lowercase();
        // GKE's internal classes are `gke-l7-rilb` and `gke-l7-*-internal-*`; most vendors
        // name internal classes with the word.
        if class.contains("internal") || class.contains("rilb") {
            return true;
        }
        let addresses: Vec<&GatewayAddress> = self
            .status
            .iter()
            .flat_map(|s| &s.addresses)
            .chain(&self.spec.addresses)
            .collect();
        let ips: Vec<IpAddr> = addresses
            .iter()
            .filter(|a| a.type_.as_deref().is_none_or(|t| t == "IPAddress"))
            .filter_map(|a| a.value.parse().ok())
            .collect();
        !ips.is_empty() && ips.iter().all(|ip| !is_public(*ip))
    }
}

/// Not loopback, private, link-local, CGNAT shared, unspecified or unique-local.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Whether two hostnames (each possibly a `*.` wildcard) can name the same host.
fn hostnames_intersect(a: &str, b: &str) -> bool {
    fn matches(wild: &str, host: &str) -> bool {
        match wild.strip_prefix("*.") {
            // A wildcard matches one or more labels before its suffix.
            Some(suffix) => host
                .strip_suffix(suffix)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => wild.eq_ignore_ascii_case(host),
        }
    }
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || matches(&a, &b) || matches(&b, &a)
}

/// The route kinds a listener accepts when `allowedRoutes.kinds` is empty.
fn default_kinds(protocol: &str) -> &'static [GatewayKind] {
    match protocol {
        "HTTP" | "HTTPS" => &[GatewayKind::HTTPRoute, GatewayKind::GRPCRoute],
        "TLS" => &[GatewayKind::TLSRoute],
        "TCP" => &[GatewayKind::TCPRoute],
        "UDP" => &[GatewayKind::UDPRoute],
        _ => &[],
    }
}

fn listener_accepts(
    inv: &Inventory,
    gateway_ns: &str,
    listener: &Listener,
    kind: GatewayKind,
    route_ns: &str,
    route_hostnames: &[String],
) -> bool {
    let allowed = listener.allowed_routes.as_ref();
    let kinds_ok = match allowed.map(|a| a.kinds.as_slice()).unwrap_or_default() {
        [] => default_kinds(&listener.protocol).contains(&kind),
        kinds => kinds
            .iter()
            .any(|k| k.group.as_deref().unwrap_or(GROUP) == GROUP && k.kind == kind.as_str()),
    };
    let from = allowed.and_then(|a| a.namespaces.as_ref());
    let ns_ok = match from.and_then(|n| n.from.as_deref()).unwrap_or("Same") {
        "All" => true,
        "Same" => route_ns == gateway_ns,
        "Selector" => {
            let Some(sel) = from.and_then(|n| n.selector.as_ref()) else {
                return false;
            };
            // The API server labels every namespace with its name; use that when the
            // Namespace object itself was not among the inputs.
            let mut labels = inv
                .namespaces
                .iter()
                .find(|n| n.object.metadata.name.as_deref() == Some(route_ns))
                .and_then(|n| n.object.metadata.labels.clone())
                .unwrap_or_default();
            labels
                .entry("kubernetes.io/metadata.name".to_owned())
                .or_insert_with(|| route_ns.to_owned());
            crate::selector::matches(sel, &labels)
        }
        _ => false,
    };
    let hosts_ok = match (&listener.hostname, route_hostnames) {
        (None, _) | (_, []) => true,
        (Some(l), hs) => hs.iter().any(|h| hostnames_intersect(l, h)),
    };
    kinds_ok && ns_ok && hosts_ok
}

/// Whether a ReferenceGrant in `to_ns` lets a route of `kind` in `from_ns` refer to Service
/// `name`.
fn granted(inv: &Inventory, kind: GatewayKind, from_ns: &str, to_ns: &str, name: &str) -> bool {
    inv.gateway_api.reference_grants.iter().any(|g| {
        let g = &g.object;
        ns_of(&g.metadata) == to_ns
            && g.spec
                .from
                .iter()
                .any(|f| f.group == GROUP && f.kind == kind.as_str() && f.namespace == from_ns)
            && g.spec.to.iter().any(|t| {
                t.group.is_empty()
                    && t.kind == "Service"
                    && t.name.as_deref().is_none_or(|n| n == name)
            })
    })
}

/// Every way Service `service` in `namespace` is reachable through a Gateway: one entry per
/// (Gateway listener, route) that routes to it.
pub fn service_exposures(inv: &Inventory, namespace: &str, service: &str) -> Vec<GatewayExposure> {
    let mut out = Vec::new();
    for r in &inv.gateway_api.routes {
        let TypedRoute { kind, route } = &r.object;
        let route_ns = ns_of(&route.metadata);
        let to_service = route
            .spec
            .rules
            .iter()
            .flat_map(|r| &r.backend_refs)
            .any(|b| {
                b.group.as_deref().unwrap_or("").is_empty()
                    && b.kind.as_deref().unwrap_or("Service") == "Service"
                    && b.name == service
                    && b.namespace.as_deref().unwrap_or(route_ns) == namespace
                    && (namespace == route_ns || granted(inv, *kind, route_ns, namespace, service))
            });
        if !to_service {
            continue;
        }
        for parent in &route.spec.parent_refs {
            if parent.group.as_deref().unwrap_or(GROUP) != GROUP
                || parent.kind.as_deref().unwrap_or("Gateway") != "Gateway"
            {
                continue;
            }
            let gw_ns = parent.namespace.as_deref().unwrap_or(route_ns);
            let Some(gw) = inv
                .gateway_api
                .gateways
                .iter()
                .map(|g| &g.object)
                .find(|g| {
                    ns_of(&g.metadata) == gw_ns && g.metadata.name.as_deref() == Some(&parent.name)
                })
            else {
                continue;
            };
            let internet = !gw.is_internal();
            for l in &gw.spec.listeners {
                if parent.section_name.as_ref().is_some_and(|s| *s != l.name)
                    || parent.port.is_some_and(|p| p != l.port)
                {
                    continue;
                }
                if !listener_accepts(inv, gw_ns, l, *kind, route_ns, &route.spec.hostnames) {
                    continue;
                }
                out.push(GatewayExposure {
                    gateway: NamespacedName {
                        namespace: gw_ns.to_owned(),
                        name: parent.name.clone(),
                    },
                    listener: l.name.clone(),
                    port: u16::try_from(l.port).unwrap_or(0),
                    route_kind: *kind,
                    route: NamespacedName {
                        namespace: route_ns.to_owned(),
                        name: route.metadata.name.clone().unwrap_or_default(),
                    },
                    hostnames: route.spec.hostnames.clone(),
                    internet,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
