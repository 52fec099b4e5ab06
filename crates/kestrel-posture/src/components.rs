//! Cluster components: the API server, etcd, controller manager and scheduler flags of their
//! static pods (CIS Kubernetes Benchmark section 1), and the Kubernetes versions of the API
//! server and nodes against the Kubernetes CVE feed.
//!
//! Static pods are read like any Pod (`/etc/kubernetes/manifests/*.yaml`, or the mirror pods
//! of a cluster dump); a component is recognised by its container's command.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kestrel_k8s::pod::{EffectiveContainer, EffectivePod};
use kestrel_k8s::{Inventory, Kind, ObjectRef};
use serde::Deserialize;

use crate::catalog;
use crate::cve_feed;
use crate::finding::Finding;

/// The control-plane component a container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    ApiServer,
    Etcd,
    ControllerManager,
    Scheduler,
}

fn component_of(c: &EffectiveContainer<'_>, argv: &[String]) -> Option<Component> {
    let bin = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .unwrap_or_default();
    let image = c.image.unwrap_or_default();
    let is = |name: &str| {
        bin == name
            || image
                .rsplit('/')
                .next()
                .is_some_and(|i| i.split(':').next() == Some(name))
    };
    if is("kube-apiserver") {
        Some(Component::ApiServer)
    } else if is("etcd") {
        Some(Component::Etcd)
    } else if is("kube-controller-manager") {
        Some(Component::ControllerManager)
    } else if is("kube-scheduler") {
        Some(Component::Scheduler)
    } else {
        None
    }
}

/// Parses `--flag=value` and `--flag value` arguments; a bare `--flag` is `true`.
pub fn parse_flags(argv: &[String]) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    let mut i = 0;
    while i < argv.len() {
        if let Some(f) = argv[i].strip_prefix("--") {
            match f.split_once('=') {
                Some((k, v)) => {
                    flags.insert(k.to_owned(), v.to_owned());
                }
                None => match argv.get(i + 1).filter(|n| !n.starts_with("--")) {
                    Some(v) => {
                        flags.insert(f.to_owned(), v.clone());
                        i += 1;
                    }
                    None => {
                        flags.insert(f.to_owned(), "true".to_owned());
                    }
                },
            }
        }
        i += 1;
    }
    flags
}

/// One rule on a flag: the problem when `bad(value)` holds (`None`: flag unset).
struct FlagRule {
    flag: &'static str,
    bad: fn(Option<&str>) -> bool,
    problem: &'static str,
    fix: &'static str,
}

const fn rule(
    flag: &'static str,
    bad: fn(Option<&str>) -> bool,
    problem: &'static str,
    fix: &'static str,
) -> FlagRule {
    FlagRule {
        flag,
        bad,
        problem,
        fix,
    }
}

fn unset(v: Option<&str>) -> bool {
    v.is_none_or(str::is_empty)
}
fn not_false(v: Option<&str>) -> bool {
    v != Some("false")
}
fn not_true(v: Option<&str>) -> bool {
    v != Some("true")
}
fn is_true(v: Option<&str>) -> bool {
    v == Some("true")
}
fn not_loopback(v: Option<&str>) -> bool {
    !matches!(v, Some("127.0.0.1" | "::1"))
}

