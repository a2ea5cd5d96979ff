//! Which file hosts are refused (by address), the resolver that hands the connector only the
//! addresses that pass, and the refusal of a redirect from https to http.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use tower::Service;

use super::error::FileError;
use super::urls::shown_uri;

/// The advice of a refusal that the user can lift.
const ALLOW_HINT: &str =
    "pass --allow-private-file-hosts (Migration::allow_private_file_hosts) to allow it";

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The kind of address, with its article: "a private address".
    pub why: &'static str,
    /// Refused even when private hosts are allowed (cloud metadata addresses).
    pub always: bool,
}

impl Refusal {
    const fn unless_allowed(why: &'static str) -> Self {
        Self { why, always: false }
    }
}

/// Why `ip` is refused as a file host when private hosts are allowed (`allow_private`) or
/// not; `None` if it is not.
pub(crate) fn refused(ip: IpAddr, allow_private: bool) -> Option<Refusal> {
    refusal(ip).filter(|r| r.always || !allow_private)
}

/// What kind of address `ip` is, if it is one a file URL from an export must not reach by
/// default: loopback, private, link-local, shared, unspecified, broadcast, multicast,
/// reserved or cloud metadata (the last always refused), also as an IPv4-mapped,
/// IPv4-compatible or NAT64 (`64:ff9b::/96`) IPv6 address.
pub(crate) fn refusal(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(ip) => refusal_v4(ip),
        IpAddr::V6(ip) => refusal_v6(ip),
    }
}

/// Cloud metadata services: AWS, Azure, GCP, Oracle, DigitalOcean and others
/// (169.254.169.254), AWS ECS task credentials (169.254.170.2), Alibaba Cloud
/// (100.100.100.200).
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
];

/// AWS's IPv6 metadata service (`fd00:ec2::254`).
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

fn refusal_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, ..] = ip.octets();
    if METADATA_V4.contains(&ip) {
        Some(Refusal {
            why: "a cloud metadata address",
            always: true,
        })
    } else if ip.is_loopback() {
        Some(Refusal::unless_allowed("a loopback address"))
    } else if ip.is_private() {
        Some(Refusal::unless_allowed("a private address"))
    } else if ip.is_link_local() {
        Some(Refusal::unless_allowed("a link-local address"))
    } else if a == 100 && (b & 0xc0) == 64 {
        Some(Refusal::unless_allowed(
            "a shared (carrier-grade NAT) address",
        ))
    } else if a == 0 {
        Some(Refusal::unless_allowed("an unspecified address"))
    } else if ip.is_broadcast() {
        Some(Refusal::unless_allowed("a broadcast address"))
    } else if ip.is_multicast() {
        Some(Refusal::unless_allowed("a multicast address"))
    } else if a >= 240 {
        Some(Refusal::unless_allowed("a reserved address"))
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let seg = ip.segments();
    let octets = ip.octets();
    let embedded = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if ip == METADATA_V6 {
        Some(Refusal {
            why: "a cloud metadata address",
            always: true,
        })
    } else if ip.is_loopback() {
        Some(Refusal::unless_allowed("a loopback address"))
    } else if ip.is_unspecified() {
        Some(Refusal::unless_allowed("an unspecified address"))
    } else if (seg[0] & 0xfe00) == 0xfc00 {
        Some(Refusal::unless_allowed("a private (unique local) address"))
    } else if (seg[0] & 0xffc0) == 0xfe80 {
        Some(Refusal::unless_allowed("a link-local address"))
    } else if (seg[0] & 0xffc0) == 0xfec0 {
        Some(Refusal::unless_allowed("a private (site-local) address"))
    } else if ip.is_multicast() {
        Some(Refusal::unless_allowed("a multicast address"))
    } else if seg[..6] == [0; 6] || (seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0; 4]) {
        // IPv4-compatible (`::a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) reach an IPv4 address.
        refusal_v4(embedded)
    } else {
        None
    }
}

