//! Checks on the effective pod of every workload.
//!
//! Every check here reads the resolved settings of [`kestrel_k8s::pod`], never a raw field:
//! a pod-level `runAsNonRoot: true` satisfies its containers, a container-level
//! `runAsUser: 0` overrides the pod, `allowPrivilegeEscalation: false` does not help a
//! privileged container, and a token disabled on the ServiceAccount is not mounted.

use k8s_openapi::api::core::v1::Volume;
use kestrel_k8s::Kind;
use kestrel_k8s::limits::ContainerDefaults;
use kestrel_k8s::pod::{ContainerRole, EffectiveContainer, EffectivePod, SettingSource};

use crate::catalog::{self, Check};
use crate::detect;
use crate::finding::Finding;

/// Capabilities that allow container escape or host compromise on their own.
pub const DANGEROUS_CAPABILITIES: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "SYS_MODULE",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "SYS_TIME",
    "SYS_RESOURCE",
    "NET_ADMIN",
    "NET_RAW",
    "BPF",
    "PERFMON",
    "DAC_READ_SEARCH",
    "DAC_OVERRIDE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "SYSLOG",
    "SETFCAP",
];

/// Host paths whose exposure hands over node credentials or configuration. A mount of one of
/// these or of anything below it is sensitive; `/` is sensitive only as itself, since every
/// path is below it.
pub const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/etcd",
    "/etc/kubernetes",
    "/var/log",
    "/run",
    "/var/run",
];

/// Container runtime sockets. Mounting one, or a directory that contains one, gives control
/// of the node's containers.
pub const RUNTIME_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
    "/run/cri-dockerd.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
];

/// The sysctls Kubernetes considers safe (namespaced and isolated between pods).
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// SELinux types that keep a container confined.
const CONTAINER_SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

struct Ctx<'p, 'a> {
    pod: &'p EffectivePod<'a>,
    /// What the namespace's LimitRanges write into containers that omit resources.
    limits: Option<&'p ContainerDefaults>,
    out: &'p mut Vec<Finding>,
}

impl Ctx<'_, '_> {
    fn emit(
        &mut self,
        check: &'static Check,
        container: Option<&str>,
        path: String,
        message: String,
    ) {
        self.out.push(Finding {
            check,
            resource: self.pod.object.clone(),
            container: container.map(str::to_owned),
            path,
            message,
            origin: Some(self.pod.origin.clone()),
        });
    }
}

/// Runs every workload check on one effective pod; `limits` are the container defaults of the
/// pod's namespace (its LimitRanges), which satisfy the resource checks as the LimitRanger
/// admission plugin will apply them.
pub fn check_pod(
    pod: &EffectivePod<'_>,
    limits: Option<&ContainerDefaults>,
    out: &mut Vec<Finding>,
) {
    let mut cx = Ctx { pod, limits, out };
    pod_level(&mut cx);
    for c in &pod.containers {
        container_level(&mut cx, c);
    }
    volumes(&mut cx);
}

fn what(pod: &EffectivePod<'_>) -> String {
    format!("{} {}", pod.object.kind, pod.object.name)
}

