//! Threat intelligence in `kestrel watch` as a user runs it (root, real eBPF sensor): connections
//! to listed addresses and networks, a DNS answer for a listed domain followed by a connection to
//! the answered address, and a feed reloaded while watch runs. Every address is on loopback.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::Watch;
use serde_json::Value;

const RULE_IP: &str = "Connection to threat-intel IP indicator";
const RULE_DOMAIN: &str = "Connection to threat-intel domain indicator";
const ALERT_WAIT: Duration = Duration::from_secs(60);

/// The configuration: feeds re-read every second, plus `extra` in `[detection]`.
fn config(extra: &str) -> String {
    format!("[detection]\nreload_interval_secs = 1\n{extra}")
}

/// Connects to `ip` on a fresh listener; returns the `ip:port` connected to.
fn connect(ip: Ipv4Addr) -> String {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let _c = TcpStream::connect(addr).unwrap();
    let _s = l.accept().unwrap();
    addr.to_string()
}

/// The alert of `rule` for a connection to exactly `to` (`ip:port`).
fn to(rule: &'static str, to: String) -> impl Fn(&Value) -> bool {
    move |a: &Value| {
        a["rule"] == rule
            && a["output_fields"]["fd.name"]
                .as_str()
                .is_some_and(|n| n.ends_with(&format!("->{to}")))
    }
}

#[test]
fn connections_to_listed_addresses_and_networks() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("blocklist.txt");
    std::fs::write(
        &txt,
        "# a test feed\n127.0.0.77\n127.0.1.0/24  # a whole network\nbad.kestrel.test\n",
    )
    .unwrap();
    let csv = dir.path().join("partners.csv");
    std::fs::write(
        &csv,
        "indicator,type,source\n127.0.2.5,ip,feodo\n127.0.3.0/28,cidr,\n",
    )
    .unwrap();
    let cfg = config("");
    let mut w = Watch::start_with_config(
        &cfg,
        &[
            "--intel",
            txt.to_str().unwrap(),
            "--intel",
            csv.to_str().unwrap(),
        ],
    );

    let clean = connect(Ipv4Addr::new(127, 0, 0, 78));
    let ip = connect(Ipv4Addr::new(127, 0, 0, 77));
    let net = connect(Ipv4Addr::new(127, 0, 1, 9));
    let csv_ip = connect(Ipv4Addr::new(127, 0, 2, 5));
    let csv_net = connect(Ipv4Addr::new(127, 0, 3, 14));

    let check = |a: &Value, indicator: &str, kind: &str, feed: &str| {
        let f = &a["output_fields"];
        assert_eq!(f["intel.indicator"], indicator, "{a:#}");
        assert_eq!(f["intel.kind"], kind, "{a:#}");
        assert_eq!(f["intel.feed"], feed, "{a:#}");
        assert_eq!(a["priority"], "Critical", "{a:#}");
        assert_eq!(a["source"], "syscall", "{a:#}");
        assert!(
            a["output"]
                .as_str()
                .unwrap()
                .contains(&format!("{kind} {indicator} from feed {feed}")),
            "{a:#}"
        );
        // The process that connected is this test.
        assert_eq!(f["proc.pid"], std::process::id(), "{a:#}");
    };
    let a = w.wait_alert(RULE_IP, to(RULE_IP, ip), ALERT_WAIT);
    check(&a, "127.0.0.77", "ip", "blocklist");
    let a = w.wait_alert(RULE_IP, to(RULE_IP, net), ALERT_WAIT);
    check(&a, "127.0.1.0/24", "cidr", "blocklist");
    let a = w.wait_alert(RULE_IP, to(RULE_IP, csv_ip), ALERT_WAIT);
    check(&a, "127.0.2.5", "ip", "feodo");
    // A CSV row without a source belongs to the feed named after the file.
    let a = w.wait_alert(RULE_IP, to(RULE_IP, csv_net), ALERT_WAIT);
    check(&a, "127.0.3.0/28", "cidr", "partners");
    // The unlisted address was contacted first; nothing names it.
    let unlisted = to(RULE_IP, clean);
    w.barrier_host();
    w.assert_no_alert(unlisted);
}

/// A DNS answer for `name` with one A record, `ip`, TTL 60.
fn dns_answer(query: &[u8], ip: Ipv4Addr) -> Vec<u8> {
    let mut a = query.to_vec();
    a[2] = 0x81; // response, recursion desired
    a[3] = 0x80; // recursion available, no error
    a[6..8].copy_from_slice(&1u16.to_be_bytes()); // one answer
    a.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    a.extend_from_slice(&ip.octets());
    a
}

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn dns_answer_for_listed_domain_then_connection() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("domains.txt");
    std::fs::write(&feed, "# domains\nevil.kestrel.test\n").unwrap();
    let cfg = config("");
    let mut w = Watch::start_with_config(&cfg, &["--intel", feed.to_str().unwrap()]);

    // A one-answer DNS server on port 53 of a loopback address of its own, where the sensor
    // parses DNS payloads.
    let server = UdpSocket::bind("127.0.0.66:53").unwrap();
    let answered = Ipv4Addr::new(127, 0, 0, 88);
    let srv = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        server
            .send_to(&dns_answer(&buf[..n], answered), from)
            .unwrap();
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(
            &dns_query(0x6b73, "c2.evil.kestrel.test"),
            "127.0.0.66:53".parse::<SocketAddr>().unwrap(),
        )
        .unwrap();
    let mut buf = [0u8; 512];
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[n - 4..n], &answered.octets());
    srv.join().unwrap();

    let conn = connect(answered);
    let a = w.wait_alert(RULE_DOMAIN, to(RULE_DOMAIN, conn), ALERT_WAIT);
    let f = &a["output_fields"];
    assert_eq!(f["intel.domain"], "c2.evil.kestrel.test", "{a:#}");
    assert_eq!(f["intel.indicator"], "evil.kestrel.test", "{a:#}");
    assert_eq!(f["intel.kind"], "domain", "{a:#}");
    assert_eq!(f["intel.feed"], "domains", "{a:#}");
    assert!(
        a["output"]
            .as_str()
            .unwrap()
            .contains("c2.evil.kestrel.test (listed domain evil.kestrel.test) from feed domains"),
        "{a:#}"
    );
}

#[test]
fn feed_reloads_while_watch_runs() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("live.txt");
    std::fs::write(&feed, "127.0.0.96\n").unwrap();
    // This feed comes from the configuration file, not the command line.
    let cfg = config(&format!("intel_files = [{:?}]\n", feed.to_str().unwrap()));
    let mut w = Watch::start_with_config(&cfg, &[]);
    let target = Ipv4Addr::new(127, 0, 0, 97);
    let before = connect(target);
    let listed = connect(Ipv4Addr::new(127, 0, 0, 96));
    w.wait_alert(RULE_IP, to(RULE_IP, listed), ALERT_WAIT);

    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&feed)
        .unwrap();
    f.write_all(b"127.0.0.97  # added while running\n").unwrap();
    drop(f);
    w.wait_log(|l| l.contains("intel feeds reloaded"), "the feed reload");
    let after = connect(target);
    let a = w.wait_alert(RULE_IP, to(RULE_IP, after), ALERT_WAIT);
    assert_eq!(a["output_fields"]["intel.indicator"], "127.0.0.97");
    assert_eq!(a["output_fields"]["intel.feed"], "live");
    // The connection made before the indicator was added raised nothing.
    let early = to(RULE_IP, before);
    w.barrier_host();
    w.assert_no_alert(early);
}
