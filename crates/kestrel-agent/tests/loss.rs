//! The agent against a real server that is killed and restarted: every alert arrives exactly
//! once; the buffer is bounded; a restarted agent resends what it had buffered.
//!
//! "Killing" the server shuts its whole Tokio runtime down at once: the listener, every
//! connection and request in flight and the database pool are dropped mid-way, as in a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kestrel_agent::{AgentClient, Identity, Limits};
use kestrel_event::{Alert, Priority};
use kestrel_server::{Server, ServerOptions};
use kestrel_store::model::*;
use kestrel_store::{AlertFilter, Store, WorkloadFilter};

struct ServerProc {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
}

impl ServerProc {
    fn start(db: &Path, addr: SocketAddr) -> ServerProc {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = db.display().to_string();
        let addr = rt.block_on(async move {
            // The old socket may linger for a moment after a kill.
            for _ in 0..100 {
                match Server::start(ServerOptions::new(addr, db.clone())).await {
                    Ok(s) => {
                        let addr = s.local_addr();
                        tokio::spawn(s.wait());
                        return addr;
                    }
                    Err(kestrel_server::ServerError::Bind { .. }) => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            panic!("cannot bind {addr} again");
        });
        ServerProc { rt, addr }
    }

    fn kill(self) {
        self.rt.shutdown_timeout(Duration::from_millis(200));
    }
}

fn enroll(db: &Path, cluster: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        let t = store.create_enrollment_token(cluster).await.unwrap();
        store.close().await;
        t.token
    })
}

fn stored_alerts(db: &Path) -> Vec<StoredAlert> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        let mut all = Vec::new();
        loop {
            let page = store
                .list_alerts(&AlertFilter {
                    limit: Some(1000),
                    offset: Some(all.len() as u64),
                    ..Default::default()
                })
                .await
                .unwrap();
            if page.items.is_empty() {
                break;
            }
            all.extend(page.items);
        }
        store.close().await;
        all
    })
}

fn alert(n: usize) -> Alert {
    let mut fields = BTreeMap::new();
    fields.insert("seq".to_owned(), serde_json::json!(n));
    fields.insert("k8s.ns.name".to_owned(), serde_json::json!("shop"));
    Alert {
        time: jiff::Timestamp::now().to_string(),
        rule: "Terminal shell in container".to_owned(),
        priority: Priority::Notice,
        output: format!("shell {n}"),
        output_fields: fields,
        source: "syscall".to_owned(),
        tags: vec![],
        hostname: "node-1".to_owned(),
        action: None,
        suppressed: 0,
    }
}

fn fast_limits() -> Limits {
    Limits {
        batch_max: 40,
        flush_interval: Duration::from_millis(20),
        buffer_max_bytes: 64 * 1024 * 1024,
        retry_min: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        request_timeout: Duration::from_secs(5),
    }
}

