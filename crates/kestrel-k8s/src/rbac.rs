//! RBAC resolved by semantics: aggregated ClusterRoles expanded, every binding turned into
//! grants per subject, and questions answered as the authorizer would ("can this subject
//! create pods in namespace X?"), never by role name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, RoleRef, Subject as K8sSubject};
use serde::Serialize;

use crate::inventory::Inventory;
use crate::object::{Kind, Located, ObjectRef, Origin};
use crate::selector;

/// Who a binding grants to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Subject {
    User { name: String },
    Group { name: String },
    ServiceAccount { namespace: String, name: String },
}

impl Subject {
    /// The user name the API server authenticates this subject as.
    pub fn user_name(&self) -> String {
        match self {
            Subject::User { name } | Subject::Group { name } => name.clone(),
            Subject::ServiceAccount { namespace, name } => {
                format!("system:serviceaccount:{namespace}:{name}")
            }
        }
    }

    fn from_k8s(s: &K8sSubject, binding_ns: Option<&str>) -> Option<Subject> {
        match s.kind.as_str() {
            "User" => Some(Subject::User {
                name: s.name.clone(),
            }),
            "Group" => Some(Subject::Group {
                name: s.name.clone(),
            }),
            "ServiceAccount" => Some(Subject::ServiceAccount {
                // A ServiceAccount subject without a namespace means the binding's namespace.
                namespace: s
                    .namespace
                    .clone()
                    .or_else(|| binding_ns.map(str::to_owned))
                    .unwrap_or_else(|| "default".to_owned()),
                name: s.name.clone(),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::User { name } => write!(f, "User {name}"),
            Subject::Group { name } => write!(f, "Group {name}"),
            Subject::ServiceAccount { namespace, name } => {
                write!(f, "ServiceAccount {namespace}/{name}")
            }
        }
    }
}

/// One rule, normalised to lower case, with the role and index it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
    /// The role that holds this rule (for aggregated roles, the role it was aggregated from).
    pub role: ObjectRef,
    /// `rules[i]` within that role.
    pub index: usize,
}

impl Rule {
    fn from_k8s(r: &PolicyRule, role: ObjectRef, index: usize) -> Rule {
        let low = |v: &Option<Vec<String>>| -> Vec<String> {
            v.iter().flatten().map(|s| s.to_ascii_lowercase()).collect()
        };
        Rule {
            verbs: r.verbs.iter().map(|s| s.to_ascii_lowercase()).collect(),
            api_groups: low(&r.api_groups),
            resources: low(&r.resources),
            resource_names: r.resource_names.clone().unwrap_or_default(),
            non_resource_urls: r.non_resource_urls.clone().unwrap_or_default(),
            role,
            index,
        }
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    /// Resource matching as the RBAC authorizer does it: `*` matches everything, `pods` does
    /// not match `pods/exec`, and `*/scale` matches the `scale` subresource of anything.
    pub fn has_resource(&self, resource: &str) -> bool {
        let sub = resource.split_once('/').map(|(_, s)| s);
        self.resources.iter().any(|r| {
            r == "*" || r == resource || sub.is_some_and(|s| r.strip_prefix("*/") == Some(s))
        })
    }

    /// Whether the rule allows `verb` on `group`/`resource` for at least one object. Rules
    /// restricted by `resourceNames` never allow `create`, `list`, `watch` or
    /// `deletecollection`, whose requests carry no name.
    pub fn allows(&self, verb: &str, group: &str, resource: &str) -> bool {
        if !self.resource_names.is_empty()
            && matches!(verb, "create" | "list" | "watch" | "deletecollection")
        {
            return false;
        }
        self.has_verb(verb) && self.has_group(group) && self.has_resource(resource)
    }

    /// `*` verbs on `*` resources in `*` groups: everything cluster-admin has on resources.
    pub fn is_full_wildcard(&self) -> bool {
        self.resource_names.is_empty()
            && self.verbs.iter().any(|v| v == "*")
            && self.api_groups.iter().any(|g| g == "*")
            && self.resources.iter().any(|r| r == "*")
    }

    /// The rule's path, e.g. `ClusterRole/admin rules[3]`.
    pub fn path(&self) -> String {
        format!("{} rules[{}]", role_label(&self.role), self.index)
    }
}

fn role_label(r: &ObjectRef) -> String {
    match &r.namespace {
        Some(ns) => format!("{}/{}/{}", r.kind, ns, r.name),
        None => format!("{}/{}", r.kind, r.name),
    }
}

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Cluster,
    Namespace(String),
}

impl Scope {
    pub fn covers(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (Scope::Cluster, _) => true,
            (Scope::Namespace(s), Some(n)) => s == n,
            (Scope::Namespace(_), None) => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Cluster => f.write_str("cluster-wide"),
            Scope::Namespace(n) => write!(f, "in namespace {n}"),
        }
    }
}

