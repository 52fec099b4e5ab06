//! The inventory: every object of the input, typed, with its origin.
//!
//! Objects arrive as JSON values (from YAML, JSON or the API) and are converted here, once, into
//! `k8s-openapi` types. Lists (`kind: List` and typed `PodList`-style lists, whose items carry no
//! `kind`) are flattened.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, Node, Pod, ReplicationController, Secret, Service,
    ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;
use serde_json::Value;

use crate::encryption::EncryptionConfiguration;
use crate::error::LoadError;
use crate::object::{Kind, Located, ObjectRef, Origin};

/// A document that is not an object of a kind the model reads (a CRD instance, a Helm values
/// file, an old API version). Reported so that nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub origin: Origin,
}

/// A kind that could not be read (for example a 403 on a live list). Checks that depend on it
/// report it instead of passing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAssessed {
    pub kind: Kind,
    /// The namespace that was listed, when the list was namespace-scoped.
    pub namespace: Option<String>,
    pub reason: String,
}

/// The cluster's reported version (`GET /version`), when known: read from a live cluster, or
/// from a saved `/version` response (`kubectl get --raw /version`, or `kubectl version -o json`
/// whose `serverVersion` it is) among the input files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterVersion {
    /// `v1.25.9`, `v1.27.3-eks-a5565ad`.
    pub git_version: String,
    /// `linux/amd64`, when reported.
    pub platform: Option<String>,
    /// Where the version was read: the cluster's URL or the file.
    pub origin: Origin,
}

impl ClusterVersion {
    /// Reads the body of `GET /version` (`gitVersion`, `major`, `minor`, ...).
    pub fn from_version_info(
        map: &serde_json::Map<String, Value>,
        origin: &Origin,
    ) -> Option<ClusterVersion> {
        let git_version = map.get("gitVersion")?.as_str()?;
        // `major` and `minor` tell a version body from any other object with a gitVersion.
        map.get("major")?;
        map.get("minor")?;
        Some(ClusterVersion {
            git_version: git_version.to_owned(),
            platform: map
                .get("platform")
                .and_then(Value::as_str)
                .map(str::to_owned),
            origin: origin.clone(),
        })
    }
}

/// Every object read from the input, by kind.
#[derive(Debug, Default)]
pub struct Inventory {
    pub namespaces: Vec<Located<Namespace>>,
    pub nodes: Vec<Located<Node>>,
    pub pods: Vec<Located<Pod>>,
    pub deployments: Vec<Located<Deployment>>,
    pub stateful_sets: Vec<Located<StatefulSet>>,
    pub daemon_sets: Vec<Located<DaemonSet>>,
    pub replica_sets: Vec<Located<ReplicaSet>>,
    pub replication_controllers: Vec<Located<ReplicationController>>,
    pub jobs: Vec<Located<Job>>,
    pub cron_jobs: Vec<Located<CronJob>>,
    pub services: Vec<Located<Service>>,
    pub ingresses: Vec<Located<Ingress>>,
    pub network_policies: Vec<Located<NetworkPolicy>>,
    pub service_accounts: Vec<Located<ServiceAccount>>,
    pub roles: Vec<Located<Role>>,
    pub cluster_roles: Vec<Located<ClusterRole>>,
    pub role_bindings: Vec<Located<RoleBinding>>,
    pub cluster_role_bindings: Vec<Located<ClusterRoleBinding>>,
    pub config_maps: Vec<Located<ConfigMap>>,
    pub secrets: Vec<Located<Secret>>,
    pub limit_ranges: Vec<Located<LimitRange>>,
    pub kubelet_configs: Vec<Located<KubeletConfiguration>>,
    pub encryption_configs: Vec<Located<EncryptionConfiguration>>,
    /// Gateway API objects (CRDs, so kept apart from the `k8s-openapi` kinds).
    pub gateway_api: crate::gateway::GatewayApi,
    pub ignored: Vec<Ignored>,
    pub not_assessed: Vec<NotAssessed>,
    pub cluster_version: Option<ClusterVersion>,
}

