//! The object model: loading, effective pod specs and resolved RBAC.

use expect_test::{Expect, expect};
use kestrel_k8s::load::{load_path, load_str};
use kestrel_k8s::pod::workloads;
use kestrel_k8s::rbac::{Rbac, Subject};
use kestrel_k8s::{Inventory, Kind, LoadError};

fn inv(yaml: &str) -> Inventory {
    let mut inv = Inventory::new();
    load_str(&mut inv, yaml, "test.yaml").unwrap();
    inv
}

/// Renders the effective security settings of every container of every workload.
fn check_pods(yaml: &str, expect: Expect) {
    let inv = inv(yaml);
    let mut out = String::new();
    for p in workloads(&inv) {
        out.push_str(&format!(
            "{} sa={} automount={} ({:?} at {})\n",
            p.object,
            p.service_account.name,
            p.service_account.automount.value,
            p.service_account.automount.source,
            p.service_account.automount.path
        ));
        for c in &p.containers {
            let s = &c.security;
            out.push_str(&format!(
                "  {:?} {} user={:?}@{} nonroot={:?}@{} ape={}@{} seccomp={:?}@{} apparmor={:?}@{}\n",
                c.role, c.name, s.run_as_user.value, s.run_as_user.path, s.run_as_non_root.value,
                s.run_as_non_root.path, s.allow_privilege_escalation.value,
                s.allow_privilege_escalation.path, s.seccomp.value, s.seccomp.path,
                s.apparmor.value, s.apparmor.path
            ));
        }
    }
    expect.assert_eq(&out);
}

#[test]
fn container_overrides_pod_and_init_containers_inherit() {
    check_pods(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsUser: 1000, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      initContainers:
      - {name: init, image: busybox:1.36}
      containers:
      - name: app
        image: app:1
        securityContext: {runAsUser: 0, allowPrivilegeEscalation: false}
      - name: side
        image: side:1
        securityContext: {seccompProfile: {type: Unconfined}, privileged: true, allowPrivilegeEscalation: false}
"#,
        expect![[r#"
            Deployment/shop/web sa=default automount=true (Default at spec.template.spec.automountServiceAccountToken)
              Init init user=Some(1000)@spec.template.spec.securityContext.runAsUser nonroot=Some(true)@spec.template.spec.securityContext.runAsNonRoot ape=true@spec.template.spec.initContainers[0].securityContext.allowPrivilegeEscalation seccomp=Some("RuntimeDefault")@spec.template.spec.securityContext.seccompProfile.type apparmor=None@spec.template.spec.initContainers[0].securityContext.appArmorProfile.type
              Main app user=Some(0)@spec.template.spec.containers[0].securityContext.runAsUser nonroot=Some(true)@spec.template.spec.securityContext.runAsNonRoot ape=false@spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation seccomp=Some("RuntimeDefault")@spec.template.spec.securityContext.seccompProfile.type apparmor=None@spec.template.spec.containers[0].securityContext.appArmorProfile.type
              Main side user=Some(1000)@spec.template.spec.securityContext.runAsUser nonroot=Some(true)@spec.template.spec.securityContext.runAsNonRoot ape=true@spec.template.spec.containers[1].securityContext.privileged seccomp=Some("Unconfined")@spec.template.spec.containers[1].securityContext.seccompProfile.type apparmor=None@spec.template.spec.containers[1].securityContext.appArmorProfile.type
        "#]],
    );
}

#[test]
fn automount_precedence_between_pod_and_service_account() {
    check_pods(
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: quiet, namespace: ns}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Pod
metadata: {name: inherits, namespace: ns}
spec:
  serviceAccountName: quiet
  containers: [{name: c, image: a:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: overrides, namespace: ns}
spec:
  serviceAccountName: quiet
  automountServiceAccountToken: true
  containers: [{name: c, image: a:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: legacy-field, namespace: ns, annotations: {container.apparmor.security.beta.kubernetes.io/c: unconfined}}
spec:
  serviceAccount: quiet
  containers: [{name: c, image: a:1}]
  ephemeralContainers: [{name: dbg, image: busybox}]
"#,
        expect![[r#"
            Pod/ns/inherits sa=quiet automount=false (ServiceAccount at ServiceAccount/quiet.automountServiceAccountToken)
              Main c user=None@spec.containers[0].securityContext.runAsUser nonroot=None@spec.containers[0].securityContext.runAsNonRoot ape=true@spec.containers[0].securityContext.allowPrivilegeEscalation seccomp=None@spec.containers[0].securityContext.seccompProfile.type apparmor=None@spec.containers[0].securityContext.appArmorProfile.type
            Pod/ns/overrides sa=quiet automount=true (Pod at spec.automountServiceAccountToken)
              Main c user=None@spec.containers[0].securityContext.runAsUser nonroot=None@spec.containers[0].securityContext.runAsNonRoot ape=true@spec.containers[0].securityContext.allowPrivilegeEscalation seccomp=None@spec.containers[0].securityContext.seccompProfile.type apparmor=None@spec.containers[0].securityContext.appArmorProfile.type
            Pod/ns/legacy-field sa=quiet automount=false (ServiceAccount at ServiceAccount/quiet.automountServiceAccountToken)
              Main c user=None@spec.containers[0].securityContext.runAsUser nonroot=None@spec.containers[0].securityContext.runAsNonRoot ape=true@spec.containers[0].securityContext.allowPrivilegeEscalation seccomp=None@spec.containers[0].securityContext.seccompProfile.type apparmor=Some("Unconfined")@metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]
              Ephemeral dbg user=None@spec.ephemeralContainers[0].securityContext.runAsUser nonroot=None@spec.ephemeralContainers[0].securityContext.runAsNonRoot ape=true@spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation seccomp=None@spec.ephemeralContainers[0].securityContext.seccompProfile.type apparmor=None@spec.ephemeralContainers[0].securityContext.appArmorProfile.type
        "#]],
    );
}

#[test]
fn every_workload_kind_has_its_pod_spec_path() {
    let yaml = r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "* * * * *"
  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: a:1}], restartPolicy: Never}}}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec: {template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: a:1}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: a:1}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec: {selector: {matchLabels: {a: b}}, serviceName: s, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: a:1}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: job}