fn pod_level(cx: &mut Ctx<'_, '_>) {
    let pod = cx.pod;
    let sp = pod.spec_path;
    let w = what(pod);
    if pod.host_pid() {
        cx.emit(
            &catalog::HOST_PID,
            None,
            format!("{sp}.hostPID"),
            format!("{w} shares the node's PID namespace"),
        );
    }
    if pod.host_ipc() {
        cx.emit(
            &catalog::HOST_IPC,
            None,
            format!("{sp}.hostIPC"),
            format!("{w} shares the node's IPC namespace"),
        );
    }
    if pod.host_network() {
        cx.emit(
            &catalog::HOST_NETWORK,
            None,
            format!("{sp}.hostNetwork"),
            format!("{w} shares the node's network namespace"),
        );
    }
    if pod.spec.share_process_namespace == Some(true) {
        cx.emit(
            &catalog::SHARE_PROCESS_NAMESPACE,
            None,
            format!("{sp}.shareProcessNamespace"),
            format!("{w} shares one process namespace between its containers"),
        );
    }
    if let Some(psc) = pod.pod_security_context() {
        for (i, s) in psc.sysctls.iter().flatten().enumerate() {
            if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
                cx.emit(
                    &catalog::UNSAFE_SYSCTLS,
                    None,
                    format!("{sp}.securityContext.sysctls[{i}].name"),
                    format!("{w} sets the unsafe sysctl {}={}", s.name, s.value),
                );
            }
        }
        if !pod.user_namespaced() {
            if psc.fs_group == Some(0) {
                cx.emit(
                    &catalog::GID_ZERO,
                    None,
                    format!("{sp}.securityContext.fsGroup"),
                    format!("{w} sets fsGroup 0 (root group) on its volumes"),
                );
            }
            if let Some(i) = psc
                .supplemental_groups
                .iter()
                .flatten()
                .position(|g| *g == 0)
            {
                cx.emit(
                    &catalog::GID_ZERO,
                    None,
                    format!("{sp}.securityContext.supplementalGroups[{i}]"),
                    format!("{w} adds the root group (GID 0) as a supplementary group"),
                );
            }
        }
    }
    let sa = &pod.service_account;
    if sa.automount.value {
        let why = match sa.automount.source {
            SettingSource::Pod => "the pod sets automountServiceAccountToken: true".to_owned(),
            SettingSource::ServiceAccount => format!(
                "its ServiceAccount {} sets automountServiceAccountToken: true",
                sa.name
            ),
            _ if sa.found => format!(
                "neither the pod nor its ServiceAccount {} disables it",
                sa.name
            ),
            _ => format!(
                "the pod does not disable it and its ServiceAccount {} is not in the input",
                sa.name
            ),
        };
        cx.emit(
            &catalog::AUTOMOUNT_TOKEN,
            None,
            sa.automount.path.clone(),
            format!("{w} mounts the token of ServiceAccount {}: {why}", sa.name),
        );
        if sa.name == "default" {
            let path = format!("{sp}.serviceAccountName");
            cx.emit(
                &catalog::DEFAULT_SERVICE_ACCOUNT,
                None,
                path,
                format!(
                    "{w} runs as the namespace's default ServiceAccount with its token mounted"
                ),
            );
        }
    }
    if pod.object.namespace.as_deref() == Some("default") {
        cx.emit(
            &catalog::DEFAULT_NAMESPACE,
            None,
            "metadata.namespace".to_owned(),
            format!("{w} is in the default namespace"),
        );
    }
}

fn is_batch(kind: Kind) -> bool {
    matches!(kind, Kind::Job | Kind::CronJob)
}

