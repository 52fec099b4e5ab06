//! Secrets management: credentials kept outside Secrets, and long-lived token Secrets.

use kestrel_k8s::{Inventory, Kind, ObjectRef};

use crate::catalog;
use crate::detect;
use crate::finding::Finding;

pub fn check_secrets(inv: &Inventory, out: &mut Vec<Finding>) {
    for l in &inv.config_maps {
        let m = &l.object.metadata;
        let r = ObjectRef::new(
            Kind::ConfigMap,
            m.namespace.as_deref(),
            m.name.as_deref().unwrap_or_default(),
        );
        for (k, v) in l.object.data.iter().flatten() {
            if let Some(kind) = detect::credential(k, v) {
                out.push(Finding {
                    check: &catalog::CONFIGMAP_CREDENTIALS,
                    resource: r.clone(),
                    container: None,
                    path: format!("data.{k}"),
                    message: format!("ConfigMap {} holds {kind} under key {k}", r.name),
                    origin: Some(l.origin.clone()),
                });
            }
        }
    }
    for l in &inv.secrets {
        if l.object.type_.as_deref() == Some("kubernetes.io/service-account-token") {
            let m = &l.object.metadata;
            let r = ObjectRef::new(
                Kind::Secret,
                m.namespace.as_deref(),
                m.name.as_deref().unwrap_or_default(),
            );
            let sa = m
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map_or("an unnamed ServiceAccount".to_owned(), |s| {
                    format!("ServiceAccount {s}")
                });
            out.push(Finding {
                check: &catalog::LEGACY_TOKEN_SECRET,
                resource: r.clone(),
                container: None,
                path: "type".to_owned(),
                message: format!("Secret {} holds a non-expiring token of {sa}", r.name),
                origin: Some(l.origin.clone()),
            });
        }
    }
}