/// A role's rules given to a subject through a binding.
#[derive(Debug, Clone, Serialize)]
pub struct Grant {
    pub subject: Subject,
    pub scope: Scope,
    pub binding: ObjectRef,
    #[serde(skip)]
    pub binding_origin: Origin,
    /// Index of the subject in the binding's `subjects`.
    pub subject_index: usize,
    pub role: ObjectRef,
    pub rules: Vec<Rule>,
    /// The binding is one of the API server's own defaults (labelled
    /// `kubernetes.io/bootstrapping: rbac-defaults`), reconciled at every start.
    pub bootstrap: bool,
}

impl Grant {
    pub fn allows(&self, verb: &str, group: &str, resource: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.allows(verb, group, resource))
    }
}

/// A role with its effective rules (aggregation expanded).
#[derive(Debug, Clone)]
pub struct EffectiveRole {
    pub role: ObjectRef,
    pub origin: Origin,
    pub aggregated: bool,
    pub rules: Vec<Rule>,
}

/// A binding whose role does not exist in the input: it grants nothing today, but anyone who
/// creates the role later gets it bound.
#[derive(Debug, Clone, Serialize)]
pub struct DanglingBinding {
    pub binding: ObjectRef,
    pub role: ObjectRef,
}

/// The resolved RBAC of the inventory.
#[derive(Debug, Default)]
pub struct Rbac {
    pub roles: BTreeMap<ObjectRef, EffectiveRole>,
    pub grants: Vec<Grant>,
    pub dangling: Vec<DanglingBinding>,
    /// ServiceAccounts (namespace, name) with a long-lived token Secret: reading Secrets in
    /// their namespace yields their token.
    pub token_secrets: BTreeSet<(String, String)>,
    /// Secrets could not be read, so any ServiceAccount may have a token Secret.
    pub secrets_unknown: bool,
    /// Indexes into `grants` by subject, so per-subject questions do not scan every grant.
    by_subject: BTreeMap<Subject, Vec<usize>>,
}

