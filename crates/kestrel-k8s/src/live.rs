//! Reading a live cluster: read-only list calls through kube-rs.
//!
//! Each kind of [`Kind::ALL`] is listed cluster-wide (paginated). A kind the credentials may
//! not list (403), or that the server does not serve (404), is recorded as not assessed, never
//! treated as empty; 401 means the credentials are wrong and fails the whole read.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, Node, Pod, ReplicationController, Secret, Service,
    ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::de::DeserializeOwned;

use crate::error::LiveError;
use crate::inventory::{ClusterVersion, Inventory, NotAssessed};
use crate::object::{Kind, Located, Origin};

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// A kubeconfig file; without it `$KUBECONFIG`, `~/.kube/config` and then the in-cluster
    /// service account are tried, as kubectl does.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    pub context: Option<String>,
}

/// Lists every kind of the model from the cluster. Blocking: runs its own single-threaded
/// runtime so callers need not be async.
pub fn read_cluster(options: &ClusterOptions) -> Result<Inventory, LiveError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Config(format!("cannot start the I/O runtime: {e}")))?;
    rt.block_on(read_cluster_async(options))
}

/// The async form of [`read_cluster`].
pub async fn read_cluster_async(options: &ClusterOptions) -> Result<Inventory, LiveError> {
    let kube_opts = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &options.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| LiveError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kc, &kube_opts)
                .await
                .map_err(|e| LiveError::Config(format!("{}: {e}", path.display())))?
        }
        None if options.context.is_some() => Config::from_kubeconfig(&kube_opts)
            .await
            .map_err(|e| LiveError::Config(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| LiveError::Config(e.to_string()))?,
    };
    let source: Arc<str> = Arc::from(config.cluster_url.to_string());
    let client = Client::try_from(config).map_err(|e| LiveError::Config(e.to_string()))?;
    read_with_client(client, source).await
}

/// Lists every kind through an existing client; `source` names the cluster in reports.
pub async fn read_with_client(client: Client, source: Arc<str>) -> Result<Inventory, LiveError> {
    let mut inv = Inventory::new();
    let origin = Origin {
        source,
        document: 1,
        line: None,
    };
    match client.apiserver_version().await {
        Ok(info) => {
            inv.cluster_version = Some(ClusterVersion {
                git_version: info.git_version,
                platform: Some(info.platform).filter(|p| !p.is_empty()),
                origin: origin.clone(),
            })
        }
        Err(e) => tracing::warn!("cannot read the cluster version: {e}"),
    }
    for kind in Kind::ALL {
        let c = client.clone();
        let r = match kind {
            Kind::Namespace => list::<Namespace>(c, kind, &origin, &mut inv.namespaces).await,
            Kind::Node => list::<Node>(c, kind, &origin, &mut inv.nodes).await,
            Kind::Pod => list::<Pod>(c, kind, &origin, &mut inv.pods).await,
            Kind::Deployment => list::<Deployment>(c, kind, &origin, &mut inv.deployments).await,
            Kind::StatefulSet => {
                list::<StatefulSet>(c, kind, &origin, &mut inv.stateful_sets).await
            }
            Kind::DaemonSet => list::<DaemonSet>(c, kind, &origin, &mut inv.daemon_sets).await,
            Kind::ReplicaSet => list::<ReplicaSet>(c, kind, &origin, &mut inv.replica_sets).await,
            Kind::ReplicationController => {
                list::<ReplicationController>(c, kind, &origin, &mut inv.replication_controllers)
                    .await
            }
            Kind::Job => list::<Job>(c, kind, &origin, &mut inv.jobs).await,
            Kind::CronJob => list::<CronJob>(c, kind, &origin, &mut inv.cron_jobs).await,
            Kind::Service => list::<Service>(c, kind, &origin, &mut inv.services).await,
            Kind::Ingress => list::<Ingress>(c, kind, &origin, &mut inv.ingresses).await,
            Kind::NetworkPolicy => {
                list::<NetworkPolicy>(c, kind, &origin, &mut inv.network_policies).await
            }
            Kind::ServiceAccount => {
                list::<ServiceAccount>(c, kind, &origin, &mut inv.service_accounts).await
            }
            Kind::Role => list::<Role>(c, kind, &origin, &mut inv.roles).await,
            Kind::ClusterRole => {
                list::<ClusterRole>(c, kind, &origin, &mut inv.cluster_roles).await
            }
            Kind::RoleBinding => {
                list::<RoleBinding>(c, kind, &origin, &mut inv.role_bindings).await
            }
            Kind::ClusterRoleBinding => {
                list::<ClusterRoleBinding>(c, kind, &origin, &mut inv.cluster_role_bindings).await
            }
            Kind::ConfigMap => list::<ConfigMap>(c, kind, &origin, &mut inv.config_maps).await,
            Kind::Secret => list::<Secret>(c, kind, &origin, &mut inv.secrets).await,
            Kind::LimitRange => list::<LimitRange>(c, kind, &origin, &mut inv.limit_ranges).await,
            // Kubelet and encryption configuration live in node files, not in the API; the
            // cluster's version was read above.
            Kind::KubeletConfiguration | Kind::EncryptionConfiguration | Kind::Cluster => Ok(()),
        };
        match r {
            Ok(()) => {}
            Err(Listed::NotAssessed(reason)) => {
                tracing::warn!("{kind} not assessed: {reason}");
                inv.not_assessed.push(NotAssessed {
                    kind,
                    namespace: None,
                    reason,
                });
            }
            Err(Listed::Fatal(e)) => return Err(e),
        }
    }
    Ok(inv)
}

enum Listed {
    NotAssessed(String),
    Fatal(LiveError),
}

async fn list<K>(
    client: Client,
    kind: Kind,
    origin: &Origin,
    out: &mut Vec<Located<K>>,
) -> Result<(), Listed>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client);
    let mut params = ListParams::default().limit(500);
    loop {
        let page = match api.list(&params).await {
            Ok(p) => p,
            Err(kube::Error::Api(status)) => {
                let message = status.message.clone();
                return Err(match status.code {
                    401 => Listed::Fatal(LiveError::Unauthorized { kind, message }),
                    403 => Listed::NotAssessed(format!("forbidden: {message}")),
                    404 => Listed::NotAssessed(format!("not served by this API server: {message}")),
                    code => Listed::Fatal(LiveError::List {
                        kind,
                        message: format!("HTTP {code}: {message}"),
                    }),
                });
            }
            Err(e) => {
                return Err(Listed::Fatal(LiveError::List {
                    kind,
                    message: e.to_string(),
                }));
            }
        };
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        out.extend(page.items.into_iter().map(|object| Located {
            object,
            origin: origin.clone(),
        }));
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}
