//! Alert sinks: newly stored alerts are forwarded to webhooks.
//!
//! - `webhook`: POSTs the alert in Falco's JSON output shape, which Falcosidekick's `/` endpoint
//!   and anything that reads Falco's `http_output` accept.
//! - `slack`: POSTs a Slack-compatible incoming-webhook message (`text` plus one attachment),
//!   which Slack, Mattermost and Rocket.Chat accept.
//!
//! Each sink has a bounded queue and one delivery task. A delivery that fails with a network
//! error, HTTP 429 or 5xx is retried with exponential backoff; after `max_attempts` (or at once
//! for another 4xx, which a retry would not fix) the alert goes to the `dead_letters` table with
//! the last error. A full queue dead-letters the alert immediately rather than block ingestion.

use std::time::Duration;

use kestrel_event::{Alert, Priority};
use kestrel_store::Store;
use serde_json::json;
use tokio::sync::mpsc;

use crate::ServerError;
use crate::metrics::{DeliveryLabels, Metrics, SinkLabels};

/// The body format a sink posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Webhook,
    Slack,
}

impl std::str::FromStr for SinkKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "webhook" | "falcosidekick" => Ok(SinkKind::Webhook),
            "slack" => Ok(SinkKind::Slack),
            _ => Err(format!(
                "unknown sink kind {s:?} (expected webhook or slack)"
            )),
        }
    }
}

/// One configured sink.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub name: String,
    pub kind: SinkKind,
    pub url: String,
    /// Only alerts at least this severe are sent.
    pub min_priority: Priority,
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub queue_capacity: usize,
}

impl SinkSpec {
    pub fn new(name: impl Into<String>, kind: SinkKind, url: impl Into<String>) -> SinkSpec {
        SinkSpec {
            name: name.into(),
            kind,
            url: url.into(),
            min_priority: Priority::Debug,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            queue_capacity: 10_000,
        }
    }
}

#[derive(Debug)]
struct SinkHandle {
    spec: SinkSpec,
    tx: mpsc::Sender<Alert>,
}

/// The running sinks.
#[derive(Debug)]
pub struct Sinks {
    sinks: Vec<SinkHandle>,
    store: Store,
    metrics: std::sync::Arc<Metrics>,
}

/// The body a sink of `kind` posts for `alert`.
pub fn body(kind: SinkKind, alert: &Alert) -> serde_json::Value {
    match kind {
        SinkKind::Webhook => serde_json::to_value(alert).expect("alerts serialise"),
        SinkKind::Slack => {
            let color = match alert.priority {
                Priority::Emergency | Priority::Alert | Priority::Critical | Priority::Error => {
                    "#d32f2f"
                }
                Priority::Warning => "#f57c00",
                Priority::Notice => "#1976d2",
                Priority::Informational | Priority::Debug => "#757575",
            };
            let mut fields = vec![
                json!({"title": "rule", "value": alert.rule, "short": true}),
                json!({"title": "priority", "value": alert.priority.as_str(), "short": true}),
                json!({"title": "hostname", "value": alert.hostname, "short": true}),
                json!({"title": "time", "value": alert.time, "short": true}),
            ];
            for (k, v) in &alert.output_fields {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                fields.push(json!({"title": k, "value": value, "short": true}));
            }
            json!({
                "text": format!("[{}] {}: {}", alert.priority, alert.rule, alert.output),
                "attachments": [{
                    "color": color,
                    "fallback": alert.output,
                    "fields": fields,
                    "footer": "kestrel",
                }],
            })
        }
    }
}