impl Rbac {
    /// Expands aggregation and resolves every binding.
    pub fn build(inv: &Inventory) -> Rbac {
        let mut rbac = Rbac {
            secrets_unknown: inv.is_not_assessed(Kind::Secret),
            ..Rbac::default()
        };
        for l in &inv.secrets {
            let m = &l.object.metadata;
            if l.object.type_.as_deref() == Some("kubernetes.io/service-account-token")
                && let (Some(ns), Some(sa)) = (
                    m.namespace.clone(),
                    m.annotations
                        .as_ref()
                        .and_then(|a| a.get("kubernetes.io/service-account.name"))
                        .cloned(),
                )
            {
                rbac.token_secrets.insert((ns, sa));
            }
        }
        let mut cluster_roles: Vec<(&ClusterRole, &Origin)> = inv
            .cluster_roles
            .iter()
            .map(|l| (&l.object, &l.origin))
            .collect();
        // Manifests bind to cluster-admin, admin, edit, view and the system: roles without
        // defining them: the API server creates those. Use its definitions where the input
        // has none.
        let defaults = default_cluster_roles();
        for l in defaults {
            let name = l.object.metadata.name.as_deref();
            if !inv
                .cluster_roles
                .iter()
                .any(|c| c.object.metadata.name.as_deref() == name)
            {
                cluster_roles.push((&l.object, &l.origin));
            }
        }
        let by_name: BTreeMap<&str, (&ClusterRole, &Origin)> = cluster_roles
            .iter()
            .map(|(c, o)| (c.metadata.name.as_deref().unwrap_or_default(), (*c, *o)))
            .collect();
        for (name, (cr, origin)) in &by_name {
            let role = ObjectRef::new(Kind::ClusterRole, None, name);
            let mut rules = own_rules(cr, &role);
            let aggregated = cr.aggregation_rule.is_some();
            if aggregated {
                let mut seen = BTreeSet::from([name.to_string()]);
                aggregate(cr, &by_name, &mut seen, &mut rules);
            }
            rbac.roles.insert(
                role.clone(),
                EffectiveRole {
                    role,
                    origin: (*origin).clone(),
                    aggregated,
                    rules,
                },
            );
        }
        for l in &inv.roles {
            let m = &l.object.metadata;
            let role = ObjectRef::new(
                Kind::Role,
                m.namespace.as_deref(),
                m.name.as_deref().unwrap_or_default(),
            );
            let rules = l
                .object
                .rules
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, r)| Rule::from_k8s(r, role.clone(), i))
                .collect();
            rbac.roles.insert(
                role.clone(),
                EffectiveRole {
                    role,
                    origin: l.origin.clone(),
                    aggregated: false,
                    rules,
                },
            );
        }
        for l in &inv.cluster_role_bindings {
            let b = &l.object;
            let binding = ObjectRef::new(
                Kind::ClusterRoleBinding,
                None,
                b.metadata.name.as_deref().unwrap_or_default(),
            );
            let boot = is_bootstrap(b.metadata.labels.as_ref());
            rbac.bind(
                binding,
                &l.origin,
                &b.role_ref,
                b.subjects.as_deref(),
                None,
                boot,
            );
        }
        for l in &inv.role_bindings {
            let b = &l.object;
            let ns = b.metadata.namespace.as_deref();
            let binding = ObjectRef::new(
                Kind::RoleBinding,
                ns,
                b.metadata.name.as_deref().unwrap_or_default(),
            );
            let boot = is_bootstrap(b.metadata.labels.as_ref());
            rbac.bind(
                binding,
                &l.origin,
                &b.role_ref,
                b.subjects.as_deref(),
                ns,
                boot,
            );
        }
        for (i, g) in rbac.grants.iter().enumerate() {
            rbac.by_subject
                .entry(g.subject.clone())
                .or_default()
                .push(i);
        }
        rbac
    }

    fn bind(
        &mut self,
        binding: ObjectRef,
        origin: &Origin,
        role_ref: &RoleRef,
        subjects: Option<&[K8sSubject]>,
        ns: Option<&str>,
        bootstrap: bool,
    ) {
        let role = match role_ref.kind.as_str() {
            "ClusterRole" => ObjectRef::new(Kind::ClusterRole, None, &role_ref.name),
            _ => ObjectRef::new(Kind::Role, ns, &role_ref.name),
        };
        // A RoleBinding grants a ClusterRole's rules only inside its own namespace.
        let scope = match ns {
            Some(n) => Scope::Namespace(n.to_owned()),
            None if binding.kind == Kind::RoleBinding => Scope::Namespace("default".to_owned()),
            None => Scope::Cluster,
        };
        let Some(er) = self.roles.get(&role) else {
            self.dangling.push(DanglingBinding { binding, role });
            return;
        };
        let rules = er.rules.clone();
        for (i, s) in subjects.into_iter().flatten().enumerate() {
            if let Some(subject) = Subject::from_k8s(s, ns) {
                self.grants.push(Grant {
                    subject,
                    scope: scope.clone(),
                    binding: binding.clone(),
                    binding_origin: origin.clone(),
                    subject_index: i,
                    role: role.clone(),
                    rules: rules.clone(),
                    bootstrap,
                });
            }
        }
    }

    /// Every subject that holds at least one grant.
    pub fn subjects(&self) -> BTreeSet<&Subject> {
        self.grants.iter().map(|g| &g.subject).collect()
    }

    /// The grants that apply to a subject, including those it holds through the groups every
    /// authenticated identity (or ServiceAccount) is a member of.
    pub fn grants_for<'a>(&'a self, subject: &'a Subject) -> impl Iterator<Item = &'a Grant> + 'a {
        let mut idx: Vec<usize> = self.by_subject.get(subject).cloned().unwrap_or_default();
        for name in implied_groups(subject) {
            if let Some(v) = self.by_subject.get(&Subject::Group { name }) {
                idx.extend(v);
            }
        }
        idx.sort_unstable();
        idx.into_iter().map(move |i| &self.grants[i])
    }

    /// Whether `subject` may `verb` `group`/`resource` in `namespace` (`None`: cluster-wide),
    /// with the grant and rule that allow it.
    pub fn can<'a>(
        &'a self,
        subject: &'a Subject,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Option<(&'a Grant, &'a Rule)> {
        self.grants_for(subject)
            .filter(|g| g.scope.covers(namespace))
            .find_map(|g| g.allows(verb, group, resource).map(|r| (g, r)))
    }

    /// ServiceAccounts (and other subjects) that are cluster-admin equivalent, with the reason.
    ///
    /// A subject is equivalent when it holds `*` on `*` cluster-wide, or can become such a
    /// subject: impersonate users or groups cluster-wide (`system:masters`), bind or escalate
    /// ClusterRoles while being able to write ClusterRoleBindings/ClusterRoles, or obtain the
    /// token of an equivalent ServiceAccount (create pods or workload controllers, create
    /// `serviceaccounts/token`, or read Secrets in that ServiceAccount's namespace). Computed as
    /// a fixpoint, so chains of any length are found.
    pub fn cluster_admin_equivalent(&self) -> BTreeMap<Subject, AdminPath> {
        let mut found: BTreeMap<Subject, AdminPath> = BTreeMap::new();
        let subjects: Vec<&Subject> = self.subjects().into_iter().collect();
        for s in &subjects {
            if let Some(g) = self
                .grants_for(s)
                .find(|g| g.scope == Scope::Cluster && g.rules.iter().any(Rule::is_full_wildcard))
            {
                found.insert(
                    (*s).clone(),
                    AdminPath::new(
                        g,
                        format!(
                            "holds * on * cluster-wide through {} ({})",
                            role_label(&g.binding),
                            role_label(&g.role)
                        ),
                    ),
                );
                continue;
            }
            if let Some((g, _)) = ["users", "groups"]
                .iter()
                .find_map(|r| self.can(s, "impersonate", "", r, None))
            {
                found.insert(
                    (*s).clone(),
                    AdminPath::new(
                        g,
                        format!(
                            "can impersonate any user or group (system:masters) through {}",
                            role_label(&g.binding)
                        ),
                    ),
                );
                continue;
            }
            let bind = self
                .can(s, "bind", "rbac.authorization.k8s.io", "clusterroles", None)
                .or_else(|| {
                    self.can(
                        s,
                        "escalate",
                        "rbac.authorization.k8s.io",
                        "clusterroles",
                        None,
                    )
                });
            let write_crb = self
                .can(
                    s,
                    "create",
                    "rbac.authorization.k8s.io",
                    "clusterrolebindings",
                    None,
                )
                .or_else(|| {
                    self.can(
                        s,
                        "update",
                        "rbac.authorization.k8s.io",
                        "clusterrolebindings",
                        None,
                    )
                })
                .or_else(|| {
                    self.can(
                        s,
                        "patch",
                        "rbac.authorization.k8s.io",
                        "clusterrolebindings",
                        None,
                    )
                })
                .or_else(|| {
                    self.can(
                        s,
                        "update",
                        "rbac.authorization.k8s.io",
                        "clusterroles",
                        None,
                    )
                })
                .or_else(|| {
                    self.can(
                        s,
                        "patch",
                        "rbac.authorization.k8s.io",
                        "clusterroles",
                        None,
                    )
                });
            if let (Some((g1, _)), Some((g2, _))) = (bind, write_crb) {
                found.insert((*s).clone(), AdminPath::new(g1, format!(
                    "can bind/escalate ClusterRoles ({}) and write ClusterRoleBindings or ClusterRoles ({}): can grant itself cluster-admin",
                    role_label(&g1.binding), role_label(&g2.binding)
                )));
            }
        }
        loop {
            let mut added = false;
            let admin_sas: Vec<(Subject, AdminPath)> = found
                .iter()
                .filter(|(s, _)| matches!(s, Subject::ServiceAccount { .. }))
                .map(|(s, p)| (s.clone(), p.clone()))
                .collect();
            for s in &subjects {
                if found.contains_key(*s) {
                    continue;
                }
                for (sa, path) in &admin_sas {
                    let Subject::ServiceAccount { namespace, name } = sa else {
                        continue;
                    };
                    // Since Kubernetes 1.24 tokens live in Secrets only where someone created
                    // one, so reading Secrets yields this token only if such a Secret exists.
                    let has_secret = self.secrets_unknown
                        || self
                            .token_secrets
                            .contains(&(namespace.clone(), name.clone()));
                    let how = TOKEN_THEFT
                        .iter()
                        .filter(|(_, _, res, _)| *res != "secrets" || has_secret)
                        .find_map(|(verb, group, res, what)| {
                            self.can(s, verb, group, res, Some(namespace))
                                .map(|(g, _)| (what, g))
                        });
                    if let Some((what, g)) = how {
                        let mut p = AdminPath::new(
                            g,
                            format!(
                                "can {what} in namespace {namespace} (through {}) and so obtain the token of ServiceAccount {namespace}/{name}",
                                role_label(&g.binding)
                            ),
                        );
                        p.steps.extend(path.steps.iter().cloned());
                        found.insert((*s).clone(), p);
                        added = true;
                        break;
                    }
                }
            }
            if !added {
                break;
            }
        }
        found
    }
}

