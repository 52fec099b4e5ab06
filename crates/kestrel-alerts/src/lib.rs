//! Alert sinks: where [`Alert`]s go once the rule engine or the intel matcher raises them.
//!
//! Every sink writes Falco's JSON alert shape, so Falco consumers work unchanged:
//! [`JsonLines`] (one object per line on stdout or appended to a file), [`Webhook`] (an HTTP
//! POST per alert with the body Falcosidekick's `/` endpoint accepts) and [`Syslog`] (RFC 5424
//! over a unix datagram socket such as `/dev/log`, or UDP). [`Fanout`] sends to several and
//! keeps going when one fails.
//!
//! Architecture invariant: sinks only format and deliver; they never filter, reorder or change
//! an alert. Rate limiting and priorities belong to the rule engine.

use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kestrel_event::{Alert, Priority};

/// A delivery failure, naming the sink and its destination.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open alert file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write alert to {dest}: {source}")]
    Write {
        dest: String,
        source: std::io::Error,
    },
    #[error("webhook {url} refused the alert: {message}")]
    Webhook { url: String, message: String },
    #[error("invalid syslog target {0:?} (use unix:/dev/log or udp:HOST:PORT)")]
    SyslogTarget(String),
    #[error("cannot reach syslog at {dest}: {source}")]
    Syslog {
        dest: String,
        source: std::io::Error,
    },
}

/// A destination for alerts.
pub trait Sink: Send {
    /// A short description for logs (`file:/var/log/kestrel.json`).
    fn describe(&self) -> String;
    fn send(&mut self, alert: &Alert) -> Result<(), SinkError>;
}

fn to_json(alert: &Alert) -> String {
    serde_json::to_string(alert).expect("alerts serialize")
}

/// One JSON object per line.
pub struct JsonLines<W: Write + Send> {
    out: LineWriter<W>,
    dest: String,
}

impl<W: Write + Send> std::fmt::Debug for JsonLines<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLines")
            .field("dest", &self.dest)
            .finish()
    }
}

impl JsonLines<std::io::Stdout> {
    pub fn stdout() -> Self {
        JsonLines {
            out: LineWriter::new(std::io::stdout()),
            dest: "stdout".into(),
        }
    }
}

impl JsonLines<File> {
    /// Appends to `path`, creating it (mode 0600: alerts can carry secrets in command lines).
    pub fn file(path: &Path) -> Result<Self, SinkError> {
        use std::os::unix::fs::OpenOptionsExt;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| SinkError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(JsonLines {
            out: LineWriter::new(f),
            dest: format!("file:{}", path.display()),
        })
    }
}

impl<W: Write + Send> JsonLines<W> {
    /// Any writer, for tests and embedding.
    pub fn new(w: W, dest: impl Into<String>) -> Self {
        JsonLines {
            out: LineWriter::new(w),
            dest: dest.into(),
        }
    }
}

impl<W: Write + Send> Sink for JsonLines<W> {
    fn describe(&self) -> String {
        self.dest.clone()
    }

    fn send(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let mut line = to_json(alert);
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(|source| SinkError::Write {
                dest: self.dest.clone(),
                source,
            })
    }
}

/// An HTTP POST of each alert's JSON, as Falco's `http_output` does; Falcosidekick accepts it
/// on its `/` endpoint.
#[derive(Debug)]
pub struct Webhook {
    agent: ureq::Agent,
    url: String,
}

impl Webhook {
    pub fn new(url: impl Into<String>, timeout: Duration) -> Webhook {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .build()
            .into();
        Webhook {
            agent,
            url: url.into(),
        }
    }
}

impl Sink for Webhook {
    fn describe(&self) -> String {
        format!("webhook:{}", self.url)
    }

    fn send(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "kestrel")
            .send(to_json(alert))
            .map(|_| ())
            .map_err(|e| SinkError::Webhook {
                url: self.url.clone(),
                message: e.to_string(),
            })
    }
}

enum SyslogConn {
    Unix(UnixDatagram, PathBuf),
    Udp(UdpSocket, String),
}

/// RFC 5424 syslog messages, facility `local0` by default; the message is the alert's JSON so
/// that collectors can parse it.
pub struct Syslog {
    conn: SyslogConn,
    hostname: String,
    facility: u8,
}

impl std::fmt::Debug for Syslog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syslog")
            .field("dest", &self.describe())
            .finish()
    }
}

/// Syslog severity for a priority: Falco's priorities are syslog's levels, in the same order.
pub fn severity(p: Priority) -> u8 {
    Priority::ALL.iter().position(|x| *x == p).unwrap_or(7) as u8
}

impl Syslog {
    /// `unix:/dev/log` or `udp:HOST:PORT`.
    pub fn connect(target: &str, hostname: &str) -> Result<Syslog, SinkError> {
        let conn = if let Some(path) = target.strip_prefix("unix:") {
            let s = UnixDatagram::unbound().map_err(|source| SinkError::Syslog {
                dest: target.to_owned(),
                source,
            })?;
            s.connect(path).map_err(|source| SinkError::Syslog {
                dest: target.to_owned(),
                source,
            })?;
            SyslogConn::Unix(s, path.into())
        } else if let Some(addr) = target.strip_prefix("udp:") {
            let bind = if addr.starts_with('[') {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind).map_err(|source| SinkError::Syslog {
                dest: target.to_owned(),
                source,
            })?;
            s.connect(addr).map_err(|source| SinkError::Syslog {
                dest: target.to_owned(),
                source,
            })?;
            SyslogConn::Udp(s, addr.to_owned())
        } else {
            return Err(SinkError::SyslogTarget(target.to_owned()));
        };
        Ok(Syslog {
            conn,
            hostname: if hostname.is_empty() {
                "-".into()
            } else {
                hostname.into()
            },
            facility: 16,
        })
    }