/// A refused file host: the error the resolver gives the connector (and the check of an IP
/// literal), found again in the connector's error.
#[derive(Debug)]
pub(super) struct Refused {
    /// The host as the URL names it.
    pub(super) host: String,
    /// The refused address.
    pub(super) ip: IpAddr,
    pub(super) refusal: Refusal,
    /// Whether the host is a name that resolved to `ip` (not `ip` itself).
    pub(super) resolved: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Refusal { why, always } = self.refusal;
        if self.resolved {
            write!(f, "{} resolves to {why} {}", self.host, self.ip)?;
        } else {
            write!(f, "{} is {why}", self.host)?;
        }
        if always {
            f.write_str("; never fetched")
        } else {
            write!(f, "; {ALLOW_HINT}")
        }
    }
}

impl std::error::Error for Refused {}

impl Refused {
    /// The failure of the file at `uri`: for good if the address is never allowed, else
    /// until a run that allows private hosts.
    pub(super) fn file_error(&self, uri: &http::Uri) -> FileError {
        FileError {
            why: format!("GET {}: {self}", shown_uri(uri)),
            transient: !self.refusal.always,
        }
    }
}

/// The resolver of the download client: `getaddrinfo` (through tokio), then only the
/// addresses that are not refused. A name with no other address fails with [`Refused`]:
/// the connector never connects to a refused address, whatever a later lookup would say.
#[derive(Debug, Clone)]
pub(super) struct GuardedResolver {
    pub(super) allow_private: bool,
}

type ResolveFuture = Pin<
    Box<
        dyn Future<
                Output = Result<
                    std::vec::IntoIter<SocketAddr>,
                    Box<dyn std::error::Error + Send + Sync>,
                >,
            > + Send,
    >,
>;

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = ResolveFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // The connector sets the port.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refused = None;
            let mut usable = Vec::with_capacity(found.len());
            for addr in found {
                match refused(addr.ip(), allow_private) {
                    None => usable.push(addr),
                    Some(refusal) => {
                        first_refused.get_or_insert((addr.ip(), refusal));
                    }
                }
            }
            if let (true, Some((ip, refusal))) = (usable.is_empty(), first_refused) {
                return Err(Box::new(Refused {
                    host,
                    ip,
                    refusal,
                    resolved: true,
                })
                .into());
            }
            Ok(usable.into_iter())
        })
    }
}

