//! The check catalog: every check's id, title, severity, rationale, remediation, OWASP
//! Kubernetes Top 10 categories and crosswalk to other scanners.
//!
//! The Checkov crosswalk is verified side by side (`tests/checkov/`); Kubescape control ids
//! and Trivy (`KSV`) ids come from those projects' published control lists.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How bad a finding is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?} (expected low, medium, high or critical)"
            )),
        }
    }
}

/// What part of the cluster a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Workload,
    Rbac,
    Network,
    Secrets,
    ClusterComponent,
    Version,
}

/// Equivalent ids in other scanners.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Crosswalk {
    pub checkov: &'static [&'static str],
    pub kubescape: &'static [&'static str],
    pub trivy: &'static [&'static str],
}

/// One check.
#[derive(Debug, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub category: Category,
    pub rationale: &'static str,
    pub remediation: &'static str,
    /// OWASP Kubernetes Top 10, e.g. `K01:2022`, `K01:2025`.
    pub owasp: &'static [&'static str],
    pub crosswalk: Crosswalk,
}

const fn cw(
    checkov: &'static [&'static str],
    kubescape: &'static [&'static str],
    trivy: &'static [&'static str],
) -> Crosswalk {
    Crosswalk {
        checkov,
        kubescape,
        trivy,
    }
}

// OWASP Kubernetes Top 10 categories used below.
const WORKLOAD: &[&str] = &["K01:2022", "K01:2025"];
const SUPPLY: &[&str] = &["K02:2022", "K01:2025"];
const RBAC: &[&str] = &["K03:2022", "K02:2025"];
const NETWORK: &[&str] = &["K07:2022", "K05:2025"];
const SECRETS: &[&str] = &["K08:2022", "K03:2025"];
const COMPONENT: &[&str] = &["K09:2022", "K07:2025"];
const AUTHN: &[&str] = &["K06:2022", "K09:2025"];
const OUTDATED: &[&str] = &["K10:2022", "K07:2025"];

macro_rules! checks {
    ($($name:ident = $id:literal, $title:literal, $sev:ident, $cat:ident, $owasp:expr, $cw:expr,
       $rationale:literal, $remediation:literal;)*) => {
        $(
            pub static $name: Check = Check {
                id: $id,
                title: $title,
                severity: Severity::$sev,
                category: Category::$cat,
                rationale: $rationale,
                remediation: $remediation,
                owasp: $owasp,
                crosswalk: $cw,
            };
        )*
        /// Every check, in report order.
        pub static ALL: &[&Check] = &[$(&$name),*];
    };
}

