//! The effective pod spec of every workload and of every container in it.
//!
//! Kubernetes resolves several settings from more than one place: `runAsUser`, `runAsGroup`,
//! `runAsNonRoot`, `seccompProfile`, `appArmorProfile` and `seLinuxOptions` are taken from the
//! container's `securityContext` and fall back to the pod's; `automountServiceAccountToken` is
//! taken from the pod and falls back to its ServiceAccount; `allowPrivilegeEscalation` is
//! forced on by `privileged` and `CAP_SYS_ADMIN`. Checks that read one field in isolation get
//! these wrong. This module resolves each setting once and records the exact field path that
//! decided it, so findings can point at the field to change.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, EphemeralContainer, PodSecurityContext,
    PodSpec, Probe, ResourceRequirements, SecurityContext, ServiceAccount, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::inventory::Inventory;
use crate::object::{Kind, Located, ObjectRef, Origin};

/// Where an effective setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingSource {
    /// The container's own `securityContext` (or field).
    Container,
    /// The pod-level `securityContext` (or pod spec field).
    Pod,
    /// A pod annotation (legacy AppArmor).
    Annotation,
    /// The workload's ServiceAccount.
    ServiceAccount,
    /// Nothing sets it: the Kubernetes default applies.
    Default,
}

/// One resolved setting: its value, the field path that decided it (or, for a default, the
/// container-level path where it should be set) and where that path is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub path: String,
    pub source: SettingSource,
}

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerRole {
    Init,
    Main,
    Ephemeral,
}

/// The effective security settings of one container.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveSecurity {
    pub privileged: Setting<bool>,
    /// Effective value: `true` unless set to `false` (and not forced by privileged/SYS_ADMIN).
    pub allow_privilege_escalation: Setting<bool>,
    pub run_as_user: Setting<Option<i64>>,
    pub run_as_group: Setting<Option<i64>>,
    pub run_as_non_root: Setting<Option<bool>>,
    pub read_only_root_filesystem: Setting<bool>,
    /// Added capabilities, upper-cased without a `CAP_` prefix.
    pub capabilities_add: Vec<String>,
    /// Dropped capabilities, upper-cased without a `CAP_` prefix.
    pub capabilities_drop: Vec<String>,
    /// The path of `capabilities` for this container.
    pub capabilities_path: String,
    /// Seccomp profile type (`RuntimeDefault`, `Localhost`, `Unconfined`), if any.
    pub seccomp: Setting<Option<String>>,
    /// AppArmor profile type (`RuntimeDefault`, `Localhost`, `Unconfined`), if any.
    pub apparmor: Setting<Option<String>>,
    /// SELinux type label, if any.
    pub selinux_type: Setting<Option<String>>,
    pub proc_mount: Setting<Option<String>>,
}

/// The fields of a container that checks read, shared by init, main and ephemeral containers.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveContainer<'a> {
    pub role: ContainerRole,
    pub name: &'a str,
    /// The container's path, e.g. `spec.template.spec.containers[0]`.
    pub path: String,
    pub image: Option<&'a str>,
    pub image_pull_policy: Option<&'a str>,
    #[serde(skip)]
    pub ports: &'a [ContainerPort],
    #[serde(skip)]
    pub env: &'a [EnvVar],
    #[serde(skip)]
    pub env_from: &'a [EnvFromSource],
    #[serde(skip)]
    pub resources: Option<&'a ResourceRequirements>,
    #[serde(skip)]
    pub volume_mounts: &'a [VolumeMount],
    #[serde(skip)]
    pub liveness_probe: Option<&'a Probe>,
    #[serde(skip)]
    pub readiness_probe: Option<&'a Probe>,
    /// `Always` for sidecar init containers, which run for the pod's lifetime.
    pub restart_policy: Option<&'a str>,
    pub security: EffectiveSecurity,
}

impl EffectiveContainer<'_> {
    /// Whether the container runs for the life of the pod (main containers and sidecars).
    pub fn is_long_running(&self) -> bool {
        match self.role {
            ContainerRole::Main => true,
            ContainerRole::Init => self.restart_policy == Some("Always"),
            ContainerRole::Ephemeral => false,
        }
    }
}

/// The ServiceAccount a pod runs as, and whether its token is mounted.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccountUse {
    pub name: String,
    /// Whether `serviceAccountName` (or the deprecated `serviceAccount`) is set.
    pub explicit: bool,
    /// Whether the ServiceAccount object was found in the input.
    pub found: bool,
    pub automount: Setting<bool>,
}

