//! RBAC checks, by what a grant allows rather than by role names.
//!
//! Findings are reported on the binding that grants the permission (path `subjects[i]`),
//! since a role nobody is bound to grants nothing. The API server's own default bindings
//! (`kubernetes.io/bootstrapping: rbac-defaults`) are reconciled at every start, so they are
//! not reported, but they do count when working out who can reach cluster-admin.

use kestrel_k8s::rbac::{Grant, Rbac, Rule, Subject, TOKEN_THEFT};

use crate::catalog::{self, Check};
use crate::finding::Finding;

type Probe = (&'static str, &'static str, &'static str);

const SECRETS: &[Probe] = &[
    ("get", "", "secrets"),
    ("list", "", "secrets"),
    ("watch", "", "secrets"),
];
const EXEC: &[Probe] = &[
    ("create", "", "pods/exec"),
    ("get", "", "pods/exec"),
    ("create", "", "pods/attach"),
    ("get", "", "pods/attach"),
    ("patch", "", "pods/ephemeralcontainers"),
    ("update", "", "pods/ephemeralcontainers"),
];
const NODES_PROXY: &[Probe] = &[("get", "", "nodes/proxy"), ("create", "", "nodes/proxy")];
const ESCALATE: &[Probe] = &[
    ("escalate", "rbac.authorization.k8s.io", "roles"),
    ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
    ("bind", "rbac.authorization.k8s.io", "roles"),
    ("bind", "rbac.authorization.k8s.io", "clusterroles"),
];
const IMPERSONATE: &[Probe] = &[
    ("impersonate", "", "users"),
    ("impersonate", "", "groups"),
    ("impersonate", "", "serviceaccounts"),
    ("impersonate", "authentication.k8s.io", "uids"),
    ("impersonate", "authentication.k8s.io", "userextras/scopes"),
];
const CSR: &[Probe] = &[
    (
        "update",
        "certificates.k8s.io",
        "certificatesigningrequests/approval",
    ),
    (
        "patch",
        "certificates.k8s.io",
        "certificatesigningrequests/approval",
    ),
];
const SA_TOKEN: &[Probe] = &[("create", "", "serviceaccounts/token")];
const WEBHOOKS: &[Probe] = &[
    (
        "create",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "update",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "patch",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "delete",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "create",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    (
        "update",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    (
        "patch",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    (
        "delete",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
];
const NAMESPACES: &[Probe] = &[("patch", "", "namespaces"), ("update", "", "namespaces")];

fn rule_label(r: &Rule) -> String {
    r.path()
}

fn emit(out: &mut Vec<Finding>, check: &'static Check, g: &Grant, message: String) {
    out.push(Finding {
        check,
        resource: g.binding.clone(),
        container: None,
        path: format!("subjects[{}]", g.subject_index),
        message,
        origin: Some(g.binding_origin.clone()),
    });
}

/// Reports the first probe the grant allows (one finding per grant and check).
fn probe(out: &mut Vec<Finding>, check: &'static Check, g: &Grant, probes: &[Probe], what: &str) {
    let hit = probes
        .iter()
        .find_map(|(v, grp, res)| g.allows(v, grp, res).map(|r| (*v, *res, r)));
    if let Some((verb, res, rule)) = hit {
        let named = if rule.resource_names.is_empty() {
            String::new()
        } else {
            format!(" (only {})", rule.resource_names.join(", "))
        };
        emit(
            out,
            check,
            g,
            format!(
                "{} can {what} ({verb} {res}){named} {} via {}",
                g.subject,
                g.scope,
                rule_label(rule)
            ),
        );
    }
}

/// Runs every RBAC check.
pub fn check_rbac(rbac: &Rbac, out: &mut Vec<Finding>) {
    for g in rbac.grants.iter().filter(|g| !g.bootstrap) {
        if let Some(r) = g.rules.iter().find(|r| {
            r.non_resource_urls.is_empty()
                && (r.verbs.iter().any(|v| v == "*")
                    || r.resources.iter().any(|x| x == "*")
                    || r.api_groups.iter().any(|x| x == "*"))
        }) {
            emit(
                out,
                &catalog::RBAC_WILDCARD,
                g,
                format!(
                    "{} is granted verbs [{}] on resources [{}] in API groups [{}] {} via {}",
                    g.subject,
                    r.verbs.join(", "),
                    r.resources.join(", "),
                    r.api_groups.join(", "),
                    g.scope,
                    rule_label(r)
                ),
            );
        }
        // `*` on `*` implies every permission below; the wildcard and cluster-admin findings
        // already say so, and listing each one again would bury the rest of the report.
        if g.rules.iter().any(Rule::is_full_wildcard) {
            subject_findings(out, g);
            continue;
        }
        probe(out, &catalog::RBAC_SECRETS, g, SECRETS, "read Secrets");
        let creates: Vec<Probe> = TOKEN_THEFT
            .iter()
            .filter(|(v, _, r, _)| *v == "create" && *r != "serviceaccounts/token")
            .map(|(v, g, r, _)| (*v, *g, *r))
            .collect();
        probe(
            out,
            &catalog::RBAC_CREATE_PODS,
            g,
            &creates,
            "create workloads",
        );
        probe(out, &catalog::RBAC_EXEC, g, EXEC, "run commands in pods");
        probe(
            out,
            &catalog::RBAC_NODES_PROXY,
            g,
            NODES_PROXY,
            "reach the kubelet API through nodes/proxy",
        );
        probe(
            out,
            &catalog::RBAC_ESCALATE,
            g,
            ESCALATE,
            "escalate or bind roles",
        );
        probe(
            out,
            &catalog::RBAC_IMPERSONATE,
            g,
            IMPERSONATE,
            "impersonate other identities",
        );
        probe(
            out,
            &catalog::RBAC_CSR_APPROVE,
            g,
            CSR,
            "approve certificate signing requests",
        );
        probe(
            out,
            &catalog::RBAC_SA_TOKEN,
            g,
            SA_TOKEN,
            "mint ServiceAccount tokens",
        );
        probe(
            out,
            &catalog::RBAC_WEBHOOKS,
            g,
            WEBHOOKS,
            "change admission webhooks",
        );
        probe(
            out,
            &catalog::RBAC_NAMESPACE_PATCH,
            g,
            NAMESPACES,
            "modify namespaces",
        );
        subject_findings(out, g);
    }
    dangling_and_admin(rbac, out);
}

fn subject_findings(out: &mut Vec<Finding>, g: &Grant) {
    match &g.subject {
        Subject::User { name } if name == "system:anonymous" => emit(
            out,
            &catalog::RBAC_ANONYMOUS,
            g,
            format!("{} binds {} to unauthenticated requests", g.binding, g.role),
        ),
        Subject::Group { name } if name == "system:unauthenticated" => emit(
            out,
            &catalog::RBAC_ANONYMOUS,
            g,
            format!("{} binds {} to unauthenticated requests", g.binding, g.role),
        ),
        Subject::Group { name } if name == "system:authenticated" => emit(
            out,
            &catalog::RBAC_AUTHENTICATED,
            g,
            format!(
                "{} binds {} to every authenticated user and ServiceAccount",
                g.binding, g.role
            ),
        ),
        Subject::Group { name } if name == "system:masters" => emit(
            out,
            &catalog::RBAC_MASTERS,
            g,
            format!("{} binds {} to system:masters", g.binding, g.role),
        ),
        _ => {}
    }
}

fn dangling_and_admin(rbac: &Rbac, out: &mut Vec<Finding>) {
    for d in &rbac.dangling {
        out.push(Finding {
            check: &catalog::DANGLING_BINDING,
            resource: d.binding.clone(),
            container: None,
            path: "roleRef".to_owned(),
            message: format!(
                "{} refers to {}, which is not in the input",
                d.binding, d.role
            ),
            origin: None,
        });
    }
    for (subject, path) in rbac.cluster_admin_equivalent() {
        // The API server's own identities (system:masters, system:kube-controller-manager,
        // ...) are admin by design.
        let builtin = match &subject {
            Subject::User { name } | Subject::Group { name } => name.starts_with("system:"),
            Subject::ServiceAccount { namespace, .. } => {
                namespace == "kube-system" && path.bootstrap
            }
        };
        if builtin {
            continue;
        }
        let origin = rbac
            .grants
            .iter()
            .find(|g| g.binding == path.binding)
            .map(|g| g.binding_origin.clone());
        out.push(Finding {
            check: &catalog::RBAC_CLUSTER_ADMIN,
            resource: path.binding.clone(),
            container: None,
            path: format!("subjects[{}]", path.subject_index),
            message: format!(
                "{subject} is cluster-admin equivalent: {}",
                path.steps.join("; then ")
            ),
            origin,
        });
    }
}
