//! Kubernetes posture checks.