    /// The RFC 5424 line for an alert.
    pub fn format(&self, alert: &Alert) -> String {
        let pri = u32::from(self.facility) * 8 + u32::from(severity(alert.priority));
        format!(
            "<{pri}>1 {} {} kestrel {} - - {}",
            alert.time,
            self.hostname,
            std::process::id(),
            to_json(alert)
        )
    }
}

impl Sink for Syslog {
    fn describe(&self) -> String {
        match &self.conn {
            SyslogConn::Unix(_, p) => format!("syslog:unix:{}", p.display()),
            SyslogConn::Udp(_, a) => format!("syslog:udp:{a}"),
        }
    }

    fn send(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let msg = self.format(alert);
        let r = match &self.conn {
            SyslogConn::Unix(s, _) => s.send(msg.as_bytes()),
            SyslogConn::Udp(s, _) => s.send(msg.as_bytes()),
        };
        r.map(|_| ()).map_err(|source| SinkError::Syslog {
            dest: self.describe(),
            source,
        })
    }
}

/// Several sinks; a failing sink is logged and does not stop the others.
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Box<dyn Sink>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sinks.iter().map(|s| s.describe()))
            .finish()
    }
}

impl Fanout {
    pub fn new() -> Fanout {
        Fanout::default()
    }

    pub fn push(&mut self, s: Box<dyn Sink>) {
        self.sinks.push(s);
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Sends to every sink; returns the failures.
    pub fn send(&mut self, alert: &Alert) -> Vec<SinkError> {
        let mut errs = Vec::new();
        for s in &mut self.sinks {
            if let Err(e) = s.send(alert) {
                tracing::warn!(sink = %s.describe(), "alert not delivered: {e}");
                errs.push(e);
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;

    use super::*;

    fn alert() -> Alert {
        Alert {
            time: "2026-11-27T04:00:00.000000001Z".into(),
            rule: "Read sensitive file untrusted".into(),
            priority: Priority::Warning,
            output: "04:00:00.000000001: Warning Sensitive file opened (file=/etc/shadow)".into(),
            output_fields: BTreeMap::from([
                ("fd.name".to_owned(), "/etc/shadow".into()),
                ("proc.pid".to_owned(), 42.into()),
            ]),
            source: "syscall".into(),
            tags: vec!["maturity_stable".into(), "T1555".into()],
            hostname: "node-1".into(),
            action: None,
            suppressed: 0,
        }
    }

    #[test]
    fn file_sink_appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.json");
        for _ in 0..2 {
            let mut s = JsonLines::file(&path).unwrap();
            s.send(&alert()).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let back: Alert = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, alert());
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        for k in [
            "time",
            "rule",
            "priority",
            "output",
            "output_fields",
            "source",
            "tags",
            "hostname",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["priority"], "Warning");
    }

    #[test]
    fn file_sink_error_names_path() {
        let e = JsonLines::file(Path::new("/nonexistent-dir/x.json")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.json"), "{e}");
    }

    /// A one-request HTTP server on 127.0.0.1 that records what it receives.
    fn serve_once(status: &'static str) -> (String, std::thread::JoinHandle<(String, String)>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut s = s;
            write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            (head, String::from_utf8(body).unwrap())
        });
        (url, h)
    }

    #[test]
    fn webhook_posts_falco_json() {
        let (url, h) = serve_once("200 OK");
        let mut w = Webhook::new(&url, Duration::from_secs(5));
        w.send(&alert()).unwrap();
        let (head, body) = h.join().unwrap();
        assert!(head.starts_with("POST / HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json")
        );
        let back: Alert = serde_json::from_str(&body).unwrap();
        assert_eq!(back, alert());
    }

    #[test]
    fn webhook_error_names_url_and_status() {
        let (url, h) = serve_once("500 Internal Server Error");
        let mut w = Webhook::new(&url, Duration::from_secs(5));
        let e = w.send(&alert()).unwrap_err().to_string();
        h.join().unwrap();
        assert!(e.contains(&url) && e.contains("500"), "{e}");
    }

    #[test]
    fn syslog_udp_rfc5424() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut s =
            Syslog::connect(&format!("udp:{}", rx.local_addr().unwrap()), "node-1").unwrap();
        s.send(&alert()).unwrap();
        let mut buf = [0u8; 4096];
        let n = rx.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..n]).unwrap();
        // local0 (16) * 8 + warning (4) = 132
        assert!(
            msg.starts_with("<132>1 2026-11-27T04:00:00.000000001Z node-1 kestrel "),
            "{msg}"
        );
        let json = &msg[msg.find('{').unwrap()..];
        assert_eq!(serde_json::from_str::<Alert>(json).unwrap(), alert());
    }

    #[test]
    fn syslog_unix_datagram() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let mut s = Syslog::connect(&format!("unix:{}", path.display()), "node-1").unwrap();
        s.send(&alert()).unwrap();
        let mut buf = [0u8; 4096];
        let n = rx.recv(&mut buf).unwrap();
        assert!(
            std::str::from_utf8(&buf[..n])
                .unwrap()
                .starts_with("<132>1 ")
        );
        assert!(Syslog::connect("tcp:1.2.3.4:514", "h").is_err());
    }

    #[test]
    fn fanout_continues_past_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        let mut f = Fanout::new();
        f.push(Box::new(Webhook::new(
            "http://127.0.0.1:9/",
            Duration::from_secs(2),
        )));
        f.push(Box::new(JsonLines::file(&path).unwrap()));
        let errs = f.send(&alert());
        assert_eq!(errs.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }
}
