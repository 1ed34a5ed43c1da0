//! Who is calling, for the audit log and the rate limits: the peer
//! address, or — only when the peer is a configured trusted proxy — the
//! client it names in `X-Forwarded-For`. Believing that header from anyone
//! would let every caller pick the address it is audited and limited by.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// An address or a CIDR block (`10.0.0.0/8`, `::1`, `192.168.1.5`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    addr: IpAddr,
    bits: u8,
}

impl Block {
    fn parse(text: &str) -> Option<Block> {
        let (addr, bits) = match text.trim().split_once('/') {
            Some((a, b)) => (a.parse::<IpAddr>().ok()?, Some(b.parse::<u8>().ok()?)),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Block { addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The proxies whose `X-Forwarded-For` is believed (setting
/// `trustedProxies`); empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// Parses addresses and CIDR blocks; the error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| {
                Block::parse(e.as_ref())
                    .ok_or_else(|| format!("`{}` is not an IP address or CIDR block", e.as_ref()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }
}

/// The client's address: the peer's, or when the peer is trusted, the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
/// `None` only when the server runs without connection info (in-process
/// router tests).
pub fn client_address(parts: &Parts, trusted: &TrustedProxies) -> Option<String> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical(c.0.ip()))?;
    if !trusted.trusts(peer) {
        return Some(peer.to_string());
    }
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    let client = forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.trusts(**ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer);
    Some(client.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut req = axum::http::Request::builder().uri("/");
        if let Some(x) = xff {
            req = req.header("x-forwarded-for", x);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
        // An untrusted peer cannot choose its address.
        assert_eq!(
            client_address(&parts("203.0.113.9:5000", Some("1.2.3.4")), &proxies).as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            client_address(&parts("10.1.2.3:5000", Some("1.2.3.4")), &none).as_deref(),
            Some("10.1.2.3")
        );
        // A trusted one names the client; spoofed entries to its left lose.
        assert_eq!(
            client_address(
                &parts("10.1.2.3:5000", Some("6.6.6.6, 198.51.100.7, 10.9.9.9")),
                &proxies
            )
            .as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            client_address(&parts("[::1]:5000", Some("198.51.100.8")), &proxies).as_deref(),
            Some("198.51.100.8")
        );
        assert_eq!(
            client_address(&parts("10.1.2.3:5000", None), &proxies).as_deref(),
            Some("10.1.2.3")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
    }
}
