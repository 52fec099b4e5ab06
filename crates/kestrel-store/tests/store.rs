//! The same scenarios against SQLite and a real PostgreSQL: the one set of migrations and queries
//! must behave identically on both.

use std::collections::BTreeMap;

use kestrel_event::{Alert, Priority};
use kestrel_store::model::*;
use kestrel_store::{
    AlertFilter, PathFilter, PostureFilter, Store, VulnFilter, VulnSort, WorkloadFilter,
};

fn alert(id: &str, time: &str, rule: &str, priority: Priority, ns: &str, pod: &str) -> AlertIn {
    let mut fields = BTreeMap::new();
    fields.insert("k8s.ns.name".to_owned(), serde_json::json!(ns));
    fields.insert("k8s.pod.name".to_owned(), serde_json::json!(pod));
    fields.insert("container.name".to_owned(), serde_json::json!("app"));
    AlertIn {
        id: id.to_owned(),
        workload: None,
        alert: Alert {
            time: time.to_owned(),
            rule: rule.to_owned(),
            priority,
            output: format!("{rule} in {pod}"),
            output_fields: fields,
            source: "syscall".to_owned(),
            tags: vec!["test".to_owned()],
            hostname: "node-1".to_owned(),
            action: None,
            suppressed: 0,
        },
    }
}

fn wref(ns: &str, name: &str) -> WorkloadRef {
    WorkloadRef {
        namespace: ns.to_owned(),
        kind: "Deployment".to_owned(),
        name: name.to_owned(),
    }
}

fn vuln(
    ns: &str,
    name: &str,
    id: &str,
    pkg: &str,
    score: f64,
    sev: Severity,
    kev: bool,
) -> VulnFinding {
    VulnFinding {
        workload: wref(ns, name),
        image: format!("registry.local/{name}:1.0"),
        package: PackageRef {
            name: pkg.to_owned(),
            version: "1.0".to_owned(),
            ecosystem: "deb".to_owned(),
            purl: None,
        },
        vulnerability: id.to_owned(),
        aliases: vec![],
        summary: Some(format!("{id} in {pkg}")),
        severity: sev,
        score,
        reasons: vec!["loaded by a running process".to_owned()],
        in_use: if kev { InUse::Yes } else { InUse::Unknown },
        exposure: ExposureLevel::Internet,
        environment: Environment::Production,
        kev,
        epss: Some(score / 100.0),
        fixed_version: Some("1.1".to_owned()),
    }
}

fn snapshot<T>(source: &str, at: &str, items: Vec<T>) -> Snapshot<T> {
    Snapshot {
        cluster: "prod".to_owned(),
        source: source.to_owned(),
        generated_at: at.to_owned(),
        items,
    }
}

