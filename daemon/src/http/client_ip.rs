//! The client's address behind a load balancer (`--trusted-proxies`).
//!
//! Behind HAProxy or nginx every HTTP connection comes from the proxy, so
//! the blog's per-IP rate limit would put every visitor in one bucket. A
//! proxy that says who its client was (`X-Forwarded-For`, HAProxy's
//! `option forwardfor`) is believed only when the connection comes from an
//! address the operator listed as a proxy: the client is then the
//! rightmost address of the header that is not itself a trusted proxy
//! (the addresses to its left were written by the client, or by proxies
//! nobody vouches for, and could be forged). Without the flag the header
//! is ignored and the connection's address is the client.

use std::net::IpAddr;
use std::str::FromStr;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;

/// `X-Forwarded-For`.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// One network: an address and a prefix length (`10.0.0.0/8`; an address
/// alone is a network of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Net {
    type Err = String;

    fn from_str(text: &str) -> Result<Net, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr)
            .map_err(|_| format!("{text:?} is not an IP address or network (CIDR)"))?
            .to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Net { addr, prefix })
    }
}

/// A request's client, resolved once by the layer around every route
/// (`observe`) and kept in the request's extensions for the layers inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Net>);

impl TrustedProxies {
    /// Parses addresses and networks (`10.0.0.0/8`, `127.0.0.1`, `::1`).
    ///
    /// # Errors
    /// The first entry that is neither, named.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|s| s.as_ref())
            .filter(|s| !s.trim().is_empty())
            .map(Net::from_str)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client of `req`: the [`ClientIp`] resolved earlier, else the
    /// one its peer address and headers give; `None` without a peer
    /// address (a router driven in a unit test).
    pub fn client_of(&self, req: &Request) -> Option<IpAddr> {
        if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>() {
            return Some(*ip);
        }
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
        Some(self.client(peer, req.headers()))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        // Several headers count as one list, in order.
        let hops: Vec<&str> = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = IpAddr::from_str(hop) else {
                // Garbage (or a port we do not parse): stop at the last
                // address that was vouched for.
                return client;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn networks_parse_and_match() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", " 192.168.1.7 ", "fd00::/8", ""]).unwrap();
        assert!(t.trusts(ip("10.200.3.4")));
        assert!(!t.trusts(ip("11.0.0.1")));
        assert!(t.trusts(ip("192.168.1.7")));
        assert!(!t.trusts(ip("192.168.1.8")));
        assert!(t.trusts(ip("fd12::1")));
        assert!(t.trusts(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        let all = TrustedProxies::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all.trusts(IpAddr::V4(Ipv4Addr::BROADCAST)));
        assert!(!all.trusts(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "example.com",
            "10.0.0/8",
            "1.2.3.4/x",
        ] {
            let err = TrustedProxies::parse(&[bad]).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let t = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        let none = TrustedProxies::default();
        let h = headers(&["203.0.113.9"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        assert_eq!(
            t.client(ip("198.51.100.1"), &h),
            ip("198.51.100.1"),
            "not a proxy"
        );
        assert_eq!(none.client(ip("127.0.0.1"), &h), ip("127.0.0.1"), "no flag");
        assert_eq!(
            t.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let t = TrustedProxies::parse(&["127.0.0.1", "10.0.0.0/8"]).unwrap();
        // A client forging a left entry does not pick its bucket.
        let h = headers(&["1.1.1.1, 203.0.113.9, 10.0.0.5"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        // Several headers are one list.
        let h = headers(&["1.1.1.1", "203.0.113.9", "10.0.0.5"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        // Every hop trusted: the leftmost.
        let h = headers(&["10.0.0.9, 10.0.0.5"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("10.0.0.9"));
        // Garbage stops the walk at the last vouched-for hop.
        let h = headers(&["203.0.113.9, nonsense, 10.0.0.5"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("10.0.0.5"));
        let h = headers(&["::ffff:203.0.113.9"]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("203.0.113.9"));
    }
}
