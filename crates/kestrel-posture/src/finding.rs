//! A finding: one check failing on one object (and container), at one field path.

use kestrel_k8s::{ObjectRef, Origin};

use crate::catalog::Check;

#[derive(Debug, Clone)]
pub struct Finding {
    pub check: &'static Check,
    pub resource: ObjectRef,
    /// The container at fault, for container-level checks.
    pub container: Option<String>,
    /// The exact field path within the resource (for RBAC, within the binding).
    pub path: String,
    pub message: String,
    /// Where the resource was read from.
    pub origin: Option<Origin>,
}

impl Finding {
    /// The sort key of reports: severity first, then resource, check and path.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.check.severity),
            &self.resource,
            self.check.id,
            &self.container,
            &self.path,
        )
    }
}