/// The effective pod of one workload.
#[derive(Debug, Clone)]
pub struct EffectivePod<'a> {
    pub object: ObjectRef,
    pub origin: &'a Origin,
    /// The pod spec's path, e.g. `spec.template.spec`.
    pub spec_path: &'static str,
    pub spec: &'a PodSpec,
    /// The workload object's own metadata.
    pub metadata: &'a ObjectMeta,
    /// The pod template's labels (what NetworkPolicies and Services select).
    pub pod_labels: BTreeMap<String, String>,
    pub service_account: ServiceAccountUse,
    pub containers: Vec<EffectiveContainer<'a>>,
}

impl EffectivePod<'_> {
    pub fn host_pid(&self) -> bool {
        self.spec.host_pid == Some(true)
    }
    pub fn host_ipc(&self) -> bool {
        self.spec.host_ipc == Some(true)
    }
    pub fn host_network(&self) -> bool {
        self.spec.host_network == Some(true)
    }
    /// `hostUsers: false` puts the pod in a user namespace: root inside is not root outside.
    pub fn user_namespaced(&self) -> bool {
        self.spec.host_users == Some(false)
    }
    pub fn pod_security_context(&self) -> Option<&PodSecurityContext> {
        self.spec.security_context.as_ref()
    }
}

/// Every workload's effective pod, top-level controllers first.
///
/// Pods, ReplicaSets and Jobs whose controller (`ownerReferences[].controller`) is also in the
/// inventory are skipped: their spec is a copy of the controller's template, and reporting it
/// again would triple every finding of a live cluster.
pub fn workloads(inv: &Inventory) -> Vec<EffectivePod<'_>> {
    let mut out = Vec::new();
    for d in &inv.deployments {
        if let Some(t) = d.object.spec.as_ref().map(|s| &s.template) {
            push(
                inv,
                &mut out,
                Kind::Deployment,
                d,
                &d.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.template.spec",
            );
        }
    }
    for s in &inv.stateful_sets {
        if let Some(t) = s.object.spec.as_ref().map(|s| &s.template) {
            push(
                inv,
                &mut out,
                Kind::StatefulSet,
                s,
                &s.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.template.spec",
            );
        }
    }
    for s in &inv.daemon_sets {
        if let Some(t) = s.object.spec.as_ref().map(|s| &s.template) {
            push(
                inv,
                &mut out,
                Kind::DaemonSet,
                s,
                &s.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.template.spec",
            );
        }
    }
    for s in &inv.cron_jobs {
        if let Some(js) = s
            .object
            .spec
            .as_ref()
            .and_then(|s| s.job_template.spec.as_ref())
        {
            let t = &js.template;
            push(
                inv,
                &mut out,
                Kind::CronJob,
                s,
                &s.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.jobTemplate.spec.template.spec",
            );
        }
    }
    for s in &inv.replication_controllers {
        if let Some(t) = s.object.spec.as_ref().and_then(|s| s.template.as_ref()) {
            push(
                inv,
                &mut out,
                Kind::ReplicationController,
                s,
                &s.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.template.spec",
            );
        }
    }
    for s in &inv.replica_sets {
        if owned(inv, &s.object.metadata) {
            continue;
        }
        if let Some(t) = s.object.spec.as_ref().and_then(|s| s.template.as_ref()) {
            push(
                inv,
                &mut out,
                Kind::ReplicaSet,
                s,
                &s.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.template.spec",
            );
        }
    }
    for s in &inv.jobs {
        if owned(inv, &s.object.metadata) {
            continue;
        }
        if let Some(t) = s.object.spec.as_ref().map(|s| &s.template) {
            push(
                inv,
                &mut out,
                Kind::Job,
                s,
                &s.object.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
                "spec.template.spec",
            );
        }
    }
    for p in &inv.pods {
        if owned(inv, &p.object.metadata) {
            continue;
        }
        push(
            inv,
            &mut out,
            Kind::Pod,
            p,
            &p.object.metadata,
            Some(&p.object.metadata),
            p.object.spec.as_ref(),
            "spec",
        );
    }
    out
}

fn owned(inv: &Inventory, meta: &ObjectMeta) -> bool {
    meta.owner_references.iter().flatten().any(|o| {
        o.controller == Some(true)
            && Kind::from_type(&o.api_version, &o.kind).is_some_and(|kind| {
                inv.contains(&ObjectRef::new(kind, meta.namespace.as_deref(), &o.name))
            })
    })
}