spec: {template: {spec: {containers: [{name: c, image: a:1}], restartPolicy: Never}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: a:1}]}}}
"#;
    let inv = inv(yaml);
    let got: Vec<String> = workloads(&inv)
        .iter()
        .map(|p| format!("{} {}", p.object, p.containers[0].path))
        .collect();
    expect![[r#"
        [
            "StatefulSet/sts spec.template.spec.containers[0]",
            "DaemonSet/ds spec.template.spec.containers[0]",
            "CronJob/cj spec.jobTemplate.spec.template.spec.containers[0]",
            "ReplicationController/rc spec.template.spec.containers[0]",
            "ReplicaSet/rs spec.template.spec.containers[0]",
            "Job/job spec.template.spec.containers[0]",
        ]
    "#]]
    .assert_debug_eq(&got);
}

#[test]
fn owned_pods_are_reported_through_their_controller() {
    let yaml = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs, namespace: n}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: a:1}]}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: rs-abcde
  namespace: n
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: "1", controller: true}]
spec: {containers: [{name: c, image: a:1}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: orphan-xyz
  namespace: n
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: gone, uid: "2", controller: true}]
spec: {containers: [{name: c, image: a:1}]}
"#;
    let inv = inv(yaml);
    let got: Vec<String> = workloads(&inv)
        .iter()
        .map(|p| p.object.to_string())
        .collect();
    assert_eq!(got, ["ReplicaSet/n/rs", "Pod/n/orphan-xyz"]);
}