const API_SERVER: &[FlagRule] = &[
    rule(
        "anonymous-auth",
        not_false,
        "anonymous requests are accepted (CIS 1.2.1)",
        "set --anonymous-auth=false",
    ),
    rule(
        "token-auth-file",
        |v| !unset(v),
        "static token file authentication is enabled (CIS 1.2.2)",
        "remove --token-auth-file",
    ),
    rule(
        "authorization-mode",
        |v| {
            v.is_none_or(|m| {
                m.split(',').any(|x| x == "AlwaysAllow") || !m.split(',').any(|x| x == "RBAC")
            })
        },
        "authorization is AlwaysAllow or lacks RBAC (CIS 1.2.6-1.2.8)",
        "set --authorization-mode=Node,RBAC",
    ),
    rule(
        "enable-admission-plugins",
        |v| v.is_some_and(|p| p.split(',').any(|x| x == "AlwaysAdmit")),
        "the AlwaysAdmit admission plugin is enabled (CIS 1.2.10)",
        "remove AlwaysAdmit from --enable-admission-plugins",
    ),
    rule(
        "kubelet-certificate-authority",
        unset,
        "kubelet serving certificates are not verified (CIS 1.2.5)",
        "set --kubelet-certificate-authority",
    ),
    rule(
        "profiling",
        not_false,
        "profiling endpoints are enabled (CIS 1.2.15)",
        "set --profiling=false",
    ),
    rule(
        "audit-log-path",
        unset,
        "audit logging is disabled (CIS 1.2.16)",
        "set --audit-log-path and --audit-policy-file",
    ),
    rule(
        "service-account-lookup",
        |v| v == Some("false"),
        "ServiceAccount tokens are not checked against etcd (CIS 1.2.22)",
        "remove --service-account-lookup=false",
    ),
    rule(
        "insecure-port",
        |v| v.is_some_and(|p| p != "0"),
        "the insecure HTTP port is open (CIS 1.2.19)",
        "set --insecure-port=0 or remove it",
    ),
    rule(
        "etcd-cafile",
        unset,
        "the etcd server certificate is not verified (CIS 1.2.26)",
        "set --etcd-cafile",
    ),
    rule(
        "tls-cert-file",
        unset,
        "no serving certificate is configured (CIS 1.2.24)",
        "set --tls-cert-file and --tls-private-key-file",
    ),
];

const ETCD: &[FlagRule] = &[
    rule(
        "client-cert-auth",
        not_true,
        "clients are not authenticated by certificate (CIS 2.2)",
        "set --client-cert-auth=true",
    ),
    rule(
        "auto-tls",
        is_true,
        "self-signed client TLS certificates are used (CIS 2.3)",
        "remove --auto-tls=true",
    ),
    rule(
        "peer-client-cert-auth",
        not_true,
        "peers are not authenticated by certificate (CIS 2.5)",
        "set --peer-client-cert-auth=true",
    ),
    rule(
        "peer-auto-tls",
        is_true,
        "self-signed peer TLS certificates are used (CIS 2.6)",
        "remove --peer-auto-tls=true",
    ),
];

const CONTROLLER_MANAGER: &[FlagRule] = &[
    rule(
        "profiling",
        not_false,
        "profiling endpoints are enabled (CIS 1.3.2)",
        "set --profiling=false",
    ),
    rule(
        "use-service-account-credentials",
        not_true,
        "all controllers share one powerful identity (CIS 1.3.3)",
        "set --use-service-account-credentials=true",
    ),
    rule(
        "service-account-private-key-file",
        unset,
        "no key to sign ServiceAccount tokens is set (CIS 1.3.4)",
        "set --service-account-private-key-file",
    ),
    rule(
        "bind-address",
        not_loopback,
        "the metrics and health endpoints listen beyond loopback (CIS 1.3.7)",
        "set --bind-address=127.0.0.1",
    ),
];

const SCHEDULER: &[FlagRule] = &[
    rule(
        "profiling",
        not_false,
        "profiling endpoints are enabled (CIS 1.4.1)",
        "set --profiling=false",
    ),
    rule(
        "bind-address",
        not_loopback,
        "the metrics and health endpoints listen beyond loopback (CIS 1.4.2)",
        "set --bind-address=127.0.0.1",
    ),
];