fn container_level(cx: &mut Ctx<'_, '_>, c: &EffectiveContainer<'_>) {
    let pod = cx.pod;
    let s = &c.security;
    let name = Some(c.name);
    let who = format!("container {} of {}", c.name, what(pod));
    let userns = pod.user_namespaced();

    if s.privileged.value {
        cx.emit(
            &catalog::PRIVILEGED,
            name,
            s.privileged.path.clone(),
            format!("{who} is privileged"),
        );
    }
    if s.allow_privilege_escalation.value {
        let why = match s.allow_privilege_escalation.source {
            SettingSource::Default => "allowPrivilegeEscalation is not set to false",
            _ if s.privileged.value => "privileged containers always allow escalation",
            _ if s
                .capabilities_add
                .iter()
                .any(|c| c == "SYS_ADMIN" || c == "ALL") =>
            {
                "CAP_SYS_ADMIN always allows escalation"
            }
            _ => "allowPrivilegeEscalation is true",
        };
        cx.emit(
            &catalog::PRIVILEGE_ESCALATION,
            name,
            s.allow_privilege_escalation.path.clone(),
            format!("{who} can gain privileges: {why}"),
        );
    }
    // In a user namespace (hostUsers: false) UID 0 is an unprivileged UID on the node.
    if !userns {
        match (s.run_as_user.value, s.run_as_non_root.value) {
            (Some(0), nonroot) if nonroot != Some(true) => {
                cx.emit(
                    &catalog::UID_ZERO,
                    name,
                    s.run_as_user.path.clone(),
                    format!(
                        "{who} runs as UID 0 (set at {})",
                        source_word(s.run_as_user.source)
                    ),
                );
            }
            (None, None | Some(false)) => {
                let path = s.run_as_non_root.path.clone();
                cx.emit(&catalog::RUN_AS_ROOT, name, path, format!("{who} sets neither runAsNonRoot: true nor a non-zero runAsUser (container or pod): it runs as the image's user, often root"));
            }
            _ => {}
        }
        if s.run_as_group.value == Some(0) {
            cx.emit(
                &catalog::GID_ZERO,
                name,
                s.run_as_group.path.clone(),
                format!(
                    "{who} runs with GID 0 (set at {})",
                    source_word(s.run_as_group.source)
                ),
            );
        }
    }
    let dangerous: Vec<&str> = s
        .capabilities_add
        .iter()
        .filter(|c| DANGEROUS_CAPABILITIES.contains(&c.as_str()))
        .map(String::as_str)
        .collect();
    if !dangerous.is_empty() {
        cx.emit(
            &catalog::DANGEROUS_CAPABILITIES,
            name,
            format!("{}.add", s.capabilities_path),
            format!("{who} adds {}", dangerous.join(", ")),
        );
    }
    if !s.capabilities_drop.iter().any(|c| c == "ALL") {
        let extra = if s.capabilities_drop.iter().any(|c| c == "NET_RAW") {
            ""
        } else {
            " (NET_RAW included)"
        };
        cx.emit(
            &catalog::CAPABILITIES_NOT_DROPPED,
            name,
            format!("{}.drop", s.capabilities_path),
            format!(
                "{who} keeps the runtime's default capabilities{extra}: capabilities.drop lacks ALL"
            ),
        );
    }
    if !s.read_only_root_filesystem.value {
        cx.emit(
            &catalog::WRITABLE_ROOT_FS,
            name,
            s.read_only_root_filesystem.path.clone(),
            format!("{who} has a writable root file system"),
        );
    }
    match s.seccomp.value.as_deref() {
        Some("RuntimeDefault" | "Localhost") => {}
        Some(other) => cx.emit(
            &catalog::SECCOMP,
            name,
            s.seccomp.path.clone(),
            format!("{who} runs with seccomp profile {other}"),
        ),
        None => cx.emit(
            &catalog::SECCOMP,
            name,
            s.seccomp.path.clone(),
            format!(
                "{who} has no seccomp profile on the container or the pod (Unconfined by default)"
            ),
        ),
    }
    if s.apparmor.value.as_deref() == Some("Unconfined") {
        cx.emit(
            &catalog::APPARMOR,
            name,
            s.apparmor.path.clone(),
            format!("{who} runs with AppArmor Unconfined"),
        );
    }
    if let Some(t) = s.selinux_type.value.as_deref()
        && !CONTAINER_SELINUX_TYPES.contains(&t)
    {
        cx.emit(
            &catalog::SELINUX,
            name,
            s.selinux_type.path.clone(),
            format!("{who} runs with SELinux type {t}"),
        );
    }
    if s.proc_mount.value.as_deref() == Some("Unmasked") {
        cx.emit(
            &catalog::PROC_MOUNT,
            name,
            s.proc_mount.path.clone(),
            format!("{who} mounts /proc unmasked"),
        );
    }
    for (i, p) in c.ports.iter().enumerate() {
        if let Some(hp) = p.host_port.filter(|hp| *hp > 0) {
            cx.emit(
                &catalog::HOST_PORT,
                name,
                format!("{}.ports[{i}].hostPort", c.path),
                format!("{who} binds host port {hp}"),
            );
        }
    }
    // Resources and probes concern long-running containers; ephemeral debug containers may
    // not set resources at all.
    if c.role != ContainerRole::Ephemeral {
        let limits = c.resources.and_then(|r| r.limits.as_ref());
        let requests = c.resources.and_then(|r| r.requests.as_ref());
        let rpath = format!("{}.resources", c.path);
        // A LimitRange default is written into the container at admission: the container
        // runs with that limit (or request) exactly as if the manifest set it.
        let defaults = cx.limits;
        let default_limit = |k: &str| defaults.is_some_and(|d| d.limits.contains_key(k));
        let default_request = |k: &str| defaults.is_some_and(|d| d.requests.contains_key(k));
        let has_limit = |k: &str| limits.is_some_and(|l| l.contains_key(k)) || default_limit(k);
        if !has_limit("memory") {
            cx.emit(
                &catalog::MEMORY_LIMIT,
                name,
                format!("{rpath}.limits.memory"),
                format!("{who} has no memory limit"),
            );
        }
        if !has_limit("cpu") {
            cx.emit(
                &catalog::CPU_LIMIT,
                name,
                format!("{rpath}.limits.cpu"),
                format!("{who} has no CPU limit"),
            );
        }
        // A limit without a request defaults the request to the limit.
        let has = |k: &str| {
            requests.is_some_and(|r| r.contains_key(k)) || has_limit(k) || default_request(k)
        };
        let missing: Vec<&str> = ["cpu", "memory"].into_iter().filter(|k| !has(k)).collect();
        if !missing.is_empty() {
            cx.emit(
                &catalog::RESOURCE_REQUESTS,
                name,
                format!("{rpath}.requests"),
                format!("{who} has no {} request", missing.join(" or ")),
            );
        }
    }
    if c.role == ContainerRole::Main && !is_batch(pod.object.kind) {
        if c.liveness_probe.is_none() {
            cx.emit(
                &catalog::PROBES,
                name,
                format!("{}.livenessProbe", c.path),
                format!("{who} has no liveness probe"),
            );
        }
        if c.readiness_probe.is_none() {
            cx.emit(
                &catalog::PROBES,
                name,
                format!("{}.readinessProbe", c.path),
                format!("{who} has no readiness probe"),
            );
        }
    }
    image_checks(cx, c, &who);
    for (i, e) in c.env.iter().enumerate() {
        if e.value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
            .is_some()
        {
            cx.emit(
                &catalog::SECRET_IN_ENV,
                name,
                format!("{}.env[{i}].valueFrom.secretKeyRef", c.path),
                format!("{who} reads a Secret into environment variable {}", e.name),
            );
        }
        if let Some(v) = e.value.as_deref()
            && let Some(kind) = detect::credential(&e.name, v)
        {
            cx.emit(
                &catalog::CREDENTIALS_IN_ENV,
                name,
                format!("{}.env[{i}].value", c.path),
                format!("{who} has {kind} in environment variable {}", e.name),
            );
        }
    }
    for (i, e) in c.env_from.iter().enumerate() {
        if let Some(s) = &e.secret_ref {
            cx.emit(
                &catalog::SECRET_IN_ENV,
                name,
                format!("{}.envFrom[{i}].secretRef", c.path),
                format!(
                    "{who} loads every key of Secret {} into its environment",
                    s.name
                ),
            );
        }
    }
}