#[allow(clippy::too_many_arguments)]
fn push<'a, T>(
    inv: &'a Inventory,
    out: &mut Vec<EffectivePod<'a>>,
    kind: Kind,
    located: &'a Located<T>,
    metadata: &'a ObjectMeta,
    pod_meta: Option<&'a ObjectMeta>,
    spec: Option<&'a PodSpec>,
    spec_path: &'static str,
) {
    let Some(spec) = spec else { return };
    out.push(resolve(
        inv,
        kind,
        &located.origin,
        metadata,
        pod_meta,
        spec,
        spec_path,
    ));
}

/// Resolves the effective pod of one pod spec.
pub fn resolve<'a>(
    inv: &'a Inventory,
    kind: Kind,
    origin: &'a Origin,
    metadata: &'a ObjectMeta,
    pod_meta: Option<&'a ObjectMeta>,
    spec: &'a PodSpec,
    spec_path: &'static str,
) -> EffectivePod<'a> {
    let object = ObjectRef::new(
        kind,
        metadata.namespace.as_deref(),
        metadata.name.as_deref().unwrap_or("<unnamed>"),
    );
    let annotations = pod_meta.and_then(|m| m.annotations.as_ref());
    let mut containers = Vec::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let path = format!("{spec_path}.initContainers[{i}]");
        containers.push(from_container(
            c,
            ContainerRole::Init,
            path,
            spec,
            spec_path,
            annotations,
        ));
    }
    for (i, c) in spec.containers.iter().enumerate() {
        let path = format!("{spec_path}.containers[{i}]");
        containers.push(from_container(
            c,
            ContainerRole::Main,
            path,
            spec,
            spec_path,
            annotations,
        ));
    }
    for (i, c) in spec.ephemeral_containers.iter().flatten().enumerate() {
        let path = format!("{spec_path}.ephemeralContainers[{i}]");
        containers.push(from_ephemeral(c, path, spec, spec_path, annotations));
    }
    let service_account = resolve_service_account(inv, &object, spec, spec_path);
    EffectivePod {
        object,
        origin,
        spec_path,
        spec,
        metadata,
        pod_labels: pod_meta.and_then(|m| m.labels.clone()).unwrap_or_default(),
        service_account,
        containers,
    }
}

fn resolve_service_account(
    inv: &Inventory,
    object: &ObjectRef,
    spec: &PodSpec,
    spec_path: &str,
) -> ServiceAccountUse {
    let explicit_name = spec
        .service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .filter(|n| !n.is_empty());
    let name = explicit_name.unwrap_or("default").to_owned();
    let sa: Option<&ServiceAccount> = inv.service_accounts.iter().map(|l| &l.object).find(|sa| {
        sa.metadata.name.as_deref() == Some(&name) && sa.metadata.namespace == object.namespace
    });
    let automount = if let Some(v) = spec.automount_service_account_token {
        Setting {
            value: v,
            path: format!("{spec_path}.automountServiceAccountToken"),
            source: SettingSource::Pod,
        }
    } else if let Some(v) = sa.and_then(|sa| sa.automount_service_account_token) {
        Setting {
            value: v,
            path: format!("ServiceAccount/{name}.automountServiceAccountToken"),
            source: SettingSource::ServiceAccount,
        }
    } else {
        Setting {
            value: true,
            path: format!("{spec_path}.automountServiceAccountToken"),
            source: SettingSource::Default,
        }
    };
    ServiceAccountUse {
        name,
        explicit: explicit_name.is_some(),
        found: sa.is_some(),
        automount,
    }
}

/// The fields of `Container` and `EphemeralContainer` that matter here.
struct Fields<'a> {
    name: &'a str,
    image: Option<&'a str>,
    image_pull_policy: Option<&'a str>,
    ports: &'a [ContainerPort],
    env: &'a [EnvVar],
    env_from: &'a [EnvFromSource],
    resources: Option<&'a ResourceRequirements>,
    volume_mounts: &'a [VolumeMount],
    liveness_probe: Option<&'a Probe>,
    readiness_probe: Option<&'a Probe>,
    restart_policy: Option<&'a str>,
    security_context: Option<&'a SecurityContext>,
}

