//! Every check against its fixtures, plus the inheritance and RBAC cases that scanners which
//! read fields in isolation get wrong.
//!
//! `testdata/fixtures/<check-id>.fail.yaml` must raise the check and
//! `<check-id>.pass.yaml` must not (except on resources named by a `# allow: Kind/name` line).

use std::path::Path;

use expect_test::{Expect, expect};
use kestrel_k8s::Inventory;
use kestrel_k8s::load::{load_path, load_str};
use kestrel_posture::catalog::{self, Category};
use kestrel_posture::exceptions::Exceptions;
use kestrel_posture::{Report, scan};

fn scan_file(path: &Path) -> Report {
    let mut inv = Inventory::new();
    load_path(&mut inv, path).unwrap_or_else(|e| panic!("{e}"));
    scan(&inv)
}

/// Checks that need inputs other than manifests (component flags, versions) have their own
/// tests; every other check must have both fixtures.
fn needs_fixtures(c: &catalog::Check) -> bool {
    !matches!(c.category, Category::ClusterComponent | Category::Version)
}

#[test]
fn every_check_fails_its_failing_fixture_and_passes_its_passing_one() {
    let dir = Path::new("testdata/fixtures");
    let mut problems = Vec::new();
    for c in catalog::ALL.iter().filter(|c| needs_fixtures(c)) {
        let fail = dir.join(format!("{}.fail.yaml", c.id));
        let pass = dir.join(format!("{}.pass.yaml", c.id));
        if !fail.exists() || !pass.exists() {
            problems.push(format!("{}: missing fixture", c.id));
            continue;
        }
        let r = scan_file(&fail);
        if !r.findings.iter().any(|f| f.check.id == c.id) {
            problems.push(format!("{}: not raised by {}", c.id, fail.display()));
        }
        let allowed: Vec<String> = std::fs::read_to_string(&pass)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("# allow: ").map(str::to_owned))
            .collect();
        let r = scan_file(&pass);
        for f in r.findings.iter().filter(|f| f.check.id == c.id) {
            let who = format!("{}/{}", f.resource.kind, f.resource.name);
            if !allowed.contains(&who) {
                problems.push(format!(
                    "{}: raised by {} on {who}: {}",
                    c.id,
                    pass.display(),
                    f.message
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn hardened_pod_has_no_findings() {
    hardened_pod_has_only_network_findings("testdata/fixtures/hardened.pass.yaml");
    // The same pod without resources, in a namespace whose LimitRange supplies them.
    hardened_pod_has_only_network_findings("testdata/fixtures/limit-range-defaults.pass.yaml");
}

fn hardened_pod_has_only_network_findings(path: &str) {
    let r = scan_file(Path::new(path));
    let got: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{} {}", f.check.id, f.path))
        .collect();
    // Network policies are a namespace concern: a lone hardened pod is still reachable.
    assert_eq!(
        got,
        [
            "no-default-deny-ingress metadata.labels",
            "no-default-deny-egress metadata.labels"
        ]
    );
}

/// Renders findings of the given checks, one per line.
fn check(ids: &[&str], yaml: &str, expect: Expect) {
    let mut inv = Inventory::new();
    load_str(&mut inv, yaml, "test.yaml").unwrap();
    let r = scan(&inv);
    let mut out = String::new();
    for f in r.findings.iter().filter(|f| ids.contains(&f.check.id)) {
        out.push_str(&format!(
            "{} {} [{}] {}\n  {}\n",
            f.check.id,
            f.resource,
            f.container.as_deref().unwrap_or("-"),
            f.path,
            f.message
        ));
    }
    expect.assert_eq(&out);
}

#[test]
fn pod_level_settings_are_inherited_and_overridden_per_container() {
    check(
        &["run-as-root", "uid-0", "seccomp-unconfined"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      initContainers:
      - {name: migrate, image: "m:1"}
      containers:
      - {name: api, image: "a:1"}
      - {name: root-sidecar, image: "s:1", securityContext: {runAsNonRoot: false, runAsUser: 0}}
      - {name: unconfined, image: "u:1", securityContext: {seccompProfile: {type: Unconfined}}}
"#,
        expect![[r#"
            uid-0 Deployment/shop/api [root-sidecar] spec.template.spec.containers[1].securityContext.runAsUser
              container root-sidecar of Deployment api runs as UID 0 (set at container level)
            seccomp-unconfined Deployment/shop/api [unconfined] spec.template.spec.containers[2].securityContext.seccompProfile.type
              container unconfined of Deployment api runs with seccomp profile Unconfined
        "#]],
    );
}

#[test]
fn privileged_containers_cannot_disable_privilege_escalation() {
    check(
        &["allow-privilege-escalation"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: n}
spec:
  containers:
  - {name: priv, image: "a:1", securityContext: {privileged: true, allowPrivilegeEscalation: false}}
  - {name: admin, image: "a:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {add: [SYS_ADMIN]}}}
  - {name: fine, image: "a:1", securityContext: {allowPrivilegeEscalation: false}}
"#,
        expect![[r#"
            allow-privilege-escalation Pod/n/p [admin] spec.containers[1].securityContext.capabilities.add
              container admin of Pod p can gain privileges: CAP_SYS_ADMIN always allows escalation
            allow-privilege-escalation Pod/n/p [priv] spec.containers[0].securityContext.privileged
              container priv of Pod p can gain privileges: privileged containers always allow escalation
        "#]],
    );
}

#[test]
fn token_mounting_follows_the_service_account() {
    check(
        &["automount-service-account-token", "default-service-account"],
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: n}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Pod
metadata: {name: quiet, namespace: n}
spec: {containers: [{name: c, image: "a:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: loud, namespace: n}
spec: {automountServiceAccountToken: true, containers: [{name: c, image: "a:1"}]}
"#,
        expect![[r#"
            automount-service-account-token Pod/n/loud [-] spec.automountServiceAccountToken
              Pod loud mounts the token of ServiceAccount default: the pod sets automountServiceAccountToken: true
            default-service-account Pod/n/loud [-] spec.serviceAccountName
              Pod loud runs as the namespace's default ServiceAccount with its token mounted
        "#]],
    );
}

#[test]
fn bindings_to_built_in_roles_are_resolved_and_admin_paths_found() {
    check(
        &[
            "rbac-cluster-admin-equivalent",
            "rbac-dangling-binding",
            "rbac-read-secrets",
        ],
        include_str!("../../kestrel-k8s/testdata/k8s-api/applied-manifests.yaml"),
        expect![[r#"
            rbac-cluster-admin-equivalent RoleBinding/shop-prod/web-deployer [-] subjects[0]
              ServiceAccount shop-prod/web is cluster-admin equivalent: can create pods in namespace shop-prod (through RoleBinding/shop-prod/web-deployer) and so obtain the token of ServiceAccount shop-prod/ci-deployer; then holds * on * cluster-wide through ClusterRoleBinding/ci-cluster-admin (ClusterRole/cluster-admin)
            rbac-cluster-admin-equivalent ClusterRoleBinding/ci-cluster-admin [-] subjects[0]
              ServiceAccount shop-prod/ci-deployer is cluster-admin equivalent: holds * on * cluster-wide through ClusterRoleBinding/ci-cluster-admin (ClusterRole/cluster-admin)
            rbac-read-secrets RoleBinding/shop-prod/web-deployer [-] subjects[0]
              ServiceAccount shop-prod/web can read Secrets (get secrets) in namespace shop-prod via Role/shop-prod/deployer rules[1]
            rbac-read-secrets ClusterRoleBinding/operator-binding [-] subjects[0]
              Group shop-operators can read Secrets (get secrets) cluster-wide via ClusterRole/shop-operator-secrets rules[0]
        "#]],
    );
}

#[test]
fn cluster_dump_findings() {
    let r = scan_file(Path::new(
        "../kestrel-k8s/testdata/k8s-api/cluster-dump.json",
    ));
    let mut lines: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.check.severity >= kestrel_posture::Severity::High)
        .map(|f| format!("{} {} {}", f.check.severity, f.check.id, f.resource))
        .collect();
    lines.dedup();
    expect![[r#"
        critical host-path-sensitive Pod/monitoring/node-debugger
        critical privileged Pod/monitoring/node-debugger
        critical rbac-cluster-admin-equivalent RoleBinding/shop-prod/web-deployer
        critical rbac-cluster-admin-equivalent ClusterRoleBinding/ci-cluster-admin
        high host-network Pod/monitoring/node-debugger
        high host-path-writable Pod/monitoring/node-debugger
        high host-pid Pod/monitoring/node-debugger
        high rbac-create-workloads RoleBinding/shop-prod/web-deployer
        high rbac-exec RoleBinding/shop-prod/web-deployer
        high rbac-read-secrets RoleBinding/shop-prod/web-deployer
        high rbac-wildcard RoleBinding/shop-prod/web-deployer
        high rbac-nodes-proxy ClusterRoleBinding/agent-node-metrics
        high rbac-wildcard ClusterRoleBinding/ci-cluster-admin
        high rbac-read-secrets ClusterRoleBinding/operator-binding
        high configmap-credentials ConfigMap/shop-staging/legacy-settings
    "#]]
    .assert_eq(&(lines.join("\n") + "\n"));
}

#[test]
fn exceptions_apply_until_they_expire() {
    let mut inv = Inventory::new();
    load_path(
        &mut inv,
        Path::new("testdata/fixtures/host-network.fail.yaml"),
    )
    .unwrap();
    let yaml = r#"
exceptions:
  - check: host-network
    namespace: app
    kind: Pod
    name: h*
    reason: CNI agent needs the node network
    expires: 2026-12-01
  - check: "*"
    name: other
    reason: unrelated
"#;
    let ex = Exceptions::parse(yaml, "exceptions.yaml").unwrap();
    let before = jiff::civil::date(2026, 11, 30);
    let mut r = scan(&inv);
    ex.apply(&mut r, before);
    assert!(r.findings.iter().all(|f| f.check.id != "host-network"));
    assert_eq!(r.suppressed.len(), 1);
    assert!(r.expired.is_empty());

    let on_expiry = jiff::civil::date(2026, 12, 1);
    let mut r = scan(&inv);
    ex.apply(&mut r, on_expiry);
    assert!(r.findings.iter().any(|f| f.check.id == "host-network"));
    assert!(r.suppressed.is_empty());
    assert_eq!(r.expired.len(), 1);
    assert_eq!(r.expired[0].reason, "CNI agent needs the node network");
}

#[test]
fn exception_files_are_validated() {
    let e = Exceptions::parse(
        "exceptions:\n  - {check: privileged-container, reason: x}\n",
        "ex.yaml",
    )
    .unwrap_err();
    expect![[r#"ex.yaml: exceptions[0]: unknown check id "privileged-container" (see `docs/posture.md` for the list, or use "*")"#]].assert_eq(&e.to_string());
    let e = Exceptions::parse(
        "exceptions:\n  - {check: privileged, reason: ' '}\n",
        "ex.yaml",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ex.yaml: exceptions[0]: a reason is required"
    );
    let e = Exceptions::parse(
        "exceptions:\n  - {check: privileged, reason: r, expires: tomorrow}\n",
        "ex.yaml",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("ex.yaml: not a valid exceptions file"),
        "{e}"
    );
    let e = Exceptions::parse(
        "exceptions:\n  - {check: privileged, reason: r, namespcae: x}\n",
        "ex.yaml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("namespcae"), "{e}");
}

#[test]
fn catalog_entries_are_complete_and_unique() {
    let mut ids = std::collections::BTreeSet::new();
    for c in catalog::ALL {
        assert!(ids.insert(c.id), "duplicate id {}", c.id);
        assert!(
            !c.title.is_empty() && !c.rationale.is_empty() && !c.remediation.is_empty(),
            "{}",
            c.id
        );
        assert!(
            c.owasp.iter().any(|o| o.ends_with(":2022"))
                && c.owasp.iter().any(|o| o.ends_with(":2025")),
            "{}",
            c.id
        );
    }
}

#[test]
fn control_plane_flags_and_versions_from_static_pods() {
    check(
        &[
            "component-insecure-flag",
            "secrets-encryption-at-rest",
            "kubernetes-version-vulnerable",
        ],
        include_str!("../testdata/static-pods/kubeadm-defaults.yaml"),
        expect![[r#"
            component-insecure-flag Pod/kube-system/kube-apiserver-cp-1 [kube-apiserver] spec.containers[0].command[--anonymous-auth]
              kube-apiserver: anonymous requests are accepted (CIS 1.2.1) (unset); set --anonymous-auth=false
            component-insecure-flag Pod/kube-system/kube-apiserver-cp-1 [kube-apiserver] spec.containers[0].command[--audit-log-path]
              kube-apiserver: audit logging is disabled (CIS 1.2.16) (unset); set --audit-log-path and --audit-policy-file
            component-insecure-flag Pod/kube-system/kube-apiserver-cp-1 [kube-apiserver] spec.containers[0].command[--kubelet-certificate-authority]
              kube-apiserver: kubelet serving certificates are not verified (CIS 1.2.5) (unset); set --kubelet-certificate-authority
            component-insecure-flag Pod/kube-system/kube-apiserver-cp-1 [kube-apiserver] spec.containers[0].command[--profiling]
              kube-apiserver: profiling endpoints are enabled (CIS 1.2.15) (unset); set --profiling=false
            kubernetes-version-vulnerable Pod/kube-system/kube-apiserver-cp-1 [kube-apiserver] spec.containers[0].image
              kube-apiserver 1.25.9 is affected by 3 Kubernetes CVEs: CVE-2023-2727, CVE-2023-2728, CVE-2024-3177
            secrets-encryption-at-rest Pod/kube-system/kube-apiserver-cp-1 [kube-apiserver] spec.containers[0].command[--encryption-provider-config]
              kube-apiserver has no --encryption-provider-config: Secrets are stored in etcd unencrypted (CIS 1.2.27)
            component-insecure-flag Pod/kube-system/kube-controller-manager-cp-1 [kube-controller-manager] spec.containers[0].command[--profiling]
              kube-controller-manager: profiling endpoints are enabled (CIS 1.3.2) (unset); set --profiling=false
            component-insecure-flag Pod/kube-system/kube-scheduler-cp-1 [kube-scheduler] spec.containers[0].command[--profiling]
              kube-scheduler: profiling endpoints are enabled (CIS 1.4.1) (unset); set --profiling=false
        "#]],
    );
    // The same API server hardened: only the version remains.
    let hardened = include_str!("../testdata/static-pods/kubeadm-defaults.yaml").replace(
        "    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key\n",
        "    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key\n    - --anonymous-auth=false\n    - --profiling=false\n    - --audit-log-path=/var/log/audit.log\n    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt\n    - --encryption-provider-config=/etc/kubernetes/enc.yaml\n",
    ).replace("registry.k8s.io/kube-apiserver:v1.25.9", "registry.k8s.io/kube-apiserver:v1.31.2");
    let mut inv = Inventory::new();
    load_str(&mut inv, &hardened, "hardened.yaml").unwrap();
    let r = scan(&inv);
    let left: Vec<String> = r
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.check.category,
                Category::ClusterComponent | Category::Version
            ) && f.resource.name.starts_with("kube-apiserver")
        })
        .map(|f| f.message.clone())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn kubelet_configuration_files() {
    let mut inv = Inventory::new();
    load_path(
        &mut inv,
        Path::new("testdata/static-pods/kubelet-config.yaml"),
    )
    .unwrap();
    let r = scan(&inv);
    let got: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{} {} {}", f.check.id, f.resource, f.path))
        .collect();
    expect![[r#"
        component-insecure-flag KubeletConfiguration/kubelet-config.yaml authentication.anonymous.enabled
        component-insecure-flag KubeletConfiguration/kubelet-config.yaml authorization.mode
        component-insecure-flag KubeletConfiguration/kubelet-config.yaml readOnlyPort
    "#]]
    .assert_eq(&(got.join("\n") + "\n"));
    // A file that sets nothing keeps the secure defaults.
    let mut inv = Inventory::new();
    load_str(&mut inv, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n", "config.yaml").unwrap();
    assert!(scan(&inv).findings.is_empty());
}

#[test]
fn limit_range_defaults_satisfy_resource_checks() {
    // `team-a` defaults limits and requests; `team-b` sets only `max` for memory, which the
    // API server turns into the default limit and request; `team-c` has a LimitRange for
    // Pods only, which defaults nothing in containers.
    check(
        &["memory-limit", "cpu-limit", "resource-requests"],
        r#"
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: team-a}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
---
apiVersion: v1
kind: LimitRange
metadata: {name: ceiling, namespace: team-b}
spec:
  limits:
  - type: Container
    max: {memory: 1Gi}
---
apiVersion: v1
kind: LimitRange
metadata: {name: per-pod, namespace: team-c}
spec:
  limits:
  - type: Pod
    max: {cpu: "2", memory: 2Gi}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: team-a}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      initContainers: [{name: migrate, image: "m:1"}]
      containers: [{name: api, image: "a:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: team-b}
spec: {containers: [{name: w, image: "w:1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: team-c}
spec: {containers: [{name: b, image: "b:1"}]}
"#,
        expect![[r#"
            memory-limit Pod/team-c/batch [b] spec.containers[0].resources.limits.memory
              container b of Pod batch has no memory limit
            cpu-limit Pod/team-b/worker [w] spec.containers[0].resources.limits.cpu
              container w of Pod worker has no CPU limit
            resource-requests Pod/team-b/worker [w] spec.containers[0].resources.requests
              container w of Pod worker has no cpu request
            cpu-limit Pod/team-c/batch [b] spec.containers[0].resources.limits.cpu
              container b of Pod batch has no CPU limit
            resource-requests Pod/team-c/batch [b] spec.containers[0].resources.requests
              container b of Pod batch has no cpu or memory request
        "#]],
    );
}

#[test]
fn encryption_configuration_files() {
    let files = [
        (
            "identity-first.yaml",
            "resources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n  - aesgcm: {keys: [{name: k1, secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==}]}\n",
        ),
        (
            "no-secrets.yaml",
            "resources:\n- resources: [configmaps]\n  providers:\n  - secretbox: {keys: [{name: k1, secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==}]}\n",
        ),
        (
            "aescbc.yaml",
            "resources:\n- resources: [secrets, configmaps]\n  providers:\n  - aescbc: {keys: [{name: k2, secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==}, {name: k1, secret: b2xkIGtleQ==}]}\n  - identity: {}\n",
        ),
        (
            "kms-v1.yaml",
            "resources:\n- resources: ['*.*']\n  providers:\n  - kms: {name: vault, endpoint: 'unix:///run/kms.sock', cachesize: 1000}\n  - identity: {}\n",
        ),
        // Compliant: KMS v2 first (identity after it only reads data written before).
        (
            "kms-v2.yaml",
            "resources:\n- resources: [secrets]\n  providers:\n  - kms: {apiVersion: v2, name: vault, endpoint: 'unix:///run/kms.sock'}\n  - identity: {}\n",
        ),
    ];
    let mut inv = Inventory::new();
    for (name, body) in files {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n{body}"
        );
        load_str(&mut inv, &text, name).unwrap();
    }
    let r = scan(&inv);
    let got: String = r
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}\n  {}\n",
                f.check.id, f.resource, f.path, f.message
            )
        })
        .collect();
    expect![[r#"
        secrets-encryption-at-rest EncryptionConfiguration/identity-first.yaml resources[0].providers[0].identity
          identity is the first provider for secrets: new Secrets are written to etcd in plain text (the providers after it, aesgcm, only decrypt what was written earlier) (CIS 1.2.27); put an encrypting provider first
        secrets-encryption-at-rest EncryptionConfiguration/no-secrets.yaml resources
          no resources entry names secrets (or *. / *.*): Secrets are stored in etcd unencrypted (CIS 1.2.27); add an entry for secrets
        secrets-encryption-key-in-config EncryptionConfiguration/aescbc.yaml resources[0].providers[0].aescbc.keys
          the aescbc keys (k2, k1) protecting Secrets are stored in this file in plain text: whoever reads it (or a backup of it) decrypts etcd; use kms v2
        secrets-encryption-weak-provider EncryptionConfiguration/aescbc.yaml resources[0].providers[0].aescbc
          secrets are encrypted with aescbc, which is open to padding-oracle attacks and no longer recommended (CIS 1.2.28); use kms v2, secretbox, or aesgcm with key rotation
        secrets-encryption-weak-provider EncryptionConfiguration/kms-v1.yaml resources[0].providers[0].kms.apiVersion
          secrets are encrypted with KMS v1, deprecated and disabled by default since Kubernetes 1.29; set apiVersion: v2
    "#]].assert_eq(&got);
}

#[test]
fn cluster_version_from_a_saved_version_response() {
    // `kubectl get --raw /version`, as recorded from the v1.25.9 API server.
    let mut inv = Inventory::new();
    load_str(
        &mut inv,
        include_str!("../../kestrel-k8s/testdata/k8s-api/version.json"),
        "version.json",
    )
    .unwrap();
    let r = scan(&inv);
    let got: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("{} {} {}: {}", f.check.id, f.resource, f.path, f.message))
        .collect();
    expect![[r#"
        kubernetes-version-vulnerable Cluster/version.json /version.gitVersion: the API server 1.25.9 is affected by 3 Kubernetes CVEs: CVE-2023-2727, CVE-2023-2728, CVE-2024-3177
    "#]]
    .assert_eq(&(got.join("\n") + "\n"));
    // `kubectl version -o json` nests it under serverVersion; a patched release has no CVE.
    let mut inv = Inventory::new();
    load_str(
        &mut inv,
        r#"{"clientVersion": {"major": "1", "minor": "31", "gitVersion": "v1.31.2"}, "serverVersion": {"major": "1", "minor": "31", "gitVersion": "v1.31.2-eks-7f9249a", "platform": "linux/amd64"}}"#,
        "kubectl-version.json",
    )
    .unwrap();
    assert_eq!(
        inv.cluster_version.as_ref().map(|v| v.git_version.as_str()),
        Some("v1.31.2-eks-7f9249a")
    );
    assert!(scan(&inv).findings.is_empty());
}

#[test]
fn encryption_config_paths_follow_the_api_server_host_path_mounts() {
    // kubeadm mounts node directories into the API server; the flag names the container path.
    let manifest = r#"
apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver-cp-1, namespace: kube-system}
spec:
  hostNetwork: true
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.31.2
    command:
    - kube-apiserver
    - --encryption-provider-config=/etc/kubernetes/enc/config.yaml
    volumeMounts:
    - {name: k8s-certs, mountPath: /etc/kubernetes/pki, readOnly: true}
    - {name: enc, mountPath: /etc/kubernetes/enc, readOnly: true}
  volumes:
  - {name: k8s-certs, hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}}
  - {name: enc, hostPath: {path: /srv/kube/encryption, type: DirectoryOrCreate}}
"#;
    let mut inv = Inventory::new();
    load_str(&mut inv, manifest, "kube-apiserver.yaml").unwrap();
    // Without a mount covering it, the path is the node's own.
    let unmounted = manifest.replace("/etc/kubernetes/enc/config.yaml", "/var/lib/enc.yaml");
    load_str(
        &mut inv,
        &unmounted.replace("cp-1", "cp-2"),
        "kube-apiserver-2.yaml",
    )
    .unwrap();
    let refs = kestrel_posture::components::encryption_config_references(&inv);
    let got: Vec<String> = refs
        .iter()
        .map(|r| format!("{} {} -> {}", r.pod, r.container_path, r.host_path))
        .collect();
    expect![[r#"
        Pod/kube-system/kube-apiserver-cp-1 /etc/kubernetes/enc/config.yaml -> /srv/kube/encryption/config.yaml
        Pod/kube-system/kube-apiserver-cp-2 /var/lib/enc.yaml -> /var/lib/enc.yaml
    "#]]
    .assert_eq(&(got.join("\n") + "\n"));
}
