//! The container resource defaults a namespace's LimitRanges impose.
//!
//! The LimitRanger admission plugin writes a LimitRange's `default` (limits) and
//! `defaultRequest` (requests) of `type: Container` into every container, init container
//! included, that omits them. The API server defaults the LimitRange itself first, and a
//! manifest has not been through that: a missing `default` takes `max`, a missing
//! `defaultRequest` takes `default` and then `min`. Both steps are reproduced here, so a
//! container without limits in a namespace whose LimitRange sets them is seen as the cluster
//! will run it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRange, LimitRangeItem};

use crate::inventory::Inventory;

/// Which LimitRange supplies a default, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaulted {
    /// The LimitRange's name.
    pub limit_range: String,
    /// The quantity as written (`512Mi`, `500m`).
    pub quantity: String,
}

/// The container defaults of one namespace, by resource name (`cpu`, `memory`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDefaults {
    pub limits: BTreeMap<String, Defaulted>,
    pub requests: BTreeMap<String, Defaulted>,
}

/// Container defaults by namespace. A manifest without a namespace is keyed by `None` and
/// matches LimitRanges without one, as both are applied to the same `kubectl apply -n`
/// namespace.
#[derive(Debug, Clone, Default)]
pub struct LimitDefaults {
    by_namespace: BTreeMap<Option<String>, ContainerDefaults>,
}

impl LimitDefaults {
    /// Collects the `type: Container` defaults of every LimitRange in the inventory. When
    /// several LimitRanges of a namespace default the same resource, the first read wins (the
    /// admission plugin's order among them is not specified either).
    pub fn build(inv: &Inventory) -> LimitDefaults {
        let mut by_namespace: BTreeMap<Option<String>, ContainerDefaults> = BTreeMap::new();
        for l in &inv.limit_ranges {
            let lr = &l.object;
            let name = lr.metadata.name.clone().unwrap_or_default();
            let entry = by_namespace
                .entry(lr.metadata.namespace.clone())
                .or_default();
            for item in container_items(lr) {
                let (limits, requests) = defaulted(item);
                for (res, q) in limits {
                    entry.limits.entry(res).or_insert_with(|| Defaulted {
                        limit_range: name.clone(),
                        quantity: q,
                    });
                }
                for (res, q) in requests {
                    entry.requests.entry(res).or_insert_with(|| Defaulted {
                        limit_range: name.clone(),
                        quantity: q,
                    });
                }
            }
        }
        LimitDefaults { by_namespace }
    }

    /// The defaults applying to containers in `namespace`.
    pub fn for_namespace(&self, namespace: Option<&str>) -> Option<&ContainerDefaults> {
        self.by_namespace.get(&namespace.map(str::to_owned))
    }
}

fn container_items(lr: &LimitRange) -> impl Iterator<Item = &LimitRangeItem> {
    lr.spec
        .iter()
        .flat_map(|s| s.limits.iter())
        .filter(|i| i.type_ == "Container")
}

/// The item's `default` and `defaultRequest` after the API server's defaulting
/// (`SetDefaults_LimitRangeItem`): default ← max, defaultRequest ← default, then ← min.
fn defaulted(item: &LimitRangeItem) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let list = |m: &Option<
        BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >|
     -> BTreeMap<String, String> {
        m.iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect()
    };
    let mut limits = list(&item.default);
    for (k, v) in list(&item.max) {
        limits.entry(k).or_insert(v);
    }
    let mut requests = list(&item.default_request);
    for (k, v) in &limits {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in list(&item.min) {
        requests.entry(k).or_insert(v);
    }
    (limits, requests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_str;

    fn defaults(yaml: &str) -> LimitDefaults {
        let mut inv = Inventory::new();
        load_str(&mut inv, yaml, "lr.yaml").unwrap();
        LimitDefaults::build(&inv)
    }

    fn show(d: Option<&ContainerDefaults>) -> String {
        let Some(d) = d else { return "none".to_owned() };
        let part = |m: &BTreeMap<String, Defaulted>| {
            m.iter()
                .map(|(k, v)| format!("{k}={} ({})", v.quantity, v.limit_range))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "limits: {}; requests: {}",
            part(&d.limits),
            part(&d.requests)
        )
    }

    #[test]
    fn api_server_defaulting_of_limit_range_items() {
        let d = defaults(
            r#"
apiVersion: v1
kind: LimitRange
metadata: {name: a, namespace: n}
spec:
  limits:
  - {type: Container, max: {cpu: "2", memory: 1Gi}, min: {cpu: 50m}, default: {memory: 512Mi}}
  - {type: Pod, max: {ephemeral-storage: 1Gi}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: b, namespace: n}
spec:
  limits:
  - {type: Container, defaultRequest: {memory: 1Mi, ephemeral-storage: 1Gi}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: c}
spec:
  limits:
  - {type: PersistentVolumeClaim, max: {storage: 1Gi}}
"#,
        );
        // default ← max (cpu); defaultRequest ← default (cpu and memory), then ← min (no
        // change: cpu already has one); the first LimitRange wins a resource.
        assert_eq!(
            show(d.for_namespace(Some("n"))),
            "limits: cpu=2 (a), memory=512Mi (a); requests: cpu=2 (a), ephemeral-storage=1Gi (b), memory=512Mi (a)"
        );
        assert_eq!(show(d.for_namespace(None)), "limits: ; requests: ");
        assert_eq!(show(d.for_namespace(Some("other"))), "none");
    }
}