impl Sinks {
    /// Validates the specs and starts one delivery task per sink.
    pub fn start(
        specs: Vec<SinkSpec>,
        store: Store,
        metrics: std::sync::Arc<Metrics>,
    ) -> Result<(Sinks, Vec<tokio::task::JoinHandle<()>>), ServerError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("kestrel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServerError::Sink {
                name: "*".to_owned(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let mut sinks = Vec::new();
        let mut tasks = Vec::new();
        for spec in specs {
            if !(spec.url.starts_with("http://") || spec.url.starts_with("https://")) {
                return Err(ServerError::Sink {
                    name: spec.name,
                    message: format!("url {:?} must start with http:// or https://", spec.url),
                });
            }
            if spec.max_attempts == 0 {
                return Err(ServerError::Sink {
                    name: spec.name,
                    message: "max_attempts must be at least 1".to_owned(),
                });
            }
            let (tx, rx) = mpsc::channel(spec.queue_capacity.max(1));
            tasks.push(tokio::spawn(deliver_loop(
                spec.clone(),
                rx,
                client.clone(),
                store.clone(),
                metrics.clone(),
            )));
            sinks.push(SinkHandle { spec, tx });
        }
        Ok((
            Sinks {
                sinks,
                store,
                metrics,
            },
            tasks,
        ))
    }

    /// Queues a newly stored alert for every sink that wants it.
    pub async fn enqueue(&self, alert: &Alert) {
        for s in &self.sinks {
            if !alert.priority.at_least(s.spec.min_priority) {
                continue;
            }
            match s.tx.try_send(alert.clone()) {
                Ok(()) => {
                    self.metrics
                        .sink_queue_depth
                        .get_or_create(&SinkLabels {
                            sink: s.spec.name.clone(),
                        })
                        .inc();
                }
                Err(e) => {
                    let alert = match e {
                        mpsc::error::TrySendError::Full(a)
                        | mpsc::error::TrySendError::Closed(a) => a,
                    };
                    tracing::warn!(sink = %s.spec.name, "sink queue full: alert dead-lettered");
                    dead_letter(
                        &self.store,
                        &self.metrics,
                        &s.spec,
                        &body(s.spec.kind, &alert),
                        "queue full",
                        0,
                    )
                    .await;
                }
            }
        }
    }
}

async fn dead_letter(
    store: &Store,
    metrics: &Metrics,
    spec: &SinkSpec,
    payload: &serde_json::Value,
    error: &str,
    attempts: u32,
) {
    metrics
        .sink_deliveries
        .get_or_create(&DeliveryLabels {
            sink: spec.name.clone(),
            outcome: "dead_letter".to_owned(),
        })
        .inc();
    if let Err(e) = store
        .add_dead_letter(&spec.name, payload, error, attempts)
        .await
    {
        tracing::error!(sink = %spec.name, "cannot record a dead letter: {e}");
    }
}

enum Failure {
    Retry(String),
    Permanent(String),
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    payload: &serde_json::Value,
) -> Result<(), Failure> {
    match client.post(url).json(payload).send().await {
        Ok(resp) => {
            let status = resp.status();
            if status.is_success() {
                Ok(())
            } else if status.as_u16() == 429 || status.is_server_error() {
                Err(Failure::Retry(format!("HTTP {status} from {url}")))
            } else {
                Err(Failure::Permanent(format!("HTTP {status} from {url}")))
            }
        }
        Err(e) => Err(Failure::Retry(format!("cannot reach {url}: {e}"))),
    }
}

async fn deliver_loop(
    spec: SinkSpec,
    mut rx: mpsc::Receiver<Alert>,
    client: reqwest::Client,
    store: Store,
    metrics: std::sync::Arc<Metrics>,
) {
    // A clone of the gauge: the family's guard must not live across an await.
    let depth = metrics
        .sink_queue_depth
        .get_or_create(&SinkLabels {
            sink: spec.name.clone(),
        })
        .clone();
    let outcome = |o: &str| {
        metrics
            .sink_deliveries
            .get_or_create(&DeliveryLabels {
                sink: spec.name.clone(),
                outcome: o.to_owned(),
            })
            .inc();
    };
    while let Some(alert) = rx.recv().await {
        depth.dec();
        let payload = body(spec.kind, &alert);
        let mut backoff = spec.initial_backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt(&client, &spec.url, &payload).await {
                Ok(()) => {
                    outcome("delivered");
                    break;
                }
                Err(Failure::Retry(e)) if tries < spec.max_attempts => {
                    tracing::debug!(sink = %spec.name, attempt = tries, "delivery failed, retrying in {backoff:?}: {e}");
                    outcome("retried");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(spec.max_backoff);
                }
                Err(Failure::Retry(e) | Failure::Permanent(e)) => {
                    tracing::warn!(sink = %spec.name, attempts = tries, "delivery failed, alert dead-lettered: {e}");
                    dead_letter(&store, &metrics, &spec, &payload, &e, tries).await;
                    break;
                }
            }
        }
    }
}