fn source_word(s: SettingSource) -> &'static str {
    match s {
        SettingSource::Container => "container level",
        SettingSource::Pod => "pod level, not overridden by the container",
        SettingSource::Annotation => "annotation",
        SettingSource::ServiceAccount => "ServiceAccount",
        SettingSource::Default => "default",
    }
}

/// The parts of an image reference that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `registry:5000/repo/name:tag@sha256:...` into tag and digest.
pub fn parse_image(image: &str) -> ImageRef<'_> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let tag = last.split_once(':').map(|(_, t)| t);
    ImageRef { tag, digest }
}

fn image_checks(cx: &mut Ctx<'_, '_>, c: &EffectiveContainer<'_>, who: &str) {
    let name = Some(c.name);
    let Some(image) = c.image else { return };
    let r = parse_image(image);
    let mutable = r.digest.is_none();
    let latest = matches!(r.tag, None | Some("latest"));
    if mutable && latest {
        cx.emit(
            &catalog::IMAGE_TAG,
            name,
            format!("{}.image", c.path),
            format!(
                "{who} uses image {image} with {}",
                if r.tag.is_none() {
                    "no tag (latest)"
                } else {
                    "the latest tag"
                }
            ),
        );
    }
    if mutable {
        cx.emit(
            &catalog::IMAGE_DIGEST,
            name,
            format!("{}.image", c.path),
            format!("{who} uses image {image} without a digest"),
        );
        // Kubernetes defaults the pull policy to Always for latest/untagged images.
        let policy = c
            .image_pull_policy
            .unwrap_or(if latest { "Always" } else { "IfNotPresent" });
        if policy != "Always" {
            let how = if c.image_pull_policy.is_some() {
                "is"
            } else {
                "defaults to"
            };
            cx.emit(
                &catalog::IMAGE_PULL_POLICY,
                name,
                format!("{}.imagePullPolicy", c.path),
                format!("{who} pulls mutable image {image} with a policy that {how} {policy}"),
            );
        }
    }
}