/// Refuses a redirect from https to plain http (the file would travel unprotected, and a
/// signed URL's credentials with it).
pub(crate) fn no_downgrade(from: &http::Uri, to: &http::Uri) -> Result<(), FileError> {
    if from.scheme_str() == Some("https") && to.scheme_str() == Some("http") {
        return Err(FileError::permanent(format!(
            "GET {} redirected from https to plain http ({}); refused",
            shown_uri(from),
            shown_uri(to)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn why(ip: &str) -> Option<&'static str> {
        refusal(ip.parse().unwrap()).map(|r| r.why)
    }

    #[test]
    fn non_public_addresses_are_refused_by_kind() {
        let cases = [
            ("127.0.0.1", Some("a loopback address")),
            ("127.255.0.9", Some("a loopback address")),
            ("10.0.0.5", Some("a private address")),
            ("172.16.0.1", Some("a private address")),
            ("172.31.255.255", Some("a private address")),
            ("192.168.1.1", Some("a private address")),
            ("169.254.1.1", Some("a link-local address")),
            ("169.254.169.254", Some("a cloud metadata address")),
            ("169.254.170.2", Some("a cloud metadata address")),
            ("100.100.100.200", Some("a cloud metadata address")),
            ("100.64.0.1", Some("a shared (carrier-grade NAT) address")),
            (
                "100.127.255.254",
                Some("a shared (carrier-grade NAT) address"),
            ),
            ("0.0.0.0", Some("an unspecified address")),
            ("0.1.2.3", Some("an unspecified address")),
            ("255.255.255.255", Some("a broadcast address")),
            ("224.0.0.1", Some("a multicast address")),
            ("240.0.0.1", Some("a reserved address")),
            ("::1", Some("a loopback address")),
            ("::", Some("an unspecified address")),
            ("fc00::1", Some("a private (unique local) address")),
            ("fd12:3456::1", Some("a private (unique local) address")),
            ("fd00:ec2::254", Some("a cloud metadata address")),
            ("fe80::1", Some("a link-local address")),
            ("febf::1", Some("a link-local address")),
            ("fec0::1", Some("a private (site-local) address")),
            ("ff02::1", Some("a multicast address")),
            // IPv4 in IPv6: mapped, compatible, NAT64
            ("::ffff:127.0.0.1", Some("a loopback address")),
            ("::ffff:10.1.2.3", Some("a private address")),
            ("::ffff:169.254.169.254", Some("a cloud metadata address")),
            ("::10.1.2.3", Some("a private address")),
            ("64:ff9b::169.254.169.254", Some("a cloud metadata address")),
            ("64:ff9b::7f00:1", Some("a loopback address")),
            // public
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("169.255.0.1", None),
            ("2606:4700:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
        ];
        for (ip, expected) in cases {
            assert_eq!(why(ip), expected, "{ip}");
        }
    }

    #[test]
    fn allowing_private_hosts_never_allows_metadata() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for allowed in [
            "127.0.0.1",
            "10.0.0.5",
            "169.254.1.1",
            "fe80::1",
            "::ffff:192.168.0.1",
        ] {
            assert!(refused(ip(allowed), false).is_some(), "{allowed}");
            assert_eq!(refused(ip(allowed), true), None, "{allowed}");
        }
        for never in ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"] {
            let refusal = refused(ip(never), true).unwrap();
            assert!(refusal.always, "{never}");
        }
        assert_eq!(refused(ip("8.8.8.8"), false), None);
    }

    #[test]
    fn refusals_name_the_host_and_the_way_out() {
        let uri: http::Uri = "http://files.example/a.png?token=SECRET".parse().unwrap();
        let private = Refused {
            host: "files.example".into(),
            ip: "10.0.0.5".parse().unwrap(),
            refusal: refusal("10.0.0.5".parse().unwrap()).unwrap(),
            resolved: true,
        }
        .file_error(&uri);
        assert_eq!(
            private.why,
            "GET http://files.example/a.png: files.example resolves to a private address \
             10.0.0.5; pass --allow-private-file-hosts (Migration::allow_private_file_hosts) \
             to allow it"
        );
        assert!(
            private.transient,
            "a run that allows private hosts carries it"
        );
        let metadata = Refused {
            host: "169.254.169.254".into(),
            ip: "169.254.169.254".parse().unwrap(),
            refusal: refusal("169.254.169.254".parse().unwrap()).unwrap(),
            resolved: false,
        }
        .file_error(&uri);
        assert!(
            metadata
                .why
                .ends_with("169.254.169.254 is a cloud metadata address; never fetched"),
            "{}",
            metadata.why
        );
        assert!(!metadata.transient);
    }

    #[test]
    fn no_redirect_from_https_to_http() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        let refused = no_downgrade(
            &uri("https://cdn.example/f.png?sig=SECRET"),
            &uri("http://cdn.example/f.png?sig=SECRET"),
        )
        .unwrap_err();
        assert!(!refused.transient);
        assert_eq!(
            refused.why,
            "GET https://cdn.example/f.png redirected from https to plain http \
             (http://cdn.example/f.png); refused"
        );
        for (from, to) in [
            ("https://a/x", "https://b/x"),
            ("http://a/x", "http://b/x"),
            ("http://a/x", "https://b/x"),
        ] {
            assert_eq!(no_downgrade(&uri(from), &uri(to)), Ok(()), "{from} -> {to}");
        }
    }
}