fn from_container<'a>(
    c: &'a Container,
    role: ContainerRole,
    path: String,
    spec: &'a PodSpec,
    spec_path: &str,
    annotations: Option<&'a BTreeMap<String, String>>,
) -> EffectiveContainer<'a> {
    build(
        Fields {
            name: &c.name,
            image: c.image.as_deref(),
            image_pull_policy: c.image_pull_policy.as_deref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            env: c.env.as_deref().unwrap_or_default(),
            env_from: c.env_from.as_deref().unwrap_or_default(),
            resources: c.resources.as_ref(),
            volume_mounts: c.volume_mounts.as_deref().unwrap_or_default(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            restart_policy: c.restart_policy.as_deref(),
            security_context: c.security_context.as_ref(),
        },
        role,
        path,
        spec,
        spec_path,
        annotations,
    )
}

fn from_ephemeral<'a>(
    c: &'a EphemeralContainer,
    path: String,
    spec: &'a PodSpec,
    spec_path: &str,
    annotations: Option<&'a BTreeMap<String, String>>,
) -> EffectiveContainer<'a> {
    build(
        Fields {
            name: &c.name,
            image: c.image.as_deref(),
            image_pull_policy: c.image_pull_policy.as_deref(),
            ports: c.ports.as_deref().unwrap_or_default(),
            env: c.env.as_deref().unwrap_or_default(),
            env_from: c.env_from.as_deref().unwrap_or_default(),
            resources: c.resources.as_ref(),
            volume_mounts: c.volume_mounts.as_deref().unwrap_or_default(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            restart_policy: c.restart_policy.as_deref(),
            security_context: c.security_context.as_ref(),
        },
        ContainerRole::Ephemeral,
        path,
        spec,
        spec_path,
        annotations,
    )
}

/// Normalises a capability name: `cap_sys_admin` and `SYS_ADMIN` are the same capability.
pub fn normalize_capability(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_owned).unwrap_or(up)
}

/// Takes a container-level value, else the pod-level one, else a default, recording the path.
fn inherit<T: Clone>(
    container: Option<T>,
    pod: Option<T>,
    cpath: String,
    ppath: String,
    default: T,
) -> Setting<T> {
    match (container, pod) {
        (Some(v), _) => Setting {
            value: v,
            path: cpath,
            source: SettingSource::Container,
        },
        (None, Some(v)) => Setting {
            value: v,
            path: ppath,
            source: SettingSource::Pod,
        },
        (None, None) => Setting {
            value: default,
            path: cpath,
            source: SettingSource::Default,
        },
    }
}

