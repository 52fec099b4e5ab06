//! What an assessment does without an advisory database: a one-shot run fails naming the file;
//! an agent's run assesses workloads without findings (a real `/proc` snapshot of this machine,
//! restricted to a container that does not exist so that nothing is inventoried).

use std::sync::Mutex;
use std::time::Duration;

use kestrel_assess::{Assessor, MissingDatabase, Observation, Settings};
use kestrel_container::{ContainerResolver, ResolverOptions};

fn settings(database: &std::path::Path, missing: MissingDatabase) -> Settings {
    Settings {
        proc_root: "/proc".into(),
        database: database.to_owned(),
        missing_database: missing,
        containers: vec!["no-such-container".into()],
        environments: Default::default(),
        min_observation: Duration::from_secs(60),
        resolve_timeout: Duration::from_millis(100),
    }
}

#[tokio::test]
async fn missing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("advisories.db");
    let observation = Mutex::new(Observation::default());

    let resolver = ContainerResolver::new(ResolverOptions::default());
    let mut one_shot = Assessor::new(
        settings(&db, MissingDatabase::Fail),
        resolver.clone(),
        kestrel_k8s::Inventory::new(),
    );
    let e = one_shot.assess(&observation).await.unwrap_err().to_string();
    assert!(e.contains(&db.display().to_string()), "{e}");

    let mut agent = Assessor::new(
        settings(&db, MissingDatabase::WarnOnce),
        resolver,
        kestrel_k8s::Inventory::new(),
    );
    for _ in 0..2 {
        let a = agent.assess(&observation).await.unwrap();
        assert!(!a.matched);
        assert!(a.findings.is_empty());
        assert!(a.taken_at > 0);
    }
}
