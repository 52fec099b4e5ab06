//! Kestrel's HTTP API server: ingest, query API, OpenAPI document, auth, TLS, metrics, alert sinks and the embedded dashboard