impl Inventory {
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// Adds one decoded document. A `List` is flattened; a document that is not an object of
    /// a known kind is recorded in [`Inventory::ignored`]. A known kind whose fields do not
    /// match its schema is an error naming the object.
    pub fn add_value(&mut self, value: Value, origin: &Origin) -> Result<(), LoadError> {
        let Value::Object(map) = &value else {
            if !value.is_null() {
                self.ignored.push(Ignored {
                    api_version: None,
                    kind: None,
                    name: None,
                    origin: origin.clone(),
                });
            }
            return Ok(());
        };
        let api_version = map.get("apiVersion").and_then(Value::as_str);
        let kind = map.get("kind").and_then(Value::as_str);
        if let (Some(list_kind), Some(Value::Array(_))) = (kind, map.get("items"))
            && list_kind.ends_with("List")
        {
            let item_kind = list_kind
                .strip_suffix("List")
                .unwrap_or_default()
                .to_owned();
            let api_version = api_version.map(str::to_owned);
            let Value::Object(mut map) = value else {
                unreachable!("matched as an object above")
            };
            let Some(Value::Array(items)) = map.remove("items") else {
                unreachable!("matched as an array above")
            };
            for mut item in items {
                // Typed API lists (PodList, ...) omit kind and apiVersion on their items.
                if let Value::Object(m) = &mut item
                    && !item_kind.is_empty()
                {
                    if !m.contains_key("kind") {
                        m.insert("kind".into(), Value::String(item_kind.clone()));
                    }
                    if let Some(av) = &api_version
                        && !m.contains_key("apiVersion")
                    {
                        m.insert("apiVersion".into(), Value::String(av.clone()));
                    }
                }
                self.add_value(item, origin)?;
            }
            return Ok(());
        }
        if kind.is_none() {
            let version_body = map
                .get("serverVersion")
                .and_then(Value::as_object)
                .unwrap_or(map);
            if let Some(v) = ClusterVersion::from_version_info(version_body, origin) {
                self.cluster_version = Some(v);
                return Ok(());
            }
        }
        if let (Some(av), Some(k)) = (api_version, kind)
            && let Some(gk) = crate::gateway::GatewayKind::from_type(av, k)
        {
            return self.gateway_api.add(gk, value, origin);
        }
        let known = match (api_version, kind) {
            (Some(av), Some(k)) => Kind::from_type(av, k),
            _ => None,
        };
        let Some(known) = known else {
            self.ignored.push(Ignored {
                api_version: api_version.map(str::to_owned),
                kind: kind.map(str::to_owned),
                name: map
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                origin: origin.clone(),
            });
            return Ok(());
        };
        self.add_typed(known, value, origin)
    }