/// Ways to obtain a ServiceAccount's token in a namespace: (verb, group, resource, description).
pub const TOKEN_THEFT: &[(&str, &str, &str, &str)] = &[
    ("create", "", "pods", "create pods"),
    ("create", "apps", "deployments", "create deployments"),
    ("create", "apps", "daemonsets", "create daemonsets"),
    ("create", "apps", "statefulsets", "create statefulsets"),
    ("create", "apps", "replicasets", "create replicasets"),
    ("create", "batch", "jobs", "create jobs"),
    ("create", "batch", "cronjobs", "create cronjobs"),
    (
        "create",
        "",
        "replicationcontrollers",
        "create replicationcontrollers",
    ),
    (
        "create",
        "",
        "serviceaccounts/token",
        "create serviceaccounts/token",
    ),
    ("get", "", "secrets", "read secrets"),
    ("list", "", "secrets", "list secrets"),
];

/// Why a subject is cluster-admin equivalent: one line per step, the first being what the
/// subject itself can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminPath {
    /// The binding that gives the subject its first step.
    pub binding: ObjectRef,
    /// The subject's index in that binding's `subjects`.
    pub subject_index: usize,
    /// Whether that binding is an API server default.
    pub bootstrap: bool,
    pub steps: Vec<String>,
}