fn normalize_host_path(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        "/".to_owned()
    } else {
        t.to_owned()
    }
}

fn is_below(path: &str, dir: &str) -> bool {
    path == dir || (dir != "/" && path.starts_with(dir) && path[dir.len()..].starts_with('/'))
}

fn volumes(cx: &mut Ctx<'_, '_>) {
    let pod = cx.pod;
    let sp = pod.spec_path;
    let vols: &[Volume] = pod.spec.volumes.as_deref().unwrap_or_default();
    for (vi, v) in vols.iter().enumerate() {
        let Some(hp) = &v.host_path else { continue };
        let host = normalize_host_path(&hp.path);
        let vpath = format!("{sp}.volumes[{vi}].hostPath.path");
        // Only a mounted volume exposes anything; report once per mounting container.
        for c in &pod.containers {
            let mounts: Vec<(usize, &k8s_openapi::api::core::v1::VolumeMount)> = c
                .volume_mounts
                .iter()
                .enumerate()
                .filter(|(_, m)| m.name == v.name)
                .collect();
            if mounts.is_empty() {
                continue;
            }
            let who = format!("container {} of {}", c.name, what(pod));
            let name = Some(c.name);
            let socket = RUNTIME_SOCKETS.iter().find(|s| is_below(s, &host));
            if let Some(sock) = socket {
                let detail = if **sock == host {
                    String::new()
                } else {
                    format!(" (which contains {sock})")
                };
                cx.emit(
                    &catalog::RUNTIME_SOCKET,
                    name,
                    vpath.clone(),
                    format!("{who} mounts the container runtime socket path {host}{detail}"),
                );
            } else if let Some(dir) = SENSITIVE_HOST_PATHS.iter().find(|d| is_below(&host, d)) {
                cx.emit(
                    &catalog::HOST_PATH_SENSITIVE,
                    name,
                    vpath.clone(),
                    format!("{who} mounts the host path {host} (under {dir})"),
                );
            } else {
                cx.emit(
                    &catalog::HOST_PATH,
                    name,
                    vpath.clone(),
                    format!("{who} mounts the host path {host}"),
                );
            }
            for (mi, m) in mounts {
                if m.read_only != Some(true) {
                    cx.emit(
                        &catalog::HOST_PATH_WRITABLE,
                        name,
                        format!("{}.volumeMounts[{mi}].readOnly", c.path),
                        format!(
                            "{who} mounts the host path {host} writable at {}",
                            m.mount_path
                        ),
                    );
                }
            }
        }
    }
}