/// Checks the flags of every control-plane static pod.
pub fn check_components(pods: &[EffectivePod<'_>], out: &mut Vec<Finding>) {
    for pod in pods {
        for c in &pod.containers {
            let Some(spec_c) = container_spec(pod, c.name) else {
                continue;
            };
            let argv: Vec<String> = spec_c
                .command
                .iter()
                .flatten()
                .chain(spec_c.args.iter().flatten())
                .cloned()
                .collect();
            let Some(component) = component_of(c, &argv) else {
                continue;
            };
            let flags = parse_flags(&argv);
            let (rules, label) = match component {
                Component::ApiServer => (API_SERVER, "kube-apiserver"),
                Component::Etcd => (ETCD, "etcd"),
                Component::ControllerManager => (CONTROLLER_MANAGER, "kube-controller-manager"),
                Component::Scheduler => (SCHEDULER, "kube-scheduler"),
            };
            for r in rules {
                let v = flags.get(r.flag).map(String::as_str);
                if (r.bad)(v) {
                    let shown = v.map_or("unset".to_owned(), |v| format!("--{}={v}", r.flag));
                    out.push(Finding {
                        check: &catalog::COMPONENT_FLAG,
                        resource: pod.object.clone(),
                        container: Some(c.name.to_owned()),
                        path: format!("{}.command[--{}]", c.path, r.flag),
                        message: format!("{label}: {} ({shown}); {}", r.problem, r.fix),
                        origin: Some(pod.origin.clone()),
                    });
                }
            }
            if component == Component::ApiServer
                && unset(flags.get("encryption-provider-config").map(String::as_str))
            {
                out.push(Finding {
                    check: &catalog::ENCRYPTION_AT_REST,
                    resource: pod.object.clone(),
                    container: Some(c.name.to_owned()),
                    path: format!("{}.command[--encryption-provider-config]", c.path),
                    message: "kube-apiserver has no --encryption-provider-config: Secrets are stored in etcd unencrypted (CIS 1.2.27)".to_owned(),
                    origin: Some(pod.origin.clone()),
                });
            }
            if component == Component::ApiServer
                && let Some(v) = c
                    .image
                    .and_then(|i| i.rsplit(':').next())
                    .and_then(Version::parse)
            {
                version_finding(
                    pod.object.clone(),
                    Some(c.name),
                    format!("{}.image", c.path),
                    &v,
                    &["k8s.io/apiserver", "k8s.io/kubernetes"],
                    "kube-apiserver",
                    out,
                    Some(pod.origin.clone()),
                );
            }
        }
    }
}

fn container_spec<'a>(
    pod: &EffectivePod<'a>,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::Container> {
    pod.spec
        .containers
        .iter()
        .chain(pod.spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

/// A Kubernetes release version (`v1.25.9`, `1.25.9-eks-0a21954` are both 1.25.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next()?;
        let mut it = core.split('.');
        let v = Version(
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
            it.next().unwrap_or("0").parse().ok()?,
        );
        Some(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[derive(Debug, Deserialize)]
struct Osv {
    id: String,
    #[serde(default)]
    summary: String,
    affected: Vec<OsvAffected>,
}

#[derive(Debug, Deserialize)]
struct OsvAffected {
    package: OsvPackage,
    #[serde(default)]
    ranges: Vec<OsvRange>,
}

#[derive(Debug, Deserialize)]
struct OsvPackage {
    name: String,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    events: Vec<BTreeMap<String, String>>,
}

fn feed() -> &'static [Osv] {
    static FEED: OnceLock<Vec<Osv>> = OnceLock::new();
    FEED.get_or_init(|| {
        cve_feed::FEED
            .iter()
            .map(|t| serde_json::from_str(t).expect("the embedded CVE records are valid OSV"))
            .collect()
    })
}

/// The CVEs of the feed that affect `packages` at version `v`: (id, summary).
pub fn affecting(v: &Version, packages: &[&str]) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for osv in feed() {
        let hit = osv
            .affected
            .iter()
            .filter(|a| packages.contains(&a.package.name.as_str()))
            .any(|a| {
                a.ranges.iter().any(|r| {
                    // OSV ranges: a sorted list of introduced/fixed events; affected between an
                    // `introduced` and the next `fixed` (or `last_affected`, inclusive).
                    let mut affected = false;
                    for e in &r.events {
                        if let Some(i) = e.get("introduced") {
                            if i == "0" || Version::parse(i).is_some_and(|i| *v >= i) {
                                affected = true;
                            }
                        } else if let Some(f) = e.get("fixed") {
                            if Version::parse(f).is_some_and(|f| *v >= f) {
                                affected = false;
                            }
                        } else if let Some(l) = e.get("last_affected")
                            && Version::parse(l).is_some_and(|l| *v > l)
                        {
                            affected = false;
                        }
                    }
                    affected
                })
            });
        if hit {
            out.push((osv.id.as_str(), osv.summary.as_str()));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn version_finding(
    resource: ObjectRef,
    container: Option<&str>,
    path: String,
    v: &Version,
    packages: &[&str],
    what: &str,
    out: &mut Vec<Finding>,
    origin: Option<kestrel_k8s::Origin>,
) {
    let cves = affecting(v, packages);
    if cves.is_empty() {
        return;
    }
    let ids: Vec<&str> = cves.iter().map(|(id, _)| *id).collect();
    out.push(Finding {
        check: &catalog::OUTDATED_VERSION,
        resource,
        container: container.map(str::to_owned),
        path,
        message: format!(
            "{what} {v} is affected by {} Kubernetes CVEs: {}",
            ids.len(),
            ids.join(", ")
        ),
        origin,
    });
}

/// Checks kubelet configuration files (CIS 4.2). Only values the file sets can be insecure:
/// the `v1beta1` defaults are the secure ones.
pub fn check_kubelet_configs(inv: &Inventory, out: &mut Vec<Finding>) {
    for l in &inv.kubelet_configs {
        let k = &l.object;
        let name = k
            .metadata
            .as_ref()
            .and_then(|m| m.name.clone())
            .unwrap_or_else(|| {
                l.origin
                    .source
                    .rsplit('/')
                    .next()
                    .unwrap_or("kubelet")
                    .to_owned()
            });
        let r = ObjectRef::new(Kind::KubeletConfiguration, None, &name);
        let mut emit = |path: &str, msg: &str| {
            out.push(Finding {
                check: &catalog::COMPONENT_FLAG,
                resource: r.clone(),
                container: None,
                path: path.to_owned(),
                message: format!("kubelet: {msg}"),
                origin: Some(l.origin.clone()),
            });
        };
        let authn = k.authentication.as_ref();
        if authn
            .and_then(|a| a.anonymous.as_ref())
            .and_then(|a| a.enabled)
            == Some(true)
        {
            emit(
                "authentication.anonymous.enabled",
                "anonymous requests to the kubelet API are accepted (CIS 4.2.1); set authentication.anonymous.enabled: false",
            );
        }
        if authn
            .and_then(|a| a.webhook.as_ref())
            .and_then(|a| a.enabled)
            == Some(false)
        {
            emit(
                "authentication.webhook.enabled",
                "bearer tokens are not checked with the API server (CIS 4.2.2); set authentication.webhook.enabled: true",
            );
        }
        if k.authorization.as_ref().and_then(|a| a.mode.as_deref()) == Some("AlwaysAllow") {
            emit(
                "authorization.mode",
                "every authenticated request to the kubelet API is allowed (CIS 4.2.2); set authorization.mode: Webhook",
            );
        }
        if let Some(p) = k.read_only_port.filter(|p| *p != 0) {
            emit(
                "readOnlyPort",
                &format!(
                    "the unauthenticated read-only port {p} is open (CIS 4.2.4); set readOnlyPort: 0"
                ),
            );
        }
        if k.protect_kernel_defaults == Some(false) {
            emit(
                "protectKernelDefaults",
                "the kubelet may change kernel tunables (CIS 4.2.6); set protectKernelDefaults: true",
            );
        }
        if k.rotate_certificates == Some(false) {
            emit(
                "rotateCertificates",
                "client certificates are not rotated (CIS 4.2.11); set rotateCertificates: true",
            );
        }
    }
}

/// Checks every `EncryptionConfiguration` read (CIS 1.2.27, 1.2.28): what is written for
/// `secrets` is decided by the first provider of the first entry that covers them, so
/// `identity` there stores Secrets in plain text whatever follows it.
pub fn check_encryption_configs(inv: &Inventory, out: &mut Vec<Finding>) {
    use kestrel_k8s::encryption::ProviderKind;
    for l in &inv.encryption_configs {
        let cfg = &l.object;
        let name = cfg
            .metadata
            .as_ref()
            .and_then(|m| m.name.clone())
            .unwrap_or_else(|| file_name(&l.origin.source));
        let r = ObjectRef::new(Kind::EncryptionConfiguration, None, &name);
        let mut emit = |check: &'static catalog::Check, path: String, message: String| {
            out.push(Finding {
                check,
                resource: r.clone(),
                container: None,
                path,
                message,
                origin: Some(l.origin.clone()),
            });
        };
        let Some((i, entry)) = cfg
            .resources
            .iter()
            .enumerate()
            .find(|(_, e)| e.covers_secrets())
        else {
            emit(
                &catalog::ENCRYPTION_AT_REST,
                "resources".to_owned(),
                "no resources entry names secrets (or *. / *.*): Secrets are stored in etcd unencrypted (CIS 1.2.27); add an entry for secrets".to_owned(),
            );
            continue;
        };
        let Some(first) = entry.providers.first() else {
            emit(
                &catalog::ENCRYPTION_AT_REST,
                format!("resources[{i}].providers"),
                "the entry for secrets lists no provider: the API server refuses to start or stores Secrets unencrypted".to_owned(),
            );
            continue;
        };
        let Some(kind) = first.kind() else {
            continue;
        };
        let ppath = format!("resources[{i}].providers[0]");
        match kind {
            ProviderKind::Identity => {
                let later: Vec<&str> = entry
                    .providers
                    .iter()
                    .skip(1)
                    .filter_map(|p| p.kind())
                    .map(ProviderKind::as_str)
                    .collect();
                let note = if later.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (the providers after it, {}, only decrypt what was written earlier)",
                        later.join(", ")
                    )
                };
                emit(
                    &catalog::ENCRYPTION_AT_REST,
                    format!("{ppath}.identity"),
                    format!("identity is the first provider for secrets: new Secrets are written to etcd in plain text{note} (CIS 1.2.27); put an encrypting provider first"),
                );
            }
            ProviderKind::AesCbc => emit(
                &catalog::ENCRYPTION_WEAK_PROVIDER,
                format!("{ppath}.aescbc"),
                "secrets are encrypted with aescbc, which is open to padding-oracle attacks and no longer recommended (CIS 1.2.28); use kms v2, secretbox, or aesgcm with key rotation".to_owned(),
            ),
            ProviderKind::KmsV1 => emit(
                &catalog::ENCRYPTION_WEAK_PROVIDER,
                format!("{ppath}.kms.apiVersion"),
                "secrets are encrypted with KMS v1, deprecated and disabled by default since Kubernetes 1.29; set apiVersion: v2".to_owned(),
            ),
            ProviderKind::AesGcm | ProviderKind::Secretbox | ProviderKind::KmsV2 => {}
        }
        if kind.key_in_file() {
            let keys: Vec<&str> = first.keys().iter().map(|k| k.name.as_str()).collect();
            emit(
                &catalog::ENCRYPTION_KEY_IN_CONFIG,
                format!("{ppath}.{}.keys", kind.as_str()),
                format!(
                    "the {} {} ({}) protecting Secrets {} stored in this file in plain text: whoever reads it (or a backup of it) decrypts etcd; use kms v2",
                    kind.as_str(),
                    if keys.len() == 1 { "key" } else { "keys" },
                    keys.join(", "),
                    if keys.len() == 1 { "is" } else { "are" },
                ),
            );
        }
    }
}

fn file_name(source: &str) -> String {
    source.rsplit('/').next().unwrap_or(source).to_owned()
}

/// An API server's `--encryption-provider-config`, with the path to read on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionConfigReference {
    /// The API server pod that names the file.
    pub pod: ObjectRef,
    /// Where that pod was read from.
    pub origin: kestrel_k8s::Origin,
    /// The flag's value: a path inside the API server container.
    pub container_path: String,
    /// The same file on the node, through the pod's hostPath mounts (the flag's value when no
    /// mount covers it).
    pub host_path: String,
}