impl AdminPath {
    fn new(g: &Grant, step: String) -> AdminPath {
        AdminPath {
            binding: g.binding.clone(),
            subject_index: g.subject_index,
            bootstrap: g.bootstrap,
            steps: vec![step],
        }
    }
}

/// The groups the API server adds to every request of this subject.
pub fn implied_groups(subject: &Subject) -> Vec<String> {
    match subject {
        Subject::ServiceAccount { namespace, .. } => vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ],
        Subject::User { name } if name == "system:anonymous" => {
            vec!["system:unauthenticated".to_owned()]
        }
        Subject::User { .. } => vec!["system:authenticated".to_owned()],
        Subject::Group { .. } => Vec::new(),
    }
}

/// The default ClusterRoles of a Kubernetes v1.25 API server (labelled
/// `kubernetes.io/bootstrapping: rbac-defaults`), recorded from a real server; aggregated roles
/// (admin, edit, view) are kept with their aggregation rules and expanded like any other.
pub fn default_cluster_roles() -> &'static [Located<ClusterRole>] {
    static ROLES: OnceLock<Vec<Located<ClusterRole>>> = OnceLock::new();
    ROLES.get_or_init(|| {
        let mut inv = Inventory::new();
        let origin =
            crate::inventory::memory_origin("built-in default ClusterRoles (Kubernetes v1.25)");
        let value: serde_json::Value =
            serde_json::from_str(include_str!("default-clusterroles.json"))
                .expect("the embedded default ClusterRoles are valid JSON");
        inv.add_value(value, &origin)
            .expect("the embedded default ClusterRoles match the ClusterRole schema");
        inv.cluster_roles
    })
}

fn is_bootstrap(labels: Option<&BTreeMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get("kubernetes.io/bootstrapping"))
        .is_some_and(|v| v == "rbac-defaults")
}

fn own_rules(cr: &ClusterRole, role: &ObjectRef) -> Vec<Rule> {
    cr.rules
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| Rule::from_k8s(r, role.clone(), i))
        .collect()
}

/// Adds the rules of every ClusterRole selected by `cr`'s aggregation rule, recursively (an
/// aggregated role may itself be aggregated). Rules already present are not duplicated, which
/// is what makes both a real cluster (where the controller has filled `rules`) and a raw
/// manifest (empty `rules`) come out the same.
fn aggregate(
    cr: &ClusterRole,
    by_name: &BTreeMap<&str, (&ClusterRole, &Origin)>,
    seen: &mut BTreeSet<String>,
    rules: &mut Vec<Rule>,
) {
    let Some(agg) = &cr.aggregation_rule else {
        return;
    };
    for sel in agg.cluster_role_selectors.iter().flatten() {
        for (name, (other, _)) in by_name {
            let labels = other.metadata.labels.clone().unwrap_or_default();
            if seen.contains(*name) || !selector::matches(sel, &labels) {
                continue;
            }
            seen.insert(name.to_string());
            let role = ObjectRef::new(Kind::ClusterRole, None, name);
            for r in own_rules(other, &role) {
                let dup = rules.iter().any(|x| {
                    x.verbs == r.verbs
                        && x.api_groups == r.api_groups
                        && x.resources == r.resources
                        && x.resource_names == r.resource_names
                        && x.non_resource_urls == r.non_resource_urls
                });
                if !dup {
                    rules.push(r);
                }
            }
            aggregate(other, by_name, seen, rules);
        }
    }
}