#[test]
fn lists_json_and_errors_name_the_object() {
    let mut inv = Inventory::new();
    let json = r#"{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"a","namespace":"x"},"spec":{"containers":[{"name":"c"}]}}]}"#;
    load_str(&mut inv, json, "pods.json").unwrap();
    assert_eq!(inv.pods.len(), 1);
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: n}}\n- {apiVersion: example.com/v1, kind: Widget, metadata: {name: w}}\n";
    load_str(&mut inv, list, "list.yaml").unwrap();
    assert_eq!(inv.namespaces.len(), 1);
    assert_eq!(inv.ignored.len(), 1);
    assert_eq!(inv.ignored[0].kind.as_deref(), Some("Widget"));

    let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: broken}\nspec: {containers: 7}\n";
    let err = load_str(&mut Inventory::new(), bad, "bad.yaml").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "bad.yaml: document 2: Pod \"broken\" does not match the Kubernetes schema"
        ),
        "{msg}"
    );

    let err = load_str(&mut Inventory::new(), "a: [1\n---\n", "x.yaml").unwrap_err();
    assert!(matches!(err, LoadError::Yaml { document: 1, .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = load_path(&mut Inventory::new(), dir.path()).unwrap_err();
    assert!(matches!(err, LoadError::NoManifests { .. }), "{err}");
}

#[test]
fn cluster_dump_loads_every_object() {
    let mut inv = Inventory::new();
    load_path(&mut inv, "testdata/k8s-api/cluster-dump.json".as_ref()).unwrap();
    expect![[r#"
        {
            Namespace: 7,
            Node: 1,
            Pod: 4,
            Deployment: 1,
            Service: 3,
            Ingress: 1,
            NetworkPolicy: 1,
            ServiceAccount: 6,
            Role: 8,
            ClusterRole: 67,
            RoleBinding: 8,
            ClusterRoleBinding: 48,
            ConfigMap: 1,
            Secret: 1,
        }
    "#]]
    .assert_debug_eq(&inv.counts());
    assert!(inv.ignored.is_empty());
}

fn sa(ns: &str, name: &str) -> Subject {
    Subject::ServiceAccount {
        namespace: ns.into(),
        name: name.into(),
    }
}

#[test]
fn aggregation_is_expanded_whether_or_not_the_controller_ran() {
    // The recorded cluster ran without a controller manager: `shop-operator` has empty rules.
    let inv = inv(include_str!("../testdata/k8s-api/applied-manifests.yaml"));
    let rbac = Rbac::build(&inv);
    let ops = Subject::Group {
        name: "shop-operators".into(),
    };
    let (g, r) = rbac
        .can(&ops, "list", "", "secrets", Some("any-namespace"))
        .expect("aggregated rule");
    assert_eq!(g.role.name, "shop-operator");
    assert_eq!(r.path(), "ClusterRole/shop-operator-secrets rules[0]");
    assert!(rbac.can(&ops, "create", "", "secrets", None).is_none());

    // The same, with the rules already filled in (as a real cluster has them): no duplicates.
    let filled = include_str!("../testdata/k8s-api/applied-manifests.yaml").replace(
        "  clusterRoleSelectors: [{matchLabels: {rbac.shop.example/aggregate-to-operator: \"true\"}}]\nrules: []",
        "  clusterRoleSelectors: [{matchLabels: {rbac.shop.example/aggregate-to-operator: \"true\"}}]\nrules:\n- {apiGroups: [\"\"], resources: [secrets], verbs: [get, list, watch]}",
    );
    let inv2 = inv_from(&filled);
    let rbac2 = Rbac::build(&inv2);
    let role = rbac2
        .roles
        .values()
        .find(|r| r.role.name == "shop-operator")
        .unwrap();
    assert_eq!(role.rules.len(), 1);
}

fn inv_from(yaml: &str) -> Inventory {
    inv(yaml)
}

#[test]
fn rbac_semantics_wildcards_subresources_and_scope() {
    let inv = inv(r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything-in-apps}
rules:
- {apiGroups: ["*"], resources: ["pods"], verbs: ["*"]}
- {apiGroups: [""], resources: ["secrets"], resourceNames: [one], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: everything-in-apps}
subjects: [{kind: ServiceAccount, name: bot}]
"#);
    let rbac = Rbac::build(&inv);
    let bot = sa("team", "bot");
    assert!(rbac.can(&bot, "create", "", "pods", Some("team")).is_some());
    // A RoleBinding of a ClusterRole grants only in its namespace.
    assert!(
        rbac.can(&bot, "create", "", "pods", Some("other"))
            .is_none()
    );
    // `pods` does not cover the `pods/exec` subresource.
    assert!(
        rbac.can(&bot, "create", "", "pods/exec", Some("team"))
            .is_none()
    );
    // resourceNames allow get but never list.
    assert!(rbac.can(&bot, "get", "", "secrets", Some("team")).is_some());
    assert!(
        rbac.can(&bot, "list", "", "secrets", Some("team"))
            .is_none()
    );
}

#[test]
fn cluster_admin_equivalence_follows_token_theft() {
    // The dump holds the server's default `cluster-admin` role that the manifests bind to.
    let mut inv = Inventory::new();
    load_path(&mut inv, "testdata/k8s-api/cluster-dump.json".as_ref()).unwrap();
    let rbac = Rbac::build(&inv);
    let admins = rbac.cluster_admin_equivalent();
    let got: Vec<String> = admins
        .iter()
        // The API server's own identities are admin by design; shown here are the others.
        .filter(|(s, _)| match s {
            Subject::User { name } | Subject::Group { name } => !name.starts_with("system:"),
            Subject::ServiceAccount { namespace, .. } => namespace != "kube-system",
        })
        .map(|(s, p)| format!("{s}: {}", p.steps.join(" / ")))
        .collect();
    expect![[r#"
        [
            "ServiceAccount shop-prod/ci-deployer: holds * on * cluster-wide through ClusterRoleBinding/ci-cluster-admin (ClusterRole/cluster-admin)",
            "ServiceAccount shop-prod/web: can create pods in namespace shop-prod (through RoleBinding/shop-prod/web-deployer) and so obtain the token of ServiceAccount shop-prod/ci-deployer / holds * on * cluster-wide through ClusterRoleBinding/ci-cluster-admin (ClusterRole/cluster-admin)",
        ]
    "#]].assert_debug_eq(&got);
    let _ = Kind::ALL;
}