/// The encryption configuration files the API server static pods (Pods: the file is on their
/// node) name. Reading them is the caller's job; the path is translated through the
/// container's hostPath volume mounts, as kubeadm mounts `/etc/kubernetes` into the API server.
pub fn encryption_config_references(inv: &Inventory) -> Vec<EncryptionConfigReference> {
    const FLAG: &str = "--encryption-provider-config";
    let mut refs = Vec::new();
    for l in &inv.pods {
        let Some(spec) = &l.object.spec else { continue };
        // Resolving every pod would cost more than the rest of a large scan's checks.
        let names_flag = spec.containers.iter().any(|c| {
            c.command
                .iter()
                .chain(c.args.iter())
                .flatten()
                .any(|a| a.starts_with(FLAG))
        });
        if !names_flag {
            continue;
        }
        let meta = &l.object.metadata;
        let pod =
            kestrel_k8s::pod::resolve(inv, Kind::Pod, &l.origin, meta, Some(meta), spec, "spec");
        for c in &pod.containers {
            let Some(spec_c) = container_spec(&pod, c.name) else {
                continue;
            };
            let argv: Vec<String> = spec_c
                .command
                .iter()
                .flatten()
                .chain(spec_c.args.iter().flatten())
                .cloned()
                .collect();
            if component_of(c, &argv) != Some(Component::ApiServer) {
                continue;
            }
            let flags = parse_flags(&argv);
            let Some(path) = flags
                .get("encryption-provider-config")
                .filter(|p| !p.is_empty())
            else {
                continue;
            };
            refs.push(EncryptionConfigReference {
                pod: pod.object.clone(),
                origin: pod.origin.clone(),
                container_path: path.clone(),
                host_path: host_path_of(&pod, c, path),
            });
        }
    }
    refs
}