    fn add_typed(&mut self, kind: Kind, value: Value, origin: &Origin) -> Result<(), LoadError> {
        fn conv<T: serde::de::DeserializeOwned>(
            kind: Kind,
            value: Value,
            origin: &Origin,
        ) -> Result<Located<T>, LoadError> {
            let name = value
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("<unnamed>")
                .to_owned();
            match serde_json::from_value::<T>(value) {
                Ok(object) => Ok(Located {
                    object,
                    origin: origin.clone(),
                }),
                Err(e) => Err(LoadError::Schema {
                    source_name: origin.source.clone(),
                    document: origin.document,
                    kind,
                    name,
                    message: e.to_string(),
                }),
            }
        }
        match kind {
            Kind::Namespace => self.namespaces.push(conv(kind, value, origin)?),
            Kind::Node => self.nodes.push(conv(kind, value, origin)?),
            Kind::Pod => self.pods.push(conv(kind, value, origin)?),
            Kind::Deployment => self.deployments.push(conv(kind, value, origin)?),
            Kind::StatefulSet => self.stateful_sets.push(conv(kind, value, origin)?),
            Kind::DaemonSet => self.daemon_sets.push(conv(kind, value, origin)?),
            Kind::ReplicaSet => self.replica_sets.push(conv(kind, value, origin)?),
            Kind::ReplicationController => self
                .replication_controllers
                .push(conv(kind, value, origin)?),
            Kind::Job => self.jobs.push(conv(kind, value, origin)?),
            Kind::CronJob => self.cron_jobs.push(conv(kind, value, origin)?),
            Kind::Service => self.services.push(conv(kind, value, origin)?),
            Kind::Ingress => self.ingresses.push(conv(kind, value, origin)?),
            Kind::NetworkPolicy => self.network_policies.push(conv(kind, value, origin)?),
            Kind::ServiceAccount => self.service_accounts.push(conv(kind, value, origin)?),
            Kind::Role => self.roles.push(conv(kind, value, origin)?),
            Kind::ClusterRole => self.cluster_roles.push(conv(kind, value, origin)?),
            Kind::RoleBinding => self.role_bindings.push(conv(kind, value, origin)?),
            Kind::ClusterRoleBinding => self.cluster_role_bindings.push(conv(kind, value, origin)?),
            Kind::ConfigMap => self.config_maps.push(conv(kind, value, origin)?),
            Kind::Secret => self.secrets.push(conv(kind, value, origin)?),
            Kind::LimitRange => self.limit_ranges.push(conv(kind, value, origin)?),
            Kind::KubeletConfiguration => self.kubelet_configs.push(conv(kind, value, origin)?),
            Kind::EncryptionConfiguration => {
                self.encryption_configs.push(conv(kind, value, origin)?)
            }
            // Never produced by `Kind::from_type`: the cluster is not a document.
            Kind::Cluster => {}
        }
        Ok(())
    }

    /// Moves every object, report and the version of `other` to the end of this inventory.
    /// Used to merge inventories read in parallel; it destructures `other` in full so that a
    /// new field cannot be forgotten here.
    pub fn append(&mut self, other: Inventory) {
        let Inventory {
            namespaces,
            nodes,
            pods,
            deployments,
            stateful_sets,
            daemon_sets,
            replica_sets,
            replication_controllers,
            jobs,
            cron_jobs,
            services,
            ingresses,
            network_policies,
            service_accounts,
            roles,
            cluster_roles,
            role_bindings,
            cluster_role_bindings,
            config_maps,
            secrets,
            limit_ranges,
            kubelet_configs,
            encryption_configs,
            gateway_api,
            ignored,
            not_assessed,
            cluster_version,
        } = other;
        let crate::gateway::GatewayApi {
            gateways,
            routes,
            reference_grants,
        } = gateway_api;
        self.gateway_api.gateways.extend(gateways);
        self.gateway_api.routes.extend(routes);
        self.gateway_api.reference_grants.extend(reference_grants);
        self.namespaces.extend(namespaces);
        self.nodes.extend(nodes);
        self.pods.extend(pods);
        self.deployments.extend(deployments);
        self.stateful_sets.extend(stateful_sets);
        self.daemon_sets.extend(daemon_sets);
        self.replica_sets.extend(replica_sets);
        self.replication_controllers.extend(replication_controllers);
        self.jobs.extend(jobs);
        self.cron_jobs.extend(cron_jobs);
        self.services.extend(services);
        self.ingresses.extend(ingresses);
        self.network_policies.extend(network_policies);
        self.service_accounts.extend(service_accounts);
        self.roles.extend(roles);
        self.cluster_roles.extend(cluster_roles);
        self.role_bindings.extend(role_bindings);
        self.cluster_role_bindings.extend(cluster_role_bindings);
        self.config_maps.extend(config_maps);
        self.secrets.extend(secrets);
        self.limit_ranges.extend(limit_ranges);
        self.kubelet_configs.extend(kubelet_configs);
        self.encryption_configs.extend(encryption_configs);
        self.ignored.extend(ignored);
        self.not_assessed.extend(not_assessed);
        if cluster_version.is_some() {
            self.cluster_version = cluster_version;
        }
    }