async fn scenario(store: Store) {
    // Alerts: ingestion is idempotent by id.
    let batch = vec![
        alert(
            "n1-1",
            "2026-11-27T10:00:00Z",
            "Terminal shell in container",
            Priority::Notice,
            "shop",
            "web-7d9f-abcde",
        ),
        alert(
            "n1-2",
            "2026-11-27T10:05:00.123456789Z",
            "Read sensitive file",
            Priority::Warning,
            "shop",
            "web-7d9f-abcde",
        ),
        alert(
            "n1-3",
            "2026-11-27T11:00:00Z",
            "Drop and execute new binary",
            Priority::Critical,
            "billing",
            "pay-0",
        ),
    ];
    let r = store.ingest_alerts("prod", "node-1", &batch).await.unwrap();
    assert_eq!(r.accepted, vec![0, 1, 2]);
    let mut again = batch.clone();
    again.push(alert(
        "n1-4",
        "2026-11-27T11:30:00Z",
        "Terminal shell in container",
        Priority::Notice,
        "billing",
        "pay-0",
    ));
    let r = store.ingest_alerts("prod", "node-1", &again).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (vec![3], 3));

    let all = store.list_alerts(&AlertFilter::default()).await.unwrap();
    assert_eq!(all.total, 4);
    let ids: Vec<_> = all.items.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["n1-4", "n1-3", "n1-2", "n1-1"], "newest first");
    assert_eq!(
        all.items[2].alert, batch[1].alert,
        "the alert round-trips unchanged"
    );

    let f = |f: AlertFilter| {
        let store = store.clone();
        async move {
            store
                .list_alerts(&f)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|a| a.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        f(AlertFilter {
            priority: Some("warning".into()),
            ..Default::default()
        })
        .await,
        ["n1-3", "n1-2"]
    );
    assert_eq!(
        f(AlertFilter {
            rule: Some("Terminal shell in container".into()),
            ..Default::default()
        })
        .await,
        ["n1-4", "n1-1"]
    );
    assert_eq!(
        f(AlertFilter {
            namespace: Some("shop".into()),
            workload: Some("web-7d9f-abcde".into()),
            ..Default::default()
        })
        .await,
        ["n1-2", "n1-1"]
    );
    assert_eq!(
        f(AlertFilter {
            since: Some("2026-11-27T10:05:00Z".into()),
            until: Some("2026-11-27T11:00:00Z".into()),
            ..Default::default()
        })
        .await,
        ["n1-2"]
    );
    let page = store
        .list_alerts(&AlertFilter {
            limit: Some(2),
            offset: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (page.total, page.items.len(), page.items[0].id.as_str()),
        (4, 2, "n1-3")
    );
    let e = store
        .list_alerts(&AlertFilter {
            priority: Some("loud".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("priority") && e.to_string().contains("loud"),
        "{e}"
    );
    let e = store
        .list_alerts(&AlertFilter {
            since: Some("yesterday".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("since"), "{e}");
    let mut bad = alert("bad", "not a time", "r", Priority::Notice, "a", "b");
    let e = store
        .ingest_alerts("prod", "node-1", std::slice::from_ref(&bad))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("alerts[0].alert.time") && e.to_string().contains("bad"),
        "{e}"
    );
    bad.id = String::new();
    assert!(
        store
            .ingest_alerts("prod", "node-1", &[bad])
            .await
            .unwrap_err()
            .to_string()
            .contains("alerts[0].id")
    );

    // Workloads and vulnerabilities: a snapshot replaces what its source sent before.
    let web = Workload {
        namespace: "shop".into(),
        kind: "Deployment".into(),
        name: "web".into(),
        images: vec!["registry.local/web:1.0".into()],
        exposure: ExposureLevel::Internet,
        exposure_routes: vec!["LoadBalancer web:443".into()],
        environment: Environment::Production,
        labels: BTreeMap::new(),
        service_account: Some("web".into()),
    };
    let mut pay = web.clone();
    pay.namespace = "billing".into();
    pay.name = "pay".into();
    pay.exposure = ExposureLevel::Cluster;
    store
        .replace_workloads(&snapshot(
            "node-1",
            "2026-11-27T12:00:00Z",
            vec![web.clone(), pay.clone()],
        ))
        .await
        .unwrap();
    store
        .replace_vulnerabilities(&snapshot(
            "node-1",
            "2026-11-27T12:00:00Z",
            vec![
                vuln(
                    "shop",
                    "web",
                    "CVE-2024-0001",
                    "openssl",
                    91.5,
                    Severity::Critical,
                    true,
                ),
                vuln(
                    "shop",
                    "web",
                    "CVE-2024-0002",
                    "zlib",
                    40.0,
                    Severity::Medium,
                    false,
                ),
                vuln(
                    "billing",
                    "pay",
                    "CVE-2024-0003",
                    "libxml2",
                    70.0,
                    Severity::High,
                    false,
                ),
            ],
        ))
        .await
        .unwrap();
    let vs = store
        .list_vulnerabilities(&VulnFilter::default())
        .await
        .unwrap();
    let order: Vec<_> = vs
        .items
        .iter()
        .map(|v| v.finding.vulnerability.as_str())
        .collect();
    assert_eq!(
        order,
        ["CVE-2024-0001", "CVE-2024-0003", "CVE-2024-0002"],
        "riskiest first"
    );
    assert_eq!(vs.items[0].finding.reasons, ["loaded by a running process"]);
    let v = |f: VulnFilter| {
        let store = store.clone();
        async move {
            store
                .list_vulnerabilities(&f)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|v| v.finding.vulnerability)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        v(VulnFilter {
            kev: Some(true),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0001"]
    );
    assert_eq!(
        v(VulnFilter {
            severity: Some(Severity::High),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0001", "CVE-2024-0003"]
    );
    assert_eq!(
        v(VulnFilter {
            q: Some("XML".into()),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0003"]
    );
    assert_eq!(
        v(VulnFilter {
            q: Some("%".into()),
            ..Default::default()
        })
        .await,
        Vec::<String>::new(),
        "LIKE metacharacters are literal"
    );
    assert_eq!(
        v(VulnFilter {
            sort: Some(VulnSort::Vulnerability),
            order: Some(kestrel_store::Order::Asc),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"]
    );
    assert_eq!(
        v(VulnFilter {
            sort: Some(VulnSort::Epss),
            order: Some(kestrel_store::Order::Asc),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0001"]
    );
    assert_eq!(
        v(VulnFilter {
            sort: Some(VulnSort::Workload),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"]
    );
    assert_eq!(
        v(VulnFilter {
            sort: Some(VulnSort::Severity),
            order: Some(kestrel_store::Order::Asc),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0001"]
    );
    assert_eq!(
        v(VulnFilter {
            namespace: Some("shop".into()),
            workload: Some("web".into()),
            min_score: Some(50.0),
            ..Default::default()
        })
        .await,
        ["CVE-2024-0001"]
    );

    let ws = store
        .list_workloads(&WorkloadFilter::default())
        .await
        .unwrap();
    let rows: Vec<_> = ws
        .items
        .iter()
        .map(|w| {
            (
                w.workload.name.as_str(),
                w.vulnerabilities,
                w.max_score,
                w.alerts,
            )
        })
        .collect();
    assert_eq!(rows, [("web", 2, 91.5, 0), ("pay", 1, 70.0, 0)]);
    let ws = store
        .list_workloads(&WorkloadFilter {
            q: Some("PAY".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ws.items.len(), 1);

    // A newer snapshot replaces; an older one (a resend) is ignored.
    store
        .replace_vulnerabilities(&snapshot(
            "node-1",
            "2026-11-27T13:00:00Z",
            vec![vuln(
                "shop",
                "web",
                "CVE-2024-0001",
                "openssl",
                95.0,
                Severity::Critical,
                true,
            )],
        ))
        .await
        .unwrap();
    let r = store
        .replace_vulnerabilities(&snapshot(
            "node-1",
            "2026-11-27T12:30:00Z",
            vec![vuln(
                "shop",
                "web",
                "CVE-2024-0009",
                "old",
                1.0,
                Severity::Low,
                false,
            )],
        ))
        .await
        .unwrap();
    assert_eq!((r.accepted, r.duplicates), (0, 1));
    assert_eq!(v(VulnFilter::default()).await, ["CVE-2024-0001"]);
    // Another source's findings are kept.
    store
        .replace_vulnerabilities(&snapshot(
            "node-2",
            "2026-11-27T12:30:00Z",
            vec![vuln(
                "billing",
                "pay",
                "CVE-2024-0003",
                "libxml2",
                70.0,
                Severity::High,
                false,
            )],
        ))
        .await
        .unwrap();
    assert_eq!(
        v(VulnFilter::default()).await,
        ["CVE-2024-0001", "CVE-2024-0003"]
    );

    // Posture findings.
    let pf = PostureFinding {
        check_id: "KST-POD-001".into(),
        title: "Privileged container".into(),
        severity: Severity::High,
        resource: ResourceRef {
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        },
        container: Some("app".into()),
        path: Some("spec.template.spec.containers[0].securityContext.privileged".into()),
        owasp: Some("K01".into()),
        crosswalk: serde_json::json!({"cis": "5.2.1"}),
        message: "runs privileged".into(),
    };
    let mut low = pf.clone();
    low.check_id = "KST-POD-009".into();
    low.severity = Severity::Low;
    store
        .replace_posture(&snapshot(
            "scan",
            "2026-11-27T12:00:00Z",
            vec![low.clone(), pf.clone()],
        ))
        .await
        .unwrap();
    let ps = store.list_posture(&PostureFilter::default()).await.unwrap();
    assert_eq!(
        ps.items
            .iter()
            .map(|p| p.finding.check_id.as_str())
            .collect::<Vec<_>>(),
        ["KST-POD-001", "KST-POD-009"]
    );
    assert_eq!(ps.items[0].finding, pf);
    assert_eq!(
        store
            .list_posture(&PostureFilter {
                severity: Some(Severity::Medium),
                ..Default::default()
            })
            .await
            .unwrap()
            .total,
        1
    );

    // Attack paths.
    let path = AttackPath {
        id: "p1".into(),
        title: "Internet to cluster-admin".into(),
        score: 88.0,
        workload: wref("shop", "web"),
        hops: vec![
            PathHop {
                from: PathNode {
                    kind: "Internet".into(),
                    namespace: None,
                    name: "internet".into(),
                },
                to: PathNode {
                    kind: "Deployment".into(),
                    namespace: Some("shop".into()),
                    name: "web".into(),
                },
                relation: "exposes".into(),
                explanation: "LoadBalancer web:443".into(),
            },
            PathHop {
                from: PathNode {
                    kind: "Deployment".into(),
                    namespace: Some("shop".into()),
                    name: "web".into(),
                },
                to: PathNode {
                    kind: "ServiceAccount".into(),
                    namespace: Some("shop".into()),
                    name: "web".into(),
                },
                relation: "runs_as".into(),
                explanation: "token automounted".into(),
            },
        ],
    };
    store
        .replace_attack_paths(&snapshot(
            "scan",
            "2026-11-27T12:00:00Z",
            vec![path.clone()],
        ))
        .await
        .unwrap();
    let got = store.get_attack_path("prod", "p1").await.unwrap().unwrap();
    assert_eq!(got.path, path);
    assert!(
        store
            .get_attack_path("other", "p1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .list_attack_paths(&PathFilter {
                min_score: Some(90.0),
                ..Default::default()
            })
            .await
            .unwrap()
            .total,
        0
    );
    let mut empty = path.clone();
    empty.hops.clear();
    let e = store
        .replace_attack_paths(&snapshot("scan", "2026-11-27T12:00:00Z", vec![empty]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("items[0].hops"), "{e}");

    // Sensors.
    let h = SensorHealth {
        cluster: "prod".into(),
        node: "node-1".into(),
        version: "0.1.0".into(),
        status: SensorStatus::Ok,
        events_total: 1000,
        drops_total: 3,
        alerts_total: 4,
        events_per_second: 250.5,
        messages: vec![],
        buffer_bytes: 0,
        buffer_dropped_batches: 0,
    };
    store.record_sensor(&h).await.unwrap();
    store
        .record_sensor(&SensorHealth {
            events_total: 2000,
            ..h.clone()
        })
        .await
        .unwrap();
    let s = store.list_sensors().await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].health.events_total, 2000);

    // Overview.
    let o = store.overview().await.unwrap();
    assert_eq!(
        (
            o.workloads,
            o.vulnerabilities,
            o.alerts,
            o.posture_findings,
            o.attack_paths
        ),
        (2, 2, 4, 2, 1)
    );
    assert_eq!(o.timeline.len(), 24);
    assert_eq!(o.top_risks[0].finding.vulnerability, "CVE-2024-0001");

    // Tokens: only hashes are stored; revoked tokens stop working.
    let admin = store.create_api_token("ops", Role::Admin).await.unwrap();
    let agent = store.create_enrollment_token("prod").await.unwrap();
    assert!(matches!(
        store.authenticate(&admin.token).await.unwrap(),
        Some(Principal::User {
            role: Role::Admin,
            ..
        })
    ));
    assert_eq!(
        store.authenticate(&agent.token).await.unwrap(),
        Some(Principal::Agent {
            token_id: agent.id.clone(),
            cluster: "prod".into()
        })
    );
    assert_eq!(store.authenticate("kst_nope").await.unwrap(), None);
    assert_eq!(store.count_admin_tokens().await.unwrap(), 1);
    let listed = store.list_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&admin.token)
    );
    assert!(store.revoke_token(&agent.id).await.unwrap());
    assert_eq!(store.authenticate(&agent.token).await.unwrap(), None);
    assert!(!store.revoke_token(&agent.id).await.unwrap());

    // Dead letters.
    store
        .add_dead_letter("webhook", &serde_json::json!({"rule": "x"}), "HTTP 500", 5)
        .await
        .unwrap();
    let d = store.list_dead_letters(None, None).await.unwrap();
    assert_eq!(
        (
            d.total,
            d.items[0].attempts,
            d.items[0].payload["rule"].as_str()
        ),
        (1, 5, Some("x"))
    );

    assert!(store.size_bytes().await.unwrap() > 0);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kestrel.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    scenario(store.clone()).await;
    store.close().await;
    // Reopening an existing database applies no migration twice and keeps the data.
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(
        store
            .list_alerts(&AlertFilter::default())
            .await
            .unwrap()
            .total,
        4
    );
}

#[tokio::test]
async fn postgres() {
    let url = kestrel_store::test_support::fresh_postgres_database().await;
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), kestrel_store::Backend::Postgres);
    scenario(store.clone()).await;
    store.close().await;
    let store = Store::open(&url).await.unwrap();
    assert_eq!(
        store
            .list_alerts(&AlertFilter::default())
            .await
            .unwrap()
            .total,
        4
    );
}

#[tokio::test]
async fn bad_urls_are_named() {
    let e = Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(e.to_string().contains("mysql://localhost/x"), "{e}");
    let e = Store::open("/nonexistent-dir/k.db").await.unwrap_err();
    assert!(e.to_string().contains("/nonexistent-dir"), "{e}");
    let e = Store::open("postgres://kestrel@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}

/// Page totals come from the hourly rollup plus the partial hours at the edges of a time range;
/// they must equal the alerts actually matching, for every filter shape (whole hours, ranges
/// starting or ending mid-hour, both ends in one hour, empty ranges, columns the rollup lacks)
/// and after duplicate deliveries.
async fn alert_totals(store: Store) {
    const RULES: [&str; 3] = ["Terminal shell", "Read sensitive file", "Drop and execute"];
    const PRIOS: [Priority; 4] = [
        Priority::Notice,
        Priority::Warning,
        Priority::Critical,
        Priority::Informational,
    ];
    // 240 alerts every 173 s from 09:58:20: about 11.5 hours, not aligned to hours.
    let start: jiff::Timestamp = "2026-11-27T09:58:20Z".parse().unwrap();
    let mut input = Vec::new();
    for n in 0..240i64 {
        let t = start + jiff::SignedDuration::from_secs(n * 173);
        let cluster = if n % 5 == 0 { "staging" } else { "prod" };
        let a = alert(
            &format!("t-{n}"),
            &t.to_string(),
            RULES[(n % 3) as usize],
            PRIOS[(n % 4) as usize],
            if n % 2 == 0 { "shop" } else { "billing" },
            &format!("web-{}", n % 7),
        );
        input.push((cluster, t, a));
    }
    for cluster in ["prod", "staging"] {
        let batch: Vec<AlertIn> = input
            .iter()
            .filter(|(c, ..)| *c == cluster)
            .map(|(.., a)| a.clone())
            .collect();
        // Half of the batch is delivered twice: duplicates must not be counted.
        let (first, _) = batch.split_at(batch.len() / 2);
        store.ingest_alerts(cluster, "node-1", first).await.unwrap();
        let r = store
            .ingest_alerts(cluster, "node-1", &batch)
            .await
            .unwrap();
        assert_eq!(r.duplicates, first.len() as u64);
    }

    let check = |f: AlertFilter| {
        let store = store.clone();
        let input = &input;
        async move {
            let since: Option<jiff::Timestamp> = f.since.as_deref().map(|s| s.parse().unwrap());
            let until: Option<jiff::Timestamp> = f.until.as_deref().map(|s| s.parse().unwrap());
            let min: Option<Priority> = f.priority.as_deref().map(|p| p.parse().unwrap());
            let expected = input
                .iter()
                .filter(|(c, t, a)| {
                    since.is_none_or(|s| *t >= s)
                        && until.is_none_or(|u| *t < u)
                        && min.is_none_or(|m| {
                            kestrel_store::priority_rank(a.alert.priority)
                                >= kestrel_store::priority_rank(m)
                        })
                        && f.rule.as_ref().is_none_or(|r| &a.alert.rule == r)
                        && f.cluster.as_deref().is_none_or(|x| x == *c)
                        && f.namespace.as_ref().is_none_or(|ns| {
                            a.alert.output_fields["k8s.ns.name"].as_str() == Some(ns)
                        })
                })
                .count() as u64;
            let page = store
                .list_alerts(&AlertFilter {
                    limit: Some(1000),
                    ..f.clone()
                })
                .await
                .unwrap();
            assert_eq!(page.total, expected, "total for {f:?}");
            assert_eq!(page.items.len() as u64, expected, "listed for {f:?}");
        }
    };
    let s = |v: &str| Some(v.to_owned());
    let cases = [
        AlertFilter::default(),
        AlertFilter {
            priority: s("warning"),
            ..Default::default()
        },
        AlertFilter {
            rule: s("Terminal shell"),
            cluster: s("prod"),
            ..Default::default()
        },
        // Whole hours only.
        AlertFilter {
            since: s("2026-11-27T11:00:00Z"),
            until: s("2026-11-27T15:00:00Z"),
            ..Default::default()
        },
        // Both ends mid-hour.
        AlertFilter {
            since: s("2026-11-27T10:17:31Z"),
            until: s("2026-11-27T16:42:05.5Z"),
            priority: s("critical"),
            ..Default::default()
        },
        // Both ends within one hour.
        AlertFilter {
            since: s("2026-11-27T12:10:00Z"),
            until: s("2026-11-27T12:50:00Z"),
            ..Default::default()
        },
        // Across exactly one hour boundary.
        AlertFilter {
            since: s("2026-11-27T12:10:00Z"),
            until: s("2026-11-27T13:50:00Z"),
            rule: s("Read sensitive file"),
            ..Default::default()
        },
        // Open-ended on one side.
        AlertFilter {
            since: s("2026-11-27T18:30:00Z"),
            ..Default::default()
        },
        AlertFilter {
            until: s("2026-11-27T10:30:00Z"),
            cluster: s("staging"),
            ..Default::default()
        },
        // Empty and inverted ranges.
        AlertFilter {
            since: s("2026-11-27T13:00:00Z"),
            until: s("2026-11-27T12:00:00Z"),
            ..Default::default()
        },
        AlertFilter {
            until: s("2026-11-27T09:00:00Z"),
            ..Default::default()
        },
        // A column the rollup does not keep.
        AlertFilter {
            namespace: s("shop"),
            since: s("2026-11-27T11:15:00Z"),
            ..Default::default()
        },
    ];
    for f in cases {
        check(f).await;
    }

    // The overview's timeline: the last 24 hours per hour and priority, from the rollup.
    let now = jiff::Timestamp::now();
    let two_hours_ago = now - jiff::SignedDuration::from_hours(2);
    let recent = [
        ("r-1", two_hours_ago, Priority::Warning),
        ("r-2", two_hours_ago, Priority::Warning),
        ("r-3", two_hours_ago, Priority::Critical),
        (
            "r-4",
            now - jiff::SignedDuration::from_hours(30),
            Priority::Critical,
        ),
    ];
    let mut batch: Vec<AlertIn> = recent
        .iter()
        .map(|(id, t, p)| alert(id, &t.to_string(), "Recent", *p, "shop", "web-0"))
        .collect();
    // The same id twice in one batch is stored and counted once.
    batch.insert(1, batch[0].clone());
    let r = store.ingest_alerts("prod", "node-1", &batch).await.unwrap();
    assert_eq!((r.accepted, r.duplicates), (vec![0, 2, 3, 4], 1));
    let overview = store.overview().await.unwrap();
    assert_eq!(overview.alerts, (input.len() + recent.len()) as u64);
    assert_eq!(overview.timeline.len(), 24);
    let hour_start =
        jiff::Timestamp::from_second(two_hours_ago.as_second().div_euclid(3600) * 3600)
            .unwrap()
            .to_string();
    let bucket = overview
        .timeline
        .iter()
        .find(|b| b.start == hour_start)
        .unwrap_or_else(|| panic!("no bucket {hour_start} in {:?}", overview.timeline));
    // The fixed alerts above are dated 2026-11-27: run on that day, some share the bucket.
    let bucket_start: jiff::Timestamp = hour_start.parse().unwrap();
    let bucket_end = bucket_start + jiff::SignedDuration::from_hours(1);
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    let in_bucket = input
        .iter()
        .map(|(_, t, a)| (*t, a.alert.priority))
        .chain(recent.iter().map(|(_, t, p)| (*t, *p)))
        .filter(|(t, _)| *t >= bucket_start && *t < bucket_end);
    for (_, p) in in_bucket {
        *want.entry(p.as_str().to_owned()).or_default() += 1;
    }
    assert!(want["Critical"] >= 1 && want["Warning"] >= 2, "{want:?}");
    assert_eq!(bucket.counts, want);
    let in_timeline: u64 = overview
        .timeline
        .iter()
        .flat_map(|b| b.counts.values())
        .sum();
    let window_start: jiff::Timestamp = overview.timeline[0].start.parse().unwrap();
    let window_end = overview.timeline[23]
        .start
        .parse::<jiff::Timestamp>()
        .unwrap()
        + jiff::SignedDuration::from_hours(1);
    let times = input
        .iter()
        .map(|(_, t, _)| *t)
        .chain(recent.iter().map(|(_, t, _)| *t));
    let expected = times
        .filter(|t| *t >= window_start && *t < window_end)
        .count() as u64;
    assert_eq!(in_timeline, expected);
}

#[tokio::test]
async fn alert_totals_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("k.db").to_str().unwrap())
        .await
        .unwrap();
    alert_totals(store).await;
}

#[tokio::test]
async fn alert_totals_postgres() {
    let url = kestrel_store::test_support::fresh_postgres_database().await;
    alert_totals(Store::open(&url).await.unwrap()).await;
}
