//! Names of addresses learned from the DNS answers the sensor saw, for `fd.sip.name` and its
//! siblings. This is passive DNS: an address has a name once some process on the node received
//! an answer for it, and keeps it for the answer's TTL (at least five minutes, since resolvers
//! and clients cache longer than TTLs say).

use std::collections::HashMap;
use std::net::IpAddr;

use kestrel_event::DnsMessage;

const MIN_TTL_NS: u64 = 300 * 1_000_000_000;
const CAPACITY: usize = 65_536;

/// Address → (the name asked for, expiry in event-time nanoseconds).
#[derive(Debug, Default, Clone)]
pub struct DnsNames {
    map: HashMap<IpAddr, (Box<str>, u64)>,
}

impl DnsNames {
    /// Records the A and AAAA answers of a response under the name the client asked for (so a
    /// CNAME chain maps the final address to the name the program used).
    pub fn learn(&mut self, ts: u64, m: &DnsMessage) {
        if !m.response {
            return;
        }
        for a in &m.answers {
            if !matches!(a.rtype.as_str(), "A" | "AAAA") {
                continue;
            }
            let Ok(ip) = a.data.parse::<IpAddr>() else {
                continue;
            };
            let name = m.questions.first().unwrap_or(&a.name);
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if self.map.len() >= CAPACITY && !self.map.contains_key(&ip) {
                self.map.retain(|_, (_, exp)| *exp >= ts);
                if self.map.len() >= CAPACITY {
                    self.map.clear();
                }
            }
            let ttl = u64::from(a.ttl) * 1_000_000_000;
            self.map
                .insert(ip, (name.into_boxed_str(), ts + ttl.max(MIN_TTL_NS)));
        }
    }

    /// The name `ip` had at `ts`, if an unexpired answer gave it one.
    pub fn get(&self, ip: IpAddr, ts: u64) -> Option<&str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match self.map.get(&ip) {
            Some((name, exp)) if *exp >= ts => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use kestrel_event::{DnsRecord, SockAddr};

    use super::*;

    fn answer(q: &str, rtype: &str, data: &str, ttl: u32) -> DnsMessage {
        DnsMessage {
            id: 1,
            response: true,
            questions: vec![q.into()],
            answers: vec![DnsRecord {
                name: q.into(),
                rtype: rtype.into(),
                data: data.into(),
                ttl,
            }],
            rcode: 0,
            server: SockAddr::Inet("10.96.0.10:53".parse().unwrap()),
        }
    }

    #[test]
    fn learns_addresses_until_they_expire() {
        let mut n = DnsNames::default();
        n.learn(10, &answer("Pool.MineXMR.com.", "A", "203.0.113.9", 30));
        n.learn(10, &answer("x.example", "CNAME", "y.example", 30));
        n.learn(10, &answer("v6.example", "AAAA", "2001:db8::1", 3600));
        let ip = "203.0.113.9".parse().unwrap();
        assert_eq!(n.get(ip, 11), Some("pool.minexmr.com"));
        assert_eq!(
            n.get("::ffff:203.0.113.9".parse().unwrap(), 11),
            Some("pool.minexmr.com")
        );
        assert_eq!(
            n.get("2001:db8::1".parse().unwrap(), 11),
            Some("v6.example")
        );
        // A 30 s TTL still holds the name for the five-minute minimum, not past it.
        assert_eq!(n.get(ip, 10 + MIN_TTL_NS), Some("pool.minexmr.com"));
        assert_eq!(n.get(ip, 11 + MIN_TTL_NS), None);
        assert_eq!(n.get("198.51.100.1".parse().unwrap(), 11), None);
    }
}