fn identity() -> Identity {
    Identity {
        cluster: "prod".to_owned(),
        node: "node-1".to_owned(),
    }
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn seqs(alerts: &[StoredAlert]) -> Vec<u64> {
    let mut v: Vec<u64> = alerts
        .iter()
        .map(|a| a.alert.output_fields["seq"].as_u64().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn server_killed_mid_stream_every_alert_arrives_exactly_once() {
    const N: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let token = enroll(&db, "prod");
    let server = ServerProc::start(&db, "127.0.0.1:0".parse().unwrap());
    let addr = server.addr;
    let client_rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = client_rt.enter();
    let client = AgentClient::new(
        &format!("http://{addr}"),
        &token,
        &dir.path().join("buffer"),
        identity(),
        fast_limits(),
    )
    .unwrap();
    let client = std::sync::Arc::new(client);
    let shipper = {
        let client = client.clone();
        client_rt.spawn(async move {
            for n in 0..N {
                client.ship_alert(alert(n), None).await;
                if n % 25 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    // Kill the server once batches are flowing.
    for _ in 0..6000 {
        if client.stats().sent_batches >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        client.stats().sent_batches >= 5,
        "no batch reached the server: {:?}",
        client.stats()
    );
    server.kill();
    // While it is down the agent buffers on disk.
    let mut buffered = 0;
    for _ in 0..200 {
        buffered = buffered.max(client.stats().buffer_files);
        if buffered >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        buffered >= 3,
        "the agent buffered while the server was down: {:?}",
        client.stats()
    );
    let server = ServerProc::start(&db, addr);
    client_rt.block_on(shipper).unwrap();
    assert!(
        client_rt.block_on(client.drain(Duration::from_secs(60))),
        "{:?}",
        client.stats()
    );
    let stats = client.stats();
    assert_eq!(
        (
            stats.alerts_queued,
            stats.dropped_alerts,
            stats.rejected_batches
        ),
        (N as u64, 0, 0)
    );
    server.kill();

    let stored = stored_alerts(&db);
    assert_eq!(
        seqs(&stored),
        (0..N as u64).collect::<Vec<_>>(),
        "every alert exactly once"
    );
    let ids: BTreeSet<_> = stored.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), N);
}

#[test]
fn full_buffer_drops_new_batches_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let token = enroll(&db, "prod");
    let addr = free_addr();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut limits = fast_limits();
    limits.buffer_max_bytes = 30_000;
    let _guard = rt.enter();
    let client = AgentClient::new(
        &format!("http://{addr}"),
        &token,
        &dir.path().join("buffer"),
        identity(),
        limits,
    )
    .unwrap();
    rt.block_on(async {
        for n in 0..1000 {
            client.ship_alert(alert(n), None).await;
        }
        client.flush().await;
    });
    let stats = client.stats();
    assert!(
        stats.dropped_batches > 0 && stats.dropped_alerts > 0,
        "{stats:?}"
    );
    assert!(stats.buffer_bytes <= 30_000, "{stats:?}");
    let server = ServerProc::start(&db, addr);
    rt.block_on(async {
        assert!(
            client.drain(Duration::from_secs(30)).await,
            "{:?}",
            client.stats()
        );
        let health = SensorHealth {
            cluster: String::new(),
            node: String::new(),
            version: "0.1.0".into(),
            status: SensorStatus::Ok,
            events_total: 0,
            drops_total: 0,
            alerts_total: 1000,
            events_per_second: 0.0,
            messages: vec![],
            buffer_bytes: 0,
            buffer_dropped_batches: 0,
        };
        client.ship_health(health).await.unwrap();
    });
    let stored = stored_alerts(&db);
    assert_eq!(stored.len() as u64, 1000 - stats.dropped_alerts);
    server.kill();
    let sensors = rt.block_on(async {
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        store.list_sensors().await.unwrap()
    });
    assert_eq!(
        sensors[0].health.buffer_dropped_batches, stats.dropped_batches,
        "the loss reaches the server"
    );
    assert_eq!(sensors[0].health.node, "node-1");
}

#[test]
fn restarted_agent_resends_its_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let token = enroll(&db, "prod");
    let addr = free_addr();
    let buffer = dir.path().join("buffer");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = AgentClient::new(
            &format!("http://{addr}"),
            &token,
            &buffer,
            identity(),
            fast_limits(),
        )
        .unwrap();
        for n in 0..120 {
            client.ship_alert(alert(n), None).await;
        }
        let wl = Workload {
            namespace: "shop".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            images: vec!["nginx:1.25".into()],
            exposure: ExposureLevel::Cluster,
            exposure_routes: vec![],
            environment: Environment::Unknown,
            labels: BTreeMap::new(),
            service_account: None,
        };
        client.ship_inventory(vec![wl.clone()]).await;
        // A newer inventory replaces the unsent older one.
        client
            .ship_inventory(vec![Workload {
                name: "web2".into(),
                ..wl
            }])
            .await;
        client.shutdown().await;
    });
    let server = ServerProc::start(&db, addr);
    rt.block_on(async {
        let client = AgentClient::new(
            &format!("http://{addr}"),
            &token,
            &buffer,
            identity(),
            fast_limits(),
        )
        .unwrap();
        for n in 120..150 {
            client.ship_alert(alert(n), None).await;
        }
        assert!(
            client.drain(Duration::from_secs(30)).await,
            "{:?}",
            client.stats()
        );
        client.shutdown().await;
    });
    server.kill();
    assert_eq!(seqs(&stored_alerts(&db)), (0..150).collect::<Vec<_>>());
    let names = rt.block_on(async {
        let store = Store::open(db.to_str().unwrap()).await.unwrap();
        store
            .list_workloads(&WorkloadFilter::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|w| w.workload.name)
            .collect::<Vec<_>>()
    });
    assert_eq!(names, ["web2"]);
}

#[test]
fn refused_batches_are_kept_aside_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let staging = enroll(&db, "staging");
    let server = ServerProc::start(&db, "127.0.0.1:0".parse().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let buffer = dir.path().join("buffer");
    rt.block_on(async {
        // The token is for "staging" but the agent says "prod": the server refuses with 403.
        let client = AgentClient::new(
            &format!("http://{}", server.addr),
            &staging,
            &buffer,
            identity(),
            fast_limits(),
        )
        .unwrap();
        client.ship_alert(alert(1), None).await;
        assert!(client.drain(Duration::from_secs(30)).await);
        assert_eq!(client.stats().rejected_batches, 1);
        let e = client
            .ship_health(SensorHealth {
                cluster: String::new(),
                node: String::new(),
                version: "0.1.0".into(),
                status: SensorStatus::Ok,
                events_total: 0,
                drops_total: 0,
                alerts_total: 0,
                events_per_second: 0.0,
                messages: vec![],
                buffer_bytes: 0,
                buffer_dropped_batches: 0,
            })
            .await
            .unwrap_err();
        assert!(e.contains("403") && e.contains("staging"), "{e}");
    });
    assert_eq!(
        std::fs::read_dir(buffer.join("rejected")).unwrap().count(),
        1
    );
    server.kill();
    assert!(stored_alerts(&db).is_empty());
}

#[test]
fn bad_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let e = AgentClient::new(
        "kestrel:7420",
        "kag_x",
        dir.path(),
        identity(),
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("kestrel:7420"), "{e}");
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let e = AgentClient::new(
        "http://127.0.0.1:1",
        "kag_x",
        &file.join("sub"),
        identity(),
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("file/sub"), "{e}");
    let e = kestrel_agent::http_client(Some(&dir.path().join("ca.pem")), Duration::from_secs(1))
        .unwrap_err();
    assert!(e.to_string().contains("ca.pem"), "{e}");
}