    /// The number of typed objects held.
    pub fn len(&self) -> usize {
        self.counts().values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many objects of each kind were read.
    pub fn counts(&self) -> BTreeMap<Kind, usize> {
        let all = [
            (Kind::Namespace, self.namespaces.len()),
            (Kind::Node, self.nodes.len()),
            (Kind::Pod, self.pods.len()),
            (Kind::Deployment, self.deployments.len()),
            (Kind::StatefulSet, self.stateful_sets.len()),
            (Kind::DaemonSet, self.daemon_sets.len()),
            (Kind::ReplicaSet, self.replica_sets.len()),
            (
                Kind::ReplicationController,
                self.replication_controllers.len(),
            ),
            (Kind::Job, self.jobs.len()),
            (Kind::CronJob, self.cron_jobs.len()),
            (Kind::Service, self.services.len()),
            (Kind::Ingress, self.ingresses.len()),
            (Kind::NetworkPolicy, self.network_policies.len()),
            (Kind::ServiceAccount, self.service_accounts.len()),
            (Kind::Role, self.roles.len()),
            (Kind::ClusterRole, self.cluster_roles.len()),
            (Kind::RoleBinding, self.role_bindings.len()),
            (Kind::ClusterRoleBinding, self.cluster_role_bindings.len()),
            (Kind::ConfigMap, self.config_maps.len()),
            (Kind::Secret, self.secrets.len()),
            (Kind::LimitRange, self.limit_ranges.len()),
            (Kind::KubeletConfiguration, self.kubelet_configs.len()),
            (Kind::EncryptionConfiguration, self.encryption_configs.len()),
        ];
        all.into_iter().filter(|(_, n)| *n > 0).collect()
    }

    /// Whether `kind` could not be read (in any namespace).
    pub fn is_not_assessed(&self, kind: Kind) -> bool {
        self.not_assessed.iter().any(|n| n.kind == kind)
    }

    /// Whether the object named by `owner` (a controller reference) is in the inventory.
    pub fn contains(&self, r: &ObjectRef) -> bool {
        fn has<
            T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
        >(
            v: &[Located<T>],
            r: &ObjectRef,
        ) -> bool {
            v.iter().any(|l| {
                let m = l.object.metadata();
                m.name.as_deref() == Some(r.name.as_str()) && m.namespace == r.namespace
            })
        }
        match r.kind {
            Kind::Deployment => has(&self.deployments, r),
            Kind::StatefulSet => has(&self.stateful_sets, r),
            Kind::DaemonSet => has(&self.daemon_sets, r),
            Kind::ReplicaSet => has(&self.replica_sets, r),
            Kind::ReplicationController => has(&self.replication_controllers, r),
            Kind::Job => has(&self.jobs, r),
            Kind::CronJob => has(&self.cron_jobs, r),
            Kind::Pod => has(&self.pods, r),
            _ => false,
        }
    }
}

/// The security-relevant fields of a kubelet configuration file. Fields left out of the file
/// take the `v1beta1` defaults, which are the secure ones (anonymous auth off, Webhook
/// authorization, read-only port closed); only what the file sets explicitly can be insecure.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfiguration {
    #[serde(default)]
    pub metadata: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    #[serde(default)]
    pub authentication: Option<KubeletAuthentication>,
    #[serde(default)]
    pub authorization: Option<KubeletAuthorization>,
    #[serde(default)]
    pub read_only_port: Option<i64>,
    #[serde(default)]
    pub protect_kernel_defaults: Option<bool>,
    #[serde(default)]
    pub rotate_certificates: Option<bool>,
    #[serde(default)]
    pub make_i_p_tables_util_chains: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletAuthentication {
    #[serde(default)]
    pub anonymous: Option<Enabled>,
    #[serde(default)]
    pub webhook: Option<Enabled>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Enabled {
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct KubeletAuthorization {
    #[serde(default)]
    pub mode: Option<String>,
}

/// The origin used for objects that were built in memory rather than read from a source.
pub fn memory_origin(name: &str) -> Origin {
    Origin {
        source: Arc::from(name),
        document: 1,
        line: None,
    }
}