/// Maps a path inside container `c` to the node through the longest hostPath mount above it.
fn host_path_of(pod: &EffectivePod<'_>, c: &EffectiveContainer<'_>, path: &str) -> String {
    let mut best: Option<(usize, String)> = None;
    for m in c.volume_mounts {
        let mount = m.mount_path.trim_end_matches('/');
        let Some(rest) = path.strip_prefix(mount) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            continue;
        }
        let Some(host) = pod
            .spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == m.name)
            .and_then(|v| v.host_path.as_ref())
        else {
            continue;
        };
        let sub = m.sub_path.as_deref().filter(|s| !s.is_empty());
        let mut p = host.path.trim_end_matches('/').to_owned();
        if let Some(sub) = sub {
            p.push('/');
            p.push_str(sub.trim_matches('/'));
        }
        p.push_str(rest);
        if best.as_ref().is_none_or(|(len, _)| mount.len() > *len) {
            best = Some((mount.len(), p));
        }
    }
    best.map_or_else(|| path.to_owned(), |(_, p)| p)
}

/// Checks the version the API server reports (`GET /version`, read live or from a saved
/// response) and the kubelet version every node reports.
pub fn check_versions(inv: &Inventory, out: &mut Vec<Finding>) {
    if let Some(cv) = &inv.cluster_version {
        match Version::parse(&cv.git_version) {
            Some(v) => version_finding(
                ObjectRef::new(Kind::Cluster, None, &cv.origin.source),
                None,
                "/version.gitVersion".to_owned(),
                &v,
                &["k8s.io/apiserver", "k8s.io/kubernetes"],
                "the API server",
                out,
                Some(cv.origin.clone()),
            ),
            None => tracing::warn!(
                "{}: the cluster reports version {:?}, which is not a Kubernetes release version; its CVEs are not checked",
                cv.origin.source,
                cv.git_version
            ),
        }
    }
    for l in &inv.nodes {
        let n = &l.object;
        let Some(info) = n.status.as_ref().and_then(|s| s.node_info.as_ref()) else {
            continue;
        };
        let Some(v) = Version::parse(&info.kubelet_version) else {
            continue;
        };
        let r = ObjectRef::new(
            Kind::Node,
            None,
            n.metadata.name.as_deref().unwrap_or_default(),
        );
        version_finding(
            r,
            None,
            "status.nodeInfo.kubeletVersion".to_owned(),
            &v,
            &["k8s.io/kubelet", "k8s.io/kubernetes", "k8s.io/kube-proxy"],
            "kubelet",
            out,
            Some(l.origin.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_osv_ranges() {
        let ids = |v: &str| -> Vec<&str> {
            affecting(&Version::parse(v).unwrap(), &["k8s.io/apiserver"])
                .into_iter()
                .map(|(i, _)| i)
                .collect()
        };
        // CVE-2023-2728: fixed in 1.25.11 on the 1.25 line.
        assert!(ids("v1.25.9").contains(&"CVE-2023-2728"));
        assert!(!ids("v1.25.11").contains(&"CVE-2023-2728"));
        assert!(!ids("1.27.3-eks-1").contains(&"CVE-2023-2728"));
        assert!(ids("1.99.0").is_empty());
    }

    #[test]
    fn flags_parse_both_forms() {
        let argv: Vec<String> = [
            "kube-apiserver",
            "--profiling=false",
            "--audit-log-path",
            "/var/log/a",
            "--v",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let f = parse_flags(&argv);
        assert_eq!(f.get("profiling").map(String::as_str), Some("false"));
        assert_eq!(
            f.get("audit-log-path").map(String::as_str),
            Some("/var/log/a")
        );
        assert_eq!(f.get("v").map(String::as_str), Some("true"));
    }
}
