//! Event builders for rule tests: real event shapes as the sensor produces them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kestrel_event::{
    ContainerId, ContainerInfo, Event, EventKind, ExeInfo, ImageRef, OpenFlags, PodInfo,
    ProcessInfo,
};

pub const CID: &str = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";

/// A process as the process table would describe it.
#[derive(Clone)]
pub struct P(pub ProcessInfo);

pub fn proc_(exe: &str, args: &[&str]) -> P {
    let name: String = exe.rsplit('/').next().unwrap().chars().take(15).collect();
    P(ProcessInfo {
        pid: 4242,
        ppid: 4241,
        name,
        exe: ExeInfo {
            path: exe.to_owned(),
            ..Default::default()
        },
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: "/".into(),
        ..Default::default()
    })
}

impl P {
    pub fn parent(mut self, p: P) -> P {
        self.0.ppid = p.0.pid;
        self.0.parent = Some(Arc::new(p.0));
        self
    }
    pub fn pid(mut self, pid: u32) -> P {
        self.0.pid = pid;
        self
    }
    pub fn tty(mut self) -> P {
        self.0.tty = Some(34816);
        self
    }
    pub fn uid(mut self, uid: u32) -> P {
        self.0.creds.uid = uid;
        self.0.creds.euid = uid;
        self
    }
    pub fn env(mut self, kv: &str) -> P {
        self.0.env.push(kv.to_owned());
        self
    }
    pub fn upper(mut self) -> P {
        self.0.exe.upper_layer = true;
        self
    }
    pub fn memfd(mut self) -> P {
        self.0.exe.memfd = true;
        self
    }
    pub fn in_container(mut self) -> P {
        self.0.container_id = ContainerId::parse(CID);
        self
    }
}

pub fn container() -> Arc<ContainerInfo> {
    let mut c = ContainerInfo::bare(ContainerId::parse(CID).unwrap());
    c.name = Some("web".into());
    c.image = Some(ImageRef {
        repository: "docker.io/library/nginx".into(),
        tag: Some("1.27".into()),
        ..Default::default()
    });
    c.pod = Some(PodInfo {
        uid: "6a1c2d3e-0000-4000-8000-000000000001".into(),
        name: "web-7d9f".into(),
        namespace: "shop".into(),
        labels: BTreeMap::from([("app".into(), "web".into())]),
    });
    Arc::new(c)
}

/// An event by `p` on the host.
pub fn host(p: &P, kind: EventKind) -> Event {
    Event {
        ts: 1_764_215_733_000_000_000,
        pid: p.0.pid,
        tid: p.0.pid,
        kind,
        process: Some(Arc::new(p.0.clone())),
        container: None,
    }
}

/// The same event in the test container.
pub fn cont(p: &P, kind: EventKind) -> Event {
    let mut e = host(&p.clone().in_container(), kind);
    e.container = Some(container());
    e
}

pub fn exec() -> EventKind {
    EventKind::Exec
}

pub fn open(path: &str, flags: u32) -> EventKind {
    EventKind::Open {
        path: path.into(),
        flags: OpenFlags(flags),
        mode: 0o644,
        result: 3,
    }
}

pub const RD: u32 = 0;
pub const WR: u32 = OpenFlags::O_WRONLY | OpenFlags::O_CREAT;
pub const TRUNC: u32 = OpenFlags::O_WRONLY | OpenFlags::O_TRUNC;

pub fn shell() -> P {
    proc_("/usr/bin/bash", &["bash"])
}