checks! {
    PRIVILEGED = "privileged", "Privileged container", Critical, Workload, WORKLOAD,
        cw(&["CKV_K8S_16"], &["C-0057"], &["KSV017"]),
        "A privileged container has every capability and all host devices; escaping to the node is trivial.",
        "Remove securityContext.privileged or set it to false; grant only the capabilities the process needs.";
    HOST_PID = "host-pid", "Host PID namespace shared", High, Workload, WORKLOAD,
        cw(&["CKV_K8S_17"], &["C-0038"], &["KSV010"]),
        "With hostPID the container sees and can signal or ptrace every process on the node, and read their environment.",
        "Remove spec.hostPID or set it to false.";
    HOST_IPC = "host-ipc", "Host IPC namespace shared", High, Workload, WORKLOAD,
        cw(&["CKV_K8S_18"], &["C-0038"], &["KSV008"]),
        "With hostIPC the container can read and write the shared memory of every process on the node.",
        "Remove spec.hostIPC or set it to false.";
    HOST_NETWORK = "host-network", "Host network namespace shared", High, Workload, WORKLOAD,
        cw(&["CKV_K8S_19"], &["C-0041"], &["KSV009"]),
        "With hostNetwork the container bypasses NetworkPolicies, can bind node ports and reach node-local services such as the kubelet and cloud metadata.",
        "Remove spec.hostNetwork or set it to false; expose the workload through a Service.";
    HOST_PORT = "host-port", "Container binds a host port", Medium, Workload, WORKLOAD,
        cw(&["CKV_K8S_26"], &["C-0044"], &["KSV024"]),
        "A hostPort exposes the container on the node's address, outside Service and NetworkPolicy controls.",
        "Remove ports[].hostPort and expose the workload through a Service.";
    HOST_PATH = "host-path", "hostPath volume mounted", Medium, Workload, WORKLOAD,
        cw(&[], &["C-0048"], &["KSV023"]),
        "A hostPath volume gives the container a view of the node's file system, outside the container's isolation.",
        "Use emptyDir, a ConfigMap, a Secret or a PersistentVolumeClaim instead of hostPath.";
    HOST_PATH_WRITABLE = "host-path-writable", "Writable hostPath mount", High, Workload, WORKLOAD,
        cw(&[], &["C-0045"], &["KSV023"]),
        "A container that can write to the node's file system can plant binaries, cron jobs or kubelet configuration.",
        "Mount the hostPath with readOnly: true, or avoid hostPath altogether.";
    HOST_PATH_SENSITIVE = "host-path-sensitive", "Sensitive host path mounted", Critical, Workload, WORKLOAD,
        cw(&[], &["C-0048"], &["KSV121"]),
        "Mounting /, /etc, /proc, /sys, /root, /var/lib/kubelet, /etc/kubernetes or similar exposes node credentials and configuration.",
        "Do not mount the host's system directories; give the workload only the data it needs.";
    RUNTIME_SOCKET = "container-runtime-socket", "Container runtime socket mounted", Critical, Workload, WORKLOAD,
        cw(&["CKV_K8S_27"], &["C-0074"], &["KSV006"]),
        "The Docker, containerd or CRI-O socket lets the container start privileged containers on the node: full node takeover.",
        "Remove the hostPath volume of the runtime socket.";
    PRIVILEGE_ESCALATION = "allow-privilege-escalation", "Privilege escalation allowed", Medium, Workload, WORKLOAD,
        cw(&["CKV_K8S_20"], &["C-0016"], &["KSV001"]),
        "Without no_new_privs a process can gain privileges through setuid binaries or file capabilities.",
        "Set securityContext.allowPrivilegeEscalation: false (it is forced on for privileged and CAP_SYS_ADMIN containers).";
    RUN_AS_ROOT = "run-as-root", "Container may run as root", Medium, Workload, WORKLOAD,
        cw(&["CKV_K8S_23"], &["C-0013"], &["KSV012"]),
        "Neither runAsNonRoot nor a non-zero runAsUser is set (on the container or the pod), so the image decides and many images run as root.",
        "Set runAsNonRoot: true and a non-zero runAsUser in the pod or container securityContext.";
    UID_ZERO = "uid-0", "Container runs as UID 0", High, Workload, WORKLOAD,
        cw(&["CKV_K8S_23"], &["C-0013"], &["KSV105"]),
        "runAsUser: 0 explicitly runs the process as root, which owns most files on the node if it escapes.",
        "Set runAsUser to a non-zero UID and runAsNonRoot: true.";
    GID_ZERO = "gid-0", "Container runs with GID 0", Medium, Workload, WORKLOAD,
        cw(&[], &["C-0013"], &["KSV029"]),
        "Group 0 (root) owns many sensitive files; running with it as primary or supplementary group grants access to them.",
        "Set runAsGroup, fsGroup and supplementalGroups to non-zero GIDs.";
    DANGEROUS_CAPABILITIES = "dangerous-capabilities", "Dangerous capability added", High, Workload, WORKLOAD,
        cw(&["CKV_K8S_25", "CKV_K8S_39"], &["C-0046"], &["KSV005", "KSV022"]),
        "Capabilities such as SYS_ADMIN, SYS_MODULE, SYS_PTRACE, NET_ADMIN, BPF or ALL allow container escape or host compromise.",
        "Remove the capability from securityContext.capabilities.add.";
    CAPABILITIES_NOT_DROPPED = "capabilities-not-dropped", "Default capabilities not dropped", Low, Workload, WORKLOAD,
        cw(&["CKV_K8S_28", "CKV_K8S_37"], &["C-0055"], &["KSV003"]),
        "Container runtimes grant a default set including NET_RAW (packet spoofing) and CHOWN, DAC_OVERRIDE, SETUID; few applications need them.",
        "Set securityContext.capabilities.drop: [ALL] and add back only what is needed.";
    WRITABLE_ROOT_FS = "writable-root-filesystem", "Root file system is writable", Low, Workload, WORKLOAD,
        cw(&["CKV_K8S_22"], &["C-0017"], &["KSV014"]),
        "A writable root file system lets an attacker modify the application and drop tools.",
        "Set securityContext.readOnlyRootFilesystem: true and mount emptyDir where writes are needed.";
    SECCOMP = "seccomp-unconfined", "No seccomp profile", Medium, Workload, WORKLOAD,
        cw(&["CKV_K8S_31"], &["C-0210"], &["KSV030", "KSV104"]),
        "Without a seccomp profile (or with Unconfined) the full kernel syscall surface is reachable, which most container escapes use.",
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost with a profile).";
    APPARMOR = "apparmor-unconfined", "AppArmor disabled", Medium, Workload, WORKLOAD,
        cw(&[], &["C-0055"], &["KSV002"]),
        "An Unconfined AppArmor profile removes the runtime's default mandatory access control.",
        "Remove the Unconfined AppArmor profile (or set appArmorProfile.type: RuntimeDefault).";
    SELINUX = "selinux-custom-type", "Custom SELinux type", Medium, Workload, WORKLOAD,
        cw(&[], &["C-0055"], &["KSV025"]),
        "An SELinux type other than the container types (for example spc_t) lifts the container's confinement.",
        "Remove seLinuxOptions.type or use container_t, container_init_t or container_kvm_t.";
    PROC_MOUNT = "proc-mount-unmasked", "Unmasked /proc", High, Workload, WORKLOAD,
        cw(&[], &[], &["KSV027"]),
        "procMount: Unmasked exposes /proc paths the runtime hides, such as /proc/sys and /proc/sysrq-trigger.",
        "Remove securityContext.procMount or set it to Default.";
    UNSAFE_SYSCTLS = "unsafe-sysctls", "Unsafe sysctl set", High, Workload, WORKLOAD,
        cw(&[], &[], &["KSV026"]),
        "Sysctls outside the safe set affect the whole node or other pods.",
        "Remove the sysctl from spec.securityContext.sysctls.";
    SHARE_PROCESS_NAMESPACE = "share-process-namespace", "Process namespace shared between containers", Low, Workload, WORKLOAD,
        cw(&[], &[], &[]),
        "Containers of the pod can see and signal each other's processes and read their file systems through /proc.",
        "Remove spec.shareProcessNamespace unless a sidecar needs it.";
    MEMORY_LIMIT = "memory-limit", "No memory limit", Medium, Workload, WORKLOAD,
        cw(&["CKV_K8S_13"], &["C-0004"], &["KSV018"]),
        "A container without a memory limit can exhaust the node's memory and get other workloads evicted.",
        "Set resources.limits.memory.";
    CPU_LIMIT = "cpu-limit", "No CPU limit", Low, Workload, WORKLOAD,
        cw(&["CKV_K8S_11"], &["C-0050"], &["KSV011"]),
        "A container without a CPU limit can starve other workloads on the node.",
        "Set resources.limits.cpu.";
    RESOURCE_REQUESTS = "resource-requests", "No CPU or memory request", Low, Workload, WORKLOAD,
        cw(&["CKV_K8S_10", "CKV_K8S_12"], &["C-0050", "C-0004"], &["KSV015", "KSV016"]),
        "Without requests the scheduler cannot place the pod safely and it is the first to be evicted.",
        "Set resources.requests.cpu and resources.requests.memory.";
    IMAGE_TAG = "image-mutable-tag", "Image uses latest or no tag", Medium, Workload, SUPPLY,
        cw(&["CKV_K8S_14"], &["C-0075"], &["KSV013"]),
        "A :latest or missing tag means the running code can change without a change to the manifest.",
        "Pin the image to a version tag, or better a digest (image@sha256:...).";
    IMAGE_DIGEST = "image-no-digest", "Image not pinned by digest", Low, Workload, SUPPLY,
        cw(&["CKV_K8S_43"], &[], &[]),
        "A tag can be moved to different content by whoever controls the registry.",
        "Reference the image by digest (image@sha256:...).";
    IMAGE_PULL_POLICY = "image-pull-policy", "Mutable image not always pulled", Low, Workload, SUPPLY,
        cw(&["CKV_K8S_15"], &["C-0075"], &[]),
        "With imagePullPolicy IfNotPresent or Never and a mutable tag, a node may run a stale image, or an image another pod pulled without this pod's registry credentials.",
        "Pin the image by digest, or set imagePullPolicy: Always.";
    AUTOMOUNT_TOKEN = "automount-service-account-token", "Service account token mounted", Medium, Workload, AUTHN,
        cw(&["CKV_K8S_38"], &["C-0034"], &["KSV036"]),
        "A mounted token lets anyone who compromises the container call the API server as the workload's ServiceAccount.",
        "Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls the API server.";
    DEFAULT_SERVICE_ACCOUNT = "default-service-account", "Workload uses the default ServiceAccount", Low, Workload, RBAC,
        cw(&[], &["C-0189"], &[]),
        "Every pod of the namespace shares the default ServiceAccount, so permissions granted to it go to all of them.",
        "Create a ServiceAccount per workload and set serviceAccountName.";
    SECRET_IN_ENV = "secret-in-env", "Secret exposed as environment variable", Low, Secrets, SECRETS,
        cw(&["CKV_K8S_35"], &["C-0207"], &[]),
        "Environment variables leak through /proc/<pid>/environ, crash dumps, logs and child processes.",
        "Mount the Secret as a file (secret volume) instead of env/envFrom.";
    CREDENTIALS_IN_ENV = "credentials-in-env", "Credentials in environment variable value", High, Secrets, SECRETS,
        cw(&[], &["C-0012"], &[]),
        "A literal credential in the manifest is visible to everyone who can read the workload or its source.",
        "Store the value in a Secret (or an external secret store) and mount it as a file.";
    CONFIGMAP_CREDENTIALS = "configmap-credentials", "Credentials in a ConfigMap", High, Secrets, SECRETS,
        cw(&[], &["C-0012"], &[]),
        "ConfigMaps are not treated as secret: they are readable by more subjects, logged and not encrypted at rest.",
        "Move the value into a Secret (or an external secret store) and rotate it.";
    LEGACY_TOKEN_SECRET = "legacy-service-account-token", "Long-lived ServiceAccount token Secret", Medium, Secrets, SECRETS,
        cw(&[], &[], &[]),
        "A kubernetes.io/service-account-token Secret holds a token that never expires and outlives the pods that use it.",
        "Delete the Secret and use projected, short-lived tokens (TokenRequest).";
    DEFAULT_NAMESPACE = "default-namespace", "Workload in the default namespace", Low, Workload, WORKLOAD,
        cw(&["CKV_K8S_21"], &["C-0061"], &["KSV110"]),
        "The default namespace is shared by everything without a namespace, so policies and RBAC for it are hard to scope.",
        "Deploy the workload into a dedicated namespace.";
    PROBES = "missing-probes", "Liveness or readiness probe missing", Low, Workload, WORKLOAD,
        cw(&["CKV_K8S_8", "CKV_K8S_9"], &["C-0056", "C-0018"], &[]),
        "Without probes a hung or compromised container keeps receiving traffic and is never restarted.",
        "Define livenessProbe and readinessProbe on every long-running container.";
    NETPOL_INGRESS = "no-default-deny-ingress", "No default-deny ingress NetworkPolicy", Medium, Network, NETWORK,
        cw(&["CKV2_K8S_6"], &["C-0260"], &[]),
        "Without a NetworkPolicy selecting a pod for ingress, every pod in the cluster can connect to it.",
        "Add a NetworkPolicy with podSelector: {} and policyTypes: [Ingress] to the namespace, then allow what is needed.";
    NETPOL_EGRESS = "no-default-deny-egress", "No default-deny egress NetworkPolicy", Low, Network, NETWORK,
        cw(&[], &["C-0030"], &[]),
        "Without egress policy a compromised pod can reach every service, the API server and cloud metadata endpoints.",
        "Add a NetworkPolicy with podSelector: {} and policyTypes: [Egress] to the namespace, then allow what is needed.";
    RBAC_CLUSTER_ADMIN = "rbac-cluster-admin-equivalent", "Subject can reach cluster-admin", Critical, Rbac, RBAC,
        cw(&[], &["C-0035", "C-0185"], &["KSV111"]),
        "The subject holds every permission, or can obtain it (impersonation, bind/escalate, or stealing the token of an admin ServiceAccount).",
        "Bind a narrower role; remove the permissions listed in the finding's path.";
    RBAC_WILDCARD = "rbac-wildcard", "Wildcard in granted RBAC rule", High, Rbac, RBAC,
        cw(&["CKV_K8S_49"], &["C-0187"], &["KSV044", "KSV045", "KSV046"]),
        "A * in verbs, resources or apiGroups grants today's and every future resource, including ones added by CRDs.",
        "List the verbs, resources and API groups explicitly.";
    RBAC_SECRETS = "rbac-read-secrets", "Subject can read Secrets", High, Rbac, RBAC,
        cw(&["CKV2_K8S_5"], &["C-0015", "C-0186"], &["KSV041"]),
        "Reading Secrets yields ServiceAccount tokens and credentials, usually a step to more privilege.",
        "Restrict get/list/watch on secrets to named Secrets (resourceNames) or remove it.";
    RBAC_CREATE_PODS = "rbac-create-workloads", "Subject can create pods or workload controllers", High, Rbac, RBAC,
        cw(&[], &["C-0188"], &["KSV048"]),
        "Creating pods (directly or through a controller) lets the subject run as any ServiceAccount of the namespace and mount any Secret.",
        "Remove create on pods, deployments, daemonsets, statefulsets, replicasets, jobs and cronjobs.";
    RBAC_EXEC = "rbac-exec", "Subject can exec, attach or add ephemeral containers", High, Rbac, RBAC,
        cw(&[], &["C-0002"], &["KSV053", "KSV054"]),
        "pods/exec, pods/attach and pods/ephemeralcontainers give a shell inside running pods with their tokens and secrets.",
        "Remove create on pods/exec and pods/attach and patch/update on pods/ephemeralcontainers.";
    RBAC_NODES_PROXY = "rbac-nodes-proxy", "Subject can use nodes/proxy", High, Rbac, RBAC,
        cw(&[], &[], &["KSV047"]),
        "nodes/proxy reaches the kubelet API, which can run commands in any pod on the node, bypassing audit of pods/exec.",
        "Grant nodes/metrics or nodes/stats instead of nodes/proxy.";
    RBAC_ESCALATE = "rbac-escalate-bind", "Subject can escalate or bind roles", Critical, Rbac, RBAC,
        cw(&["CKV_K8S_157", "CKV_K8S_158"], &[], &[]),
        "escalate and bind bypass RBAC's privilege-escalation prevention: the subject can grant itself any role.",
        "Remove escalate and bind on roles and clusterroles.";
    RBAC_IMPERSONATE = "rbac-impersonate", "Subject can impersonate", Critical, Rbac, RBAC,
        cw(&["CKV2_K8S_3"], &["C-0065"], &[]),
        "Impersonating users, groups or ServiceAccounts lets the subject act as anyone, including system:masters.",
        "Remove impersonate.";
    RBAC_CSR_APPROVE = "rbac-csr-approve", "Subject can approve certificate signing requests", High, Rbac, RBAC,
        cw(&["CKV_K8S_156"], &[], &[]),
        "Approving CSRs lets the subject mint client certificates for any user or group, such as system:masters.",
        "Remove update on certificatesigningrequests/approval and approve on signers.";
    RBAC_SA_TOKEN = "rbac-serviceaccount-token", "Subject can mint ServiceAccount tokens", High, Rbac, RBAC,
        cw(&[], &[], &[]),
        "create on serviceaccounts/token mints a token for any ServiceAccount of the namespace, with all its permissions.",
        "Remove create on serviceaccounts/token.";
    RBAC_WEBHOOKS = "rbac-webhook-configurations", "Subject can change admission webhooks", High, Rbac, RBAC,
        cw(&["CKV_K8S_155"], &[], &["KSV114"]),
        "Controlling admission webhooks lets the subject see or rewrite every object sent to the API server, or disable policy.",
        "Remove write access to validating/mutatingwebhookconfigurations.";
    RBAC_NAMESPACE_PATCH = "rbac-namespace-write", "Subject can modify namespaces", Medium, Rbac, RBAC,
        cw(&[], &[], &[]),
        "Patching a namespace removes its Pod Security Admission labels and so the workload restrictions they enforce.",
        "Remove patch/update on namespaces.";
    RBAC_ANONYMOUS = "rbac-anonymous-binding", "Permissions granted to unauthenticated users", Critical, Rbac, AUTHN,
        cw(&[], &["C-0262"], &[]),
        "Bindings to system:anonymous or system:unauthenticated give anyone who reaches the API server these permissions.",
        "Remove the subject from the binding.";
    RBAC_AUTHENTICATED = "rbac-authenticated-binding", "Permissions granted to every authenticated user", High, Rbac, AUTHN,
        cw(&[], &["C-0265"], &[]),
        "system:authenticated includes every ServiceAccount and, on many clouds, every account of the provider.",
        "Bind the permissions to specific users, groups or ServiceAccounts.";
    RBAC_MASTERS = "rbac-system-masters", "Binding to system:masters", High, Rbac, AUTHN,
        cw(&[], &[], &[]),
        "system:masters bypasses RBAC entirely and cannot be revoked by removing bindings; a certificate for it is permanent cluster-admin.",
        "Bind named administrators to cluster-admin instead of using system:masters.";
    DANGLING_BINDING = "rbac-dangling-binding", "Binding to a missing role", Low, Rbac, RBAC,
        cw(&[], &[], &[]),
        "The binding grants nothing today, but whoever creates a role with that name decides what its subjects get.",
        "Delete the binding or create the role it refers to.";
    COMPONENT_FLAG = "component-insecure-flag", "Cluster component insecurely configured", High, ClusterComponent, COMPONENT,
        cw(&[], &[], &[]),
        "The API server, kubelet, etcd, controller manager and scheduler flags decide authentication, authorization, encryption and audit for the whole cluster (CIS Kubernetes Benchmark).",
        "Set the flag as given in the finding's message.";
    ENCRYPTION_AT_REST = "secrets-encryption-at-rest", "Secrets not encrypted at rest", High, ClusterComponent, SECRETS,
        cw(&[], &["C-0066"], &[]),
        "Without --encryption-provider-config (or with only the identity provider first) Secrets are stored in etcd in plain text.",
        "Configure an EncryptionConfiguration with aescbc, aesgcm, secretbox or a KMS provider first, and pass --encryption-provider-config.";
    ENCRYPTION_WEAK_PROVIDER = "secrets-encryption-weak-provider", "Secrets encrypted with a weak provider", Medium, ClusterComponent, SECRETS,
        cw(&[], &["C-0066"], &[]),
        "aescbc is vulnerable to padding-oracle attacks and is no longer recommended; KMS v1 is deprecated (off by default since Kubernetes 1.29) and re-encrypts through a slow, unsupported path.",
        "Use a KMS v2 provider, or secretbox, or aesgcm with automated key rotation, as the first provider for secrets.";
    ENCRYPTION_KEY_IN_CONFIG = "secrets-encryption-key-in-config", "Encryption key stored in plain text", Medium, ClusterComponent, SECRETS,
        cw(&[], &[], &[]),
        "With aescbc, aesgcm or secretbox the key that protects every Secret sits base64-encoded in the configuration file on each control-plane node, so anyone who reads that file or a backup of it can decrypt etcd.",
        "Use a KMS v2 provider so that the key-encryption key stays in an external key management service.";
    OUTDATED_VERSION = "kubernetes-version-vulnerable", "Kubernetes version has known vulnerabilities", High, Version, OUTDATED,
        cw(&[], &["C-0273"], &[]),
        "The cluster or a node runs a Kubernetes version affected by a published Kubernetes CVE.",
        "Upgrade to a patch release that fixes the listed CVEs.";
}

/// Looks a check up by id.
pub fn by_id(id: &str) -> Option<&'static Check> {
    ALL.iter().copied().find(|c| c.id == id)
}
