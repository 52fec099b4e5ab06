//! What the in-Pod sensor tests need around the test Pod: podman's API service (the runtime
//! metadata source) and a Kubernetes API stand-in on 127.0.0.1 that replays recorded responses
//! (the pod-watch metadata source; there is no API server here).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kestrel_testenv::TestPod;
use serde_json::{Value, json};

/// podman's API service (the runtime metadata source), shared with the other crates' tests.
pub use kestrel_testenv::PodmanService;

/// The recorded responses of a v1.25 API server (see `crates/kestrel-container/testdata/`).
const RECORDED_LIST: &str = include_str!("../../../kestrel-container/testdata/pods-on-node-1.json");
const RECORDED_WATCH: &str =
    include_str!("../../../kestrel-container/testdata/watch-pods-on-node-1.jsonl");

/// The node the recorded pods are scheduled on.
pub const NODE: &str = "node-1";

/// The recorded watch stream's first event (pod `batch-job-1` ADDED on node-1), rewritten into the
/// test Pod: its name, namespace, uid, labels and containers (name and image). Everything else
/// (resource version, timestamps, spec defaults, `status.phase: Pending`, no container statuses
/// since the recording had no kubelet) stays as the API server sent it.
pub fn added_event_for(pod: &TestPod) -> String {
    let mut event: Value = serde_json::from_str(RECORDED_WATCH.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "ADDED", "the recording starts with ADDED");
    let info = pod.info();
    let object = &mut event["object"];
    object["metadata"]["name"] = json!(info.name);
    object["metadata"]["namespace"] = json!(info.namespace);
    object["metadata"]["uid"] = json!(info.uid.as_str());
    object["metadata"]["labels"] = json!(info.labels);
    let template = object["spec"]["containers"][0].clone();
    object["spec"]["containers"] = Value::Array(
        info.containers
            .iter()
            .map(|c| {
                let mut spec = template.clone();
                spec["name"] = json!(c.name);
                spec["image"] = json!(info.image);
                spec
            })
            .collect(),
    );
    assert_eq!(object["spec"]["nodeName"], NODE);
    event.to_string()
}

/// A Kubernetes API stand-in on 127.0.0.1: `GET /api/v1/pods` answers the recorded pod list of
/// node-1, a watch answers `watch_lines` and stays open; anything else is a 404.
pub struct ApiReplay {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl ApiReplay {
    pub fn start(watch_lines: Vec<String>) -> ApiReplay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let watch = Arc::new(watch_lines);
        {
            let (stop, requests) = (stop.clone(), requests.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (stop, requests, watch) =
                                (stop.clone(), requests.clone(), watch.clone());
                            std::thread::spawn(move || serve(stream, &stop, &requests, &watch));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            });
        }
        ApiReplay {
            url,
            requests,
            stop,
        }
    }

    /// A kubeconfig for this server (the token is not checked).
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
                 clusters: [{{name: test, cluster: {{server: \"{}\"}}}}]\n\
                 users: [{{name: sensor, user: {{token: not-a-real-token}}}}]\n\
                 contexts: [{{name: test, context: {{cluster: test, user: sensor}}}}]\n",
                self.url
            ),
        )
        .unwrap();
        path
    }
}

impl Drop for ApiReplay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One HTTP/1.1 exchange per connection (`Connection: close`).
fn serve(stream: TcpStream, stop: &AtomicBool, requests: &Mutex<Vec<String>>, watch: &[String]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    requests.lock().unwrap().push(target.clone());
    let mut out = stream;
    if !target.starts_with("/api/v1/pods") {
        let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#;
        let _ = write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    if !target.contains("watch=true") {
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{RECORDED_LIST}",
            RECORDED_LIST.len()
        );
        return;
    }
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for line in watch {
        let chunk = format!("{line}\n");
        let _ = write!(out, "{:x}\r\n{chunk}\r\n", chunk.len());
    }
    let _ = out.flush();
    // A watch stays open until the server stops; the client ends it by closing.
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A DNS server for one query, on 127.0.0.53:53 inside the network namespace of host process
/// `pid` (the Pod's: it has no network but loopback, and its containers may not bind port 53).
/// It runs on the host side (`nsenter --net`) and answers `A 10.1.2.3`, TTL 60.
pub fn dns_server_in_netns_of(pid: u32) -> Child {
    let server = "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.53', 53))
print('ready', flush=True)
s.settimeout(60)
q, addr = s.recvfrom(512)
ans = q[:2] + b'\\x81\\x80' + q[4:6] + b'\\x00\\x01\\x00\\x00\\x00\\x00' + q[12:] + b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04\\x0a\\x01\\x02\\x03'
s.sendto(ans, addr)
";
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["/usr/bin/python3", "-c", server])
        .stdout(Stdio::piped())
        .spawn()
        .expect("nsenter (util-linux) and python3 on the host");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the DNS server could not bind");
    child
}
