//! Network segmentation: is each workload's traffic restricted by a NetworkPolicy?
//!
//! A pod is isolated for ingress (egress) as soon as any NetworkPolicy of its namespace
//! selects it with that policy type; the default-deny policy of a namespace is the common way
//! to do that for every pod. A policy without `policyTypes` has Ingress, plus Egress when it
//! has egress rules — the API server's defaulting, reproduced here.

use std::collections::HashMap;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kestrel_k8s::pod::EffectivePod;
use kestrel_k8s::{Inventory, Kind};

use crate::catalog;
use crate::finding::Finding;

/// The NetworkPolicies of each namespace: a policy only ever selects pods of its own.
type ByNamespace<'a> = HashMap<Option<&'a str>, Vec<&'a NetworkPolicy>>;

fn isolated(policies: &ByNamespace<'_>, pod: &EffectivePod<'_>, ty: &str) -> bool {
    let Some(policies) = policies.get(&pod.object.namespace.as_deref()) else {
        return false;
    };
    policies.iter().any(|np| {
        let Some(spec) = &np.spec else { return false };
        let applies = match &spec.policy_types {
            Some(t) => t.iter().any(|t| t == ty),
            None => ty == "Ingress" || (ty == "Egress" && spec.egress.is_some()),
        };
        applies
            && spec
                .pod_selector
                .as_ref()
                .is_none_or(|sel| kestrel_k8s::selector::matches(sel, &pod.pod_labels))
    })
}

/// Reports workloads not isolated for ingress or egress. Pods on the host network are left to
/// the `host-network` check: NetworkPolicies do not apply to them.
pub fn check_network(inv: &Inventory, pods: &[EffectivePod<'_>], out: &mut Vec<Finding>) {
    if inv.is_not_assessed(Kind::NetworkPolicy) {
        return;
    }
    let mut policies: ByNamespace<'_> = HashMap::new();
    for l in &inv.network_policies {
        policies
            .entry(l.object.metadata.namespace.as_deref())
            .or_default()
            .push(&l.object);
    }
    for pod in pods {
        if pod.host_network() {
            continue;
        }
        let ns = pod.object.namespace.as_deref().unwrap_or("(unspecified)");
        for (ty, check) in [
            ("Ingress", &catalog::NETPOL_INGRESS),
            ("Egress", &catalog::NETPOL_EGRESS),
        ] {
            if !isolated(&policies, pod, ty) {
                out.push(Finding {
                    check,
                    resource: pod.object.clone(),
                    container: None,
                    path: "metadata.labels".to_owned(),
                    message: format!(
                        "{} {} is selected by no {ty} NetworkPolicy in namespace {ns}: {} traffic is unrestricted",
                        pod.object.kind, pod.object.name, ty.to_ascii_lowercase()
                    ),
                    origin: Some(pod.origin.clone()),
                });
            }
        }
    }
}
