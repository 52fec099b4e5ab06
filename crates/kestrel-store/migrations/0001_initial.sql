-- Kestrel's schema. One file for SQLite and PostgreSQL: only portable types (BIGINT, TEXT,
-- DOUBLE PRECISION), text primary keys chosen by the application (so ingestion is idempotent
-- without sequences), and JSON payloads stored as TEXT next to the indexed columns that filter.
-- Times are Unix nanoseconds in BIGINT columns ending in _ns.

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    time_ns BIGINT NOT NULL,
    received_ns BIGINT NOT NULL,
    rule TEXT NOT NULL,
    priority TEXT NOT NULL,
    priority_rank BIGINT NOT NULL,
    source TEXT NOT NULL,
    namespace TEXT,
    pod TEXT,
    workload TEXT,
    container TEXT,
    body TEXT NOT NULL
);
CREATE INDEX alerts_time ON alerts (time_ns);
CREATE INDEX alerts_rule_time ON alerts (rule, time_ns);
CREATE INDEX alerts_priority_time ON alerts (priority_rank, time_ns);
CREATE INDEX alerts_workload_time ON alerts (cluster, namespace, workload, time_ns);
CREATE INDEX alerts_pod ON alerts (namespace, pod);

CREATE TABLE workloads (
    cluster TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    exposure TEXT NOT NULL,
    environment TEXT NOT NULL,
    images TEXT NOT NULL,
    seen_ns BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (cluster, namespace, kind, name)
);
CREATE INDEX workloads_source ON workloads (cluster, source);

CREATE TABLE vulnerabilities (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    source TEXT NOT NULL,
    namespace TEXT NOT NULL,
    workload_kind TEXT NOT NULL,
    workload TEXT NOT NULL,
    image TEXT NOT NULL,
    package TEXT NOT NULL,
    vuln_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    in_use BIGINT NOT NULL,
    kev BIGINT NOT NULL,
    epss DOUBLE PRECISION,
    seen_ns BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX vulnerabilities_score ON vulnerabilities (score);
CREATE INDEX vulnerabilities_source ON vulnerabilities (cluster, source);
CREATE INDEX vulnerabilities_workload ON vulnerabilities (cluster, namespace, workload);
CREATE INDEX vulnerabilities_vuln ON vulnerabilities (vuln_id);

CREATE TABLE posture_findings (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    source TEXT NOT NULL,
    check_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank BIGINT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    seen_ns BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX posture_source ON posture_findings (cluster, source);
CREATE INDEX posture_resource ON posture_findings (cluster, namespace, name);
CREATE INDEX posture_severity ON posture_findings (severity_rank);

CREATE TABLE attack_paths (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    source TEXT NOT NULL,
    namespace TEXT NOT NULL,
    workload TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    seen_ns BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX attack_paths_source ON attack_paths (cluster, source);
CREATE INDEX attack_paths_score ON attack_paths (score);

-- The newest snapshot accepted per (cluster, source, kind): an older snapshot resent from an
-- agent's buffer after a newer one arrived must not overwrite it.
CREATE TABLE snapshots (
    cluster TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    generated_ns BIGINT NOT NULL,
    PRIMARY KEY (cluster, source, kind)
);

CREATE TABLE sensors (
    cluster TEXT NOT NULL,
    node TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    events_total BIGINT NOT NULL,
    drops_total BIGINT NOT NULL,
    alerts_total BIGINT NOT NULL,
    events_per_second DOUBLE PRECISION NOT NULL,
    last_seen_ns BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (cluster, node)
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ns BIGINT NOT NULL
);

CREATE TABLE enrollment_tokens (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_ns BIGINT NOT NULL
);

CREATE TABLE dead_letters (
    id TEXT PRIMARY KEY,
    sink TEXT NOT NULL,
    payload TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_ns BIGINT NOT NULL
);
CREATE INDEX dead_letters_created ON dead_letters (created_ns);