fn build<'a>(
    f: Fields<'a>,
    role: ContainerRole,
    path: String,
    spec: &'a PodSpec,
    spec_path: &str,
    annotations: Option<&'a BTreeMap<String, String>>,
) -> EffectiveContainer<'a> {
    let sc = f.security_context;
    let psc = spec.security_context.as_ref();
    let csc = format!("{path}.securityContext");
    let pscp = format!("{spec_path}.securityContext");
    let field = |name: &str| format!("{csc}.{name}");
    let pfield = |name: &str| format!("{pscp}.{name}");

    let privileged = match sc.and_then(|s| s.privileged) {
        Some(v) => Setting {
            value: v,
            path: field("privileged"),
            source: SettingSource::Container,
        },
        None => Setting {
            value: false,
            path: field("privileged"),
            source: SettingSource::Default,
        },
    };
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let capabilities_add: Vec<String> = caps
        .and_then(|c| c.add.as_ref())
        .into_iter()
        .flatten()
        .map(|c| normalize_capability(c))
        .collect();
    let capabilities_drop: Vec<String> = caps
        .and_then(|c| c.drop.as_ref())
        .into_iter()
        .flatten()
        .map(|c| normalize_capability(c))
        .collect();
    let has_sys_admin = capabilities_add
        .iter()
        .any(|c| c == "SYS_ADMIN" || c == "ALL");
    let allow_privilege_escalation = match sc.and_then(|s| s.allow_privilege_escalation) {
        // The kernel's no_new_privs cannot be set for a privileged or CAP_SYS_ADMIN container,
        // so an explicit `false` there is ignored by the runtime.
        Some(false) if privileged.value => Setting {
            value: true,
            path: field("privileged"),
            source: SettingSource::Container,
        },
        Some(false) if has_sys_admin => Setting {
            value: true,
            path: format!("{csc}.capabilities.add"),
            source: SettingSource::Container,
        },
        Some(v) => Setting {
            value: v,
            path: field("allowPrivilegeEscalation"),
            source: SettingSource::Container,
        },
        None => Setting {
            value: true,
            path: field("allowPrivilegeEscalation"),
            source: SettingSource::Default,
        },
    };
    let run_as_user = inherit(
        sc.and_then(|s| s.run_as_user).map(Some),
        psc.and_then(|s| s.run_as_user).map(Some),
        field("runAsUser"),
        pfield("runAsUser"),
        None,
    );
    let run_as_group = inherit(
        sc.and_then(|s| s.run_as_group).map(Some),
        psc.and_then(|s| s.run_as_group).map(Some),
        field("runAsGroup"),
        pfield("runAsGroup"),
        None,
    );
    let run_as_non_root = inherit(
        sc.and_then(|s| s.run_as_non_root).map(Some),
        psc.and_then(|s| s.run_as_non_root).map(Some),
        field("runAsNonRoot"),
        pfield("runAsNonRoot"),
        None,
    );
    let read_only_root_filesystem = match sc.and_then(|s| s.read_only_root_filesystem) {
        Some(v) => Setting {
            value: v,
            path: field("readOnlyRootFilesystem"),
            source: SettingSource::Container,
        },
        None => Setting {
            value: false,
            path: field("readOnlyRootFilesystem"),
            source: SettingSource::Default,
        },
    };
    let seccomp = inherit(
        sc.and_then(|s| s.seccomp_profile.as_ref())
            .map(|p| Some(p.type_.clone())),
        psc.and_then(|s| s.seccomp_profile.as_ref())
            .map(|p| Some(p.type_.clone())),
        field("seccompProfile.type"),
        pfield("seccompProfile.type"),
        None,
    );
    let mut apparmor = inherit(
        sc.and_then(|s| s.app_armor_profile.as_ref())
            .map(|p| Some(p.type_.clone())),
        psc.and_then(|s| s.app_armor_profile.as_ref())
            .map(|p| Some(p.type_.clone())),
        field("appArmorProfile.type"),
        pfield("appArmorProfile.type"),
        None,
    );
    // Before Kubernetes 1.30 AppArmor was set per container by annotation; the field wins
    // when both are present.
    if apparmor.source == SettingSource::Default {
        let key = format!("container.apparmor.security.beta.kubernetes.io/{}", f.name);
        if let Some(v) = annotations.and_then(|a| a.get(&key)) {
            let ty = match v.as_str() {
                "runtime/default" => "RuntimeDefault".to_owned(),
                "unconfined" => "Unconfined".to_owned(),
                s if s.starts_with("localhost/") => "Localhost".to_owned(),
                other => other.to_owned(),
            };
            let meta_path = spec_path.strip_suffix("spec").unwrap_or(spec_path);
            apparmor = Setting {
                value: Some(ty),
                path: format!("{meta_path}metadata.annotations[{key}]"),
                source: SettingSource::Annotation,
            };
        }
    }
    let selinux_type = inherit(
        sc.and_then(|s| s.se_linux_options.as_ref())
            .and_then(|o| o.type_.clone())
            .map(Some),
        psc.and_then(|s| s.se_linux_options.as_ref())
            .and_then(|o| o.type_.clone())
            .map(Some),
        field("seLinuxOptions.type"),
        pfield("seLinuxOptions.type"),
        None,
    );
    let proc_mount = match sc.and_then(|s| s.proc_mount.clone()) {
        Some(v) => Setting {
            value: Some(v),
            path: field("procMount"),
            source: SettingSource::Container,
        },
        None => Setting {
            value: None,
            path: field("procMount"),
            source: SettingSource::Default,
        },
    };
    EffectiveContainer {
        role,
        name: f.name,
        image: f.image,
        image_pull_policy: f.image_pull_policy,
        ports: f.ports,
        env: f.env,
        env_from: f.env_from,
        resources: f.resources,
        volume_mounts: f.volume_mounts,
        liveness_probe: f.liveness_probe,
        readiness_probe: f.readiness_probe,
        restart_policy: f.restart_policy,
        security: EffectiveSecurity {
            privileged,
            allow_privilege_escalation,
            run_as_user,
            run_as_group,
            run_as_non_root,
            read_only_root_filesystem,
            capabilities_add,
            capabilities_drop,
            capabilities_path: format!("{csc}.capabilities"),
            seccomp,
            apparmor,
            selinux_type,
            proc_mount,
        },
        path,
    }
}
