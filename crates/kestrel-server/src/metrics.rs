//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `kestrel_alerts_ingested_total` | counter | `rule`, `priority` |
//! | `kestrel_alerts_duplicate_total` | counter | |
//! | `kestrel_ingest_records_total` | counter | `kind` |
//! | `kestrel_ingest_lag_seconds` | histogram | (server receive time minus alert time) |
//! | `kestrel_sensor_events_per_second` | gauge | `cluster`, `node` |
//! | `kestrel_sensor_events_processed` | gauge | `cluster`, `node` (the sensor's own counter) |
//! | `kestrel_sensor_events_dropped` | gauge | `cluster`, `node` (the sensor's own counter) |
//! | `kestrel_agent_buffer_bytes` | gauge | `cluster`, `node` (the agent's on-disk buffer) |
//! | `kestrel_agent_buffer_dropped_batches` | gauge | `cluster`, `node` (batches lost to a full buffer) |
//! | `kestrel_sink_queue_depth` | gauge | `sink` |
//! | `kestrel_sink_deliveries_total` | counter | `sink`, `outcome` (`delivered`, `retried`, `dead_letter`) |
//! | `kestrel_database_size_bytes` | gauge | |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
    pub priority: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    pub cluster: String,
    pub node: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    pub sink: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub sink: String,
    pub outcome: String,
}

/// The server's metrics; cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub alerts_ingested: Family<RuleLabels, Counter>,
    pub alerts_duplicate: Counter,
    pub records_ingested: Family<KindLabels, Counter>,
    pub ingest_lag: Histogram,
    pub sensor_eps: Family<NodeLabels, Gauge<f64, AtomicU64>>,
    pub sensor_events: Family<NodeLabels, Gauge>,
    pub sensor_drops: Family<NodeLabels, Gauge>,
    pub agent_buffer_bytes: Family<NodeLabels, Gauge>,
    pub agent_buffer_dropped: Family<NodeLabels, Gauge>,
    pub sink_queue_depth: Family<SinkLabels, Gauge>,
    pub sink_deliveries: Family<DeliveryLabels, Counter>,
    pub database_size: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kestrel");
        let m = Metrics {
            registry: Registry::default(),
            alerts_ingested: Family::default(),
            alerts_duplicate: Counter::default(),
            records_ingested: Family::default(),
            // 1 ms to about 4.6 hours: agents resend buffered alerts long after the event.
            ingest_lag: Histogram::new(exponential_buckets(0.001, 4.0, 13)),
            sensor_eps: Family::default(),
            sensor_events: Family::default(),
            sensor_drops: Family::default(),
            agent_buffer_bytes: Family::default(),
            agent_buffer_dropped: Family::default(),
            sink_queue_depth: Family::default(),
            sink_deliveries: Family::default(),
            database_size: Gauge::default(),
        };
        registry.register(
            "alerts_ingested",
            "Alerts stored, by rule and priority",
            m.alerts_ingested.clone(),
        );
        registry.register(
            "alerts_duplicate",
            "Alerts received again (agent resends) and not stored twice",
            m.alerts_duplicate.clone(),
        );
        registry.register(
            "ingest_records",
            "Records ingested, by kind",
            m.records_ingested.clone(),
        );
        registry.register(
            "ingest_lag_seconds",
            "Time from an alert's event to its arrival at the server",
            m.ingest_lag.clone(),
        );
        registry.register(
            "sensor_events_per_second",
            "Events per second each sensor last reported",
            m.sensor_eps.clone(),
        );
        registry.register(
            "sensor_events_processed",
            "Events each sensor processed since it started, as it last reported",
            m.sensor_events.clone(),
        );
        registry.register(
            "sensor_events_dropped",
            "Events each sensor lost since it started, as it last reported",
            m.sensor_drops.clone(),
        );
        registry.register(
            "agent_buffer_bytes",
            "Bytes in each agent's on-disk buffer, as it last reported",
            m.agent_buffer_bytes.clone(),
        );
        registry.register(
            "agent_buffer_dropped_batches",
            "Batches each agent dropped because its buffer was full, as it last reported",
            m.agent_buffer_dropped.clone(),
        );
        registry.register(
            "sink_queue_depth",
            "Alerts waiting for delivery, per sink",
            m.sink_queue_depth.clone(),
        );
        registry.register(
            "sink_deliveries",
            "Sink delivery attempts by outcome",
            m.sink_deliveries.clone(),
        );
        registry.register(
            "database_size_bytes",
            "Size of the database",
            m.database_size.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
