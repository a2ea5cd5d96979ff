//! Attachments: downloading a source message's file (a plain GET of its URL, following
//! redirects) so that it can be uploaded to the target.
//!
//! A URL from an export file or a source app is not trusted. The download client guards
//! against what such a URL could reach or cost:
//!
//! - **Addresses.** Loopback, private (RFC 1918, unique-local `fc00::/7`), link-local
//!   (`169.254.0.0/16`, `fe80::/10`), shared (carrier-grade NAT, `100.64.0.0/10`),
//!   unspecified, broadcast, multicast and reserved addresses, and IPv4-mapped (or embedded)
//!   forms of them, are refused unless [`Downloader`] allows private hosts
//!   (`Migration::allow_private_file_hosts`). Cloud metadata addresses (`169.254.169.254`,
//!   `169.254.170.2`, `100.100.100.200`, `fd00:ec2::254`) are refused always. The check is
//!   made on the addresses the connection uses: an IP-literal host is checked before any
//!   connection, a name is resolved by [`GuardedResolver`], which hands the connector only
//!   the addresses that pass (so a name that resolves to `127.0.0.1`, or that is rebound
//!   between two lookups, never gets a connection there). Every redirect goes through the
//!   same checks.
//! - **Downgrades.** A redirect from https to plain http is refused.
//! - **Memory.** A file larger than [`MAX_ATTACHMENT_BYTES`] fails its message (refused on
//!   its `Content-Length` before its body is read, or when the body grows past it), and the
//!   downloads of a run share a budget of [`DOWNLOAD_MEMORY_BYTES`]: before reading a body, a
//!   download reserves its `Content-Length` (or the whole per-file limit when the length is
//!   unknown, giving back what it did not use once read) and holds the reservation until its
//!   bytes are uploaded. Each download reserves once, all it needs, so downloads never wait
//!   on each other in a cycle.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use talkjs_api::transport::BuildError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::Service;

/// The largest file downloaded (a larger one fails its message).
pub(crate) const MAX_ATTACHMENT_BYTES: usize = 100 * 1024 * 1024;

/// The bytes of downloaded files held at once by one run (downloaded, not yet uploaded).
pub(crate) const DOWNLOAD_MEMORY_BYTES: usize = 256 * 1024 * 1024;

/// How long one download may take to answer (redirects included), and then to send its
/// body (the wait for room in the memory budget not included).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// How long connecting to a file host may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// The advice of a refusal that the user can lift.
const ALLOW_HINT: &str =
    "pass --allow-private-file-hosts (Migration::allow_private_file_hosts) to allow it";

/// A downloaded file, ready to upload.
#[derive(Debug)]
pub(crate) struct Downloaded {
    /// The file name: the URL's last path segment, decoded (`file` if it has none).
    pub name: String,
    /// The response's `Content-Type` (`application/octet-stream` if it has none usable).
    pub content_type: String,
    /// The bytes.
    pub data: Bytes,
    /// Its share of the memory budget, given back when this is dropped (after the upload:
    /// the caller keeps this value until then).
    pub _hold: Hold,
}

/// Why a file could not be carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileError {
    /// What happened (URLs without their query: it may hold a credential).
    pub why: String,
    /// Whether a later run may succeed (a connection failure, a 5xx, a 429, a host refused
    /// until the user allows private hosts).
    pub transient: bool,
}

impl FileError {
    fn permanent(why: impl Into<String>) -> Self {
        Self {
            why: why.into(),
            transient: false,
        }
    }

    fn transient(why: impl Into<String>) -> Self {
        Self {
            why: why.into(),
            transient: true,
        }
    }
}

/// The client that downloads source files: no authentication, no base URL, the address
/// checks, the size limit and the memory budget of this module. Cloning is cheap and shares
/// the connections and the budget.
#[derive(Clone)]
pub(crate) struct Downloader {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Empty<Bytes>>,
    allow_private: bool,
    /// The largest file (at most the budget).
    max_bytes: usize,
    /// The memory budget, in KiB.
    budget: Arc<Semaphore>,
    /// The bytes of files held now, and the most ever held at once.
    held: Arc<Held>,
}

impl std::fmt::Debug for Downloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downloader")
            .field("allow_private", &self.allow_private)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// The downloader of a run: files up to [`MAX_ATTACHMENT_BYTES`], [`DOWNLOAD_MEMORY_BYTES`]
/// held at once, private hosts refused unless `allow_private`.
pub(crate) fn downloader(allow_private: bool) -> Result<Downloader, BuildError> {
    Downloader::new(allow_private, MAX_ATTACHMENT_BYTES, DOWNLOAD_MEMORY_BYTES)
}

impl Downloader {
    /// A downloader of files up to `max_bytes` (at most `budget_bytes`), holding at most
    /// `budget_bytes` of them at once. TLS as the API client has it: rustls with ring and
    /// the webpki roots, HTTP/1.1 or HTTP/2 by ALPN.
    pub(crate) fn new(
        allow_private: bool,
        max_bytes: usize,
        budget_bytes: usize,
    ) -> Result<Self, BuildError> {
        let budget_kib = budget_bytes.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS);
        let max_bytes = max_bytes.min(budget_kib.saturating_mul(1024));
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { allow_private });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| BuildError::Tls(e.to_string()))?
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(32)
            .build(https);
        Ok(Self {
            client,
            allow_private,
            max_bytes,
            budget: Arc::new(Semaphore::new(budget_kib)),
            held: Arc::new(Held::default()),
        })
    }

    /// Why this downloader refuses `ip`, if it does.
    fn refuses(&self, ip: IpAddr) -> Option<Refusal> {
        refused(ip, self.allow_private)
    }

    /// The most bytes of files this downloader held at once.
    #[cfg(test)]
    pub(crate) fn peak_held(&self) -> usize {
        self.held.peak.load(Ordering::Relaxed)
    }

    /// The answer to a GET of `url` (http or https), after up to [`MAX_REDIRECTS`]
    /// redirects, each checked like the URL itself; the body is not read yet.
    async fn answer(&self, url: &str) -> Result<(http::Uri, http::Response<Incoming>), FileError> {
        let mut current = url.to_owned();
        let mut from: Option<http::Uri> = None;
        for _ in 0..=MAX_REDIRECTS {
            let uri: http::Uri = current.parse().map_err(|e| {
                FileError::permanent(format!("{:?} is not a URL: {e}", shown(&current)))
            })?;
            let Some(host) = uri.host() else {
                return Err(FileError::permanent(format!(
                    "{:?} is not an http(s) URL",
                    shown(&current)
                )));
            };
            if !matches!(uri.scheme_str(), Some("http" | "https")) {
                return Err(FileError::permanent(format!(
                    "{:?} is not an http(s) URL",
                    shown(&current)
                )));
            }
            if let Some(from) = &from {
                no_downgrade(from, &uri)?;
            }
            // An IP literal never reaches the resolver: check it here, before connecting.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                if let Some(refusal) = self.refuses(ip) {
                    let refused = Refused {
                        host: host.to_owned(),
                        ip,
                        refusal,
                        resolved: false,
                    };
                    return Err(refused.file_error(&uri));
                }
            }
            let mut request = http::Request::new(Empty::new());
            *request.uri_mut() = uri.clone();
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| request_error(&uri, &e))?;
            let status = response.status();
            if status.is_redirection() {
                let Some(location) = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                else {
                    return Err(FileError::permanent(format!(
                        "GET {} answered {status} without a Location",
                        shown_uri(&uri)
                    )));
                };
                current = resolve(&uri, location);
                from = Some(uri);
                continue;
            }
            return Ok((uri, response));
        }
        Err(FileError::permanent(format!(
            "GET {} redirected more than {MAX_REDIRECTS} times",
            shown(url)
        )))
    }

    /// Reserves room for `bytes` of a file in the budget, waiting until there is.
    async fn reserve(&self, bytes: usize) -> Result<Hold, FileError> {
        // `bytes` is at most `max_bytes`, which is at most the budget: never more permits
        // than exist (a request for more would wait forever).
        let permits = u32::try_from(kib(bytes)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&self.budget)
            .acquire_many_owned(permits)
            .await
            .map_err(|_| FileError::transient("the download budget was closed"))?;
        Ok(Hold {
            permit,
            held: Arc::clone(&self.held),
            bytes: 0,
        })
    }
}

/// The bytes of files a downloader holds.
#[derive(Debug, Default)]
struct Held {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// A file's share of the memory budget: the reservation, and the bytes read so far.
#[derive(Debug)]
pub(crate) struct Hold {
    permit: OwnedSemaphorePermit,
    held: Arc<Held>,
    bytes: usize,
}

impl Hold {
    fn add(&mut self, bytes: usize) {
        self.bytes += bytes;
        let now = self.held.now.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.held.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Gives back the part of the reservation that `bytes` do not need.
    fn shrink_to(&mut self, bytes: usize) {
        let keep = kib(bytes);
        let reserved = self.permit.num_permits();
        if reserved > keep {
            drop(self.permit.split(reserved - keep));
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.held.now.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// KiB (the budget's unit) needed for `bytes`: rounded up, at least 1.
fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024).max(1)
}

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
struct Refused {
    /// The host as the URL names it.
    host: String,
    /// The refused address.
    ip: IpAddr,
    refusal: Refusal,
    /// Whether the host is a name that resolved to `ip` (not `ip` itself).
    resolved: bool,
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
    fn file_error(&self, uri: &http::Uri) -> FileError {
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
struct GuardedResolver {
    allow_private: bool,
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

/// A URL as it may be shown: without its query and fragment (a signed URL's query can
/// hold a credential) and without a user and password before the host.
pub(crate) fn shown(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://{}{path}", &authority[at + 1..]),
        None => url.to_owned(),
    }
}

fn shown_uri(uri: &http::Uri) -> String {
    shown(&uri.to_string())
}

/// Downloads `url` (http or https), following up to 5 redirects, within the downloader's
/// limits; the result holds its share of the memory budget until dropped.
pub(crate) async fn download(downloader: &Downloader, url: &str) -> Result<Downloaded, FileError> {
    let (uri, response) = within(url, downloader.answer(url)).await?;
    let status = response.status();
    if !status.is_success() {
        let transient = status.is_server_error()
            || status == http::StatusCode::TOO_MANY_REQUESTS
            || status == http::StatusCode::REQUEST_TIMEOUT;
        return Err(FileError {
            why: format!("GET {} answered {status}", shown_uri(&uri)),
            transient,
        });
    }
    let too_large = || {
        FileError::permanent(format!(
            "{} is larger than {}",
            shown_uri(&uri),
            size(downloader.max_bytes)
        ))
    };
    let length = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = match length {
        Some(length) => match usize::try_from(length) {
            Ok(length) if length <= downloader.max_bytes => length,
            _ => return Err(too_large()),
        },
        None => downloader.max_bytes,
    };
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "application/octet-stream".to_owned(), content_type);
    let mut hold = downloader.reserve(limit).await?;
    let body = response.into_body();
    let data = within(
        url,
        read_body(body, &uri, length.is_some(), limit, &mut hold),
    )
    .await?;
    hold.shrink_to(data.len());
    Ok(Downloaded {
        name: file_name(&uri),
        content_type,
        data,
        _hold: hold,
    })
}

/// Reads a body of at most `limit` bytes: its `Content-Length` if `exact`, else the
/// largest file.
async fn read_body(
    mut body: Incoming,
    uri: &http::Uri,
    exact: bool,
    limit: usize,
    hold: &mut Hold,
) -> Result<Bytes, FileError> {
    let mut data: Vec<u8> = Vec::with_capacity(if exact { limit } else { 0 });
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| FileError::transient(format!("GET {}: {}", shown_uri(uri), chain(&e))))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if chunk.len() > limit - data.len() {
            return Err(FileError::permanent(if exact {
                format!("GET {}: more bytes than its Content-Length", shown_uri(uri))
            } else {
                format!("{} is larger than {}", shown_uri(uri), size(limit))
            }));
        }
        let needed = data.len() + chunk.len();
        if needed > data.capacity() {
            // Grow by doubling, but never past the limit.
            let target = (data.capacity() * 2).clamp(needed, limit);
            data.reserve_exact(target - data.len());
        }
        data.extend_from_slice(&chunk);
        hold.add(chunk.len());
    }
    Ok(Bytes::from(data))
}

/// `future` within [`DOWNLOAD_TIMEOUT`].
async fn within<T>(
    url: &str,
    future: impl Future<Output = Result<T, FileError>>,
) -> Result<T, FileError> {
    tokio::time::timeout(DOWNLOAD_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| {
            Err(FileError::transient(format!(
                "downloading {} took more than {} s",
                shown(url),
                DOWNLOAD_TIMEOUT.as_secs()
            )))
        })
}

/// "100 MiB", or bytes below 1 MiB.
fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// A failed request: a refused host says why; anything else (a connection failure) may pass.
fn request_error(uri: &http::Uri, e: &hyper_util::client::legacy::Error) -> FileError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return refused.file_error(uri);
        }
        source = error.source();
    }
    FileError::transient(format!("GET {}: {}", shown_uri(uri), chain(e)))
}

/// An error and its sources, joined with ": ".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(error) = source {
        text.push_str(": ");
        text.push_str(&error.to_string());
        source = error.source();
    }
    text
}

/// A redirect's `Location` against the URL that answered it.
fn resolve(base: &http::Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let scheme = base.scheme_str().unwrap_or("https");
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let authority = base.authority().map_or("", http::uri::Authority::as_str);
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = base.path();
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{scheme}://{authority}{dir}{location}")
}

/// A `Content-Type` the upload's multipart header can carry (no quotes or control
/// characters): the value, else its media type alone, else `application/octet-stream`.
fn content_type(value: &str) -> String {
    let usable = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() || c == '"');
    let value = value.trim();
    if usable(value) {
        return value.to_owned();
    }
    let media = value.split(';').next().unwrap_or_default().trim();
    if usable(media) {
        media.to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

/// The file name of a URL: its last path segment, percent-decoded, with quotes and control
/// characters replaced (the multipart header cannot carry them); `file` if it has none.
pub(crate) fn file_name(uri: &http::Uri) -> String {
    let segment = uri.path().rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let name: String = percent_decode(segment)
        .chars()
        .map(|c| if c.is_control() || c == '"' { '_' } else { c })
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_come_from_the_last_segment() {
        let name = |u: &str| file_name(&u.parse().unwrap());
        assert_eq!(name("http://h/files/att_1/my%20photo.png"), "my photo.png");
        assert_eq!(name("http://h/files/att_1/a%22b.txt?sig=x"), "a_b.txt");
        assert_eq!(name("http://h/"), "file");
        assert_eq!(name("http://h/dir/"), "dir");
        assert_eq!(name("http://h/bad%zz"), "bad%zz");
    }

    #[test]
    fn redirects_resolve_against_the_url() {
        let base: http::Uri = "https://a.example/x/y/file.png?s=1".parse().unwrap();
        assert_eq!(resolve(&base, "https://b.example/z"), "https://b.example/z");
        assert_eq!(resolve(&base, "//c.example/z"), "https://c.example/z");
        assert_eq!(resolve(&base, "/z"), "https://a.example/z");
        assert_eq!(resolve(&base, "z.png"), "https://a.example/x/y/z.png");
    }

    #[test]
    fn content_types_fit_a_multipart_header() {
        assert_eq!(content_type("image/png"), "image/png");
        assert_eq!(content_type("text/plain; charset=\"utf-8\""), "text/plain");
        assert_eq!(content_type(""), "application/octet-stream");
    }

    #[test]
    fn shown_urls_have_no_query_and_no_password() {
        assert_eq!(
            shown("https://cdn/x.png?X-Amz-Signature=secret"),
            "https://cdn/x.png"
        );
        assert_eq!(shown("https://cdn/x.png#frag"), "https://cdn/x.png");
        assert_eq!(
            shown("https://user:secret@cdn/x.png?q=1"),
            "https://cdn/x.png"
        );
        assert_eq!(shown("https://cdn"), "https://cdn");
        assert_eq!(shown("not a url"), "not a url");
    }

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

    /// A loopback HTTP/1.1 server: each connection reads one request and gets `head`, then
    /// the `parts` of the body with a pause between them.
    async fn serve(head: String, parts: Vec<Vec<u8>>) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (head, parts) = (head.clone(), parts.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0_u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                    }
                    let _ = stream.write_all(head.as_bytes()).await;
                    for (k, part) in parts.iter().enumerate() {
                        if k > 0 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        let _ = stream.write_all(part).await;
                    }
                });
            }
        });
        addr
    }

    const FILE: usize = 64 * 1024;

    /// A file of [`FILE`] bytes with a `Content-Length`, sent in two halves.
    async fn serve_file() -> String {
        let head =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {FILE}\r\nConnection: close\r\n\r\n");
        let addr = serve(head, vec![vec![b'a'; FILE / 2], vec![b'b'; FILE / 2]]).await;
        format!("http://{addr}/file.bin")
    }

    /// A chunked body (no `Content-Length`) of `chunks` chunks of `size` bytes.
    async fn serve_chunked(chunks: usize, size: usize) -> String {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let mut parts: Vec<Vec<u8>> = (0..chunks)
            .map(|_| {
                let mut part = format!("{size:x}\r\n").into_bytes();
                part.extend(std::iter::repeat_n(b'c', size));
                part.extend_from_slice(b"\r\n");
                part
            })
            .collect();
        parts.push(b"0\r\n\r\n".to_vec());
        let addr = serve(head.to_owned(), parts).await;
        format!("http://{addr}/chunked.bin")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_budget_bounds_the_bytes_held_at_once() {
        let url = serve_file().await;
        // Room for two files: six downloads started together, each file kept a moment
        // after it is read (as for its upload), never hold more than two.
        let downloader = Downloader::new(true, 1024 * 1024, 2 * FILE).unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (downloader, url) = (downloader.clone(), url.clone());
                tokio::spawn(async move {
                    let file = download(&downloader, &url).await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok::<usize, FileError>(file.data.len())
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(FILE));
        }
        let peak = downloader.peak_held();
        assert!(
            (FILE..=2 * FILE).contains(&peak),
            "held {peak} bytes at once"
        );
        assert_eq!(downloader.budget.available_permits(), 2 * FILE / 1024);

        // The measure itself: with room for all, six files kept together are all held.
        let roomy = Downloader::new(true, 1024 * 1024, 1024 * 1024).unwrap();
        let mut files = Vec::new();
        for _ in 0..6 {
            files.push(download(&roomy, &url).await.unwrap());
        }
        assert_eq!(roomy.peak_held(), 6 * FILE);
        drop(files);
        assert_eq!(roomy.budget.available_permits(), 1024);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_body_of_unknown_length_reserves_the_limit_and_gives_back_the_rest() {
        let url = serve_chunked(4, 8 * 1024).await;
        let downloader = Downloader::new(true, 64 * 1024, 64 * 1024).unwrap();
        let file = download(&downloader, &url).await.unwrap();
        assert_eq!(file.data.len(), 32 * 1024);
        assert!(file.data.iter().all(|b| *b == b'c'));
        assert_eq!(downloader.budget.available_permits(), 32, "32 KiB kept");
        drop(file);
        assert_eq!(downloader.budget.available_permits(), 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_over_the_limit_fail_for_good() {
        let downloader = Downloader::new(true, 64 * 1024, 1024 * 1024).unwrap();
        // Growing past the limit with no length given.
        let url = serve_chunked(10, 10 * 1024).await;
        let error = download(&downloader, &url).await.unwrap_err();
        assert!(!error.transient);
        assert!(
            error
                .why
                .ends_with("/chunked.bin is larger than 65536 bytes"),
            "{}",
            error.why
        );
        // A Content-Length over the limit: refused before reading.
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            64 * 1024 + 1
        );
        let addr = serve(head, Vec::new()).await;
        let error = download(&downloader, &format!("http://{addr}/big.bin"))
            .await
            .unwrap_err();
        assert!(!error.transient);
        assert!(
            error.why.ends_with("/big.bin is larger than 65536 bytes"),
            "{}",
            error.why
        );
        // What the failed downloads read is given back.
        assert_eq!(downloader.held.now.load(Ordering::Relaxed), 0);
        assert_eq!(downloader.budget.available_permits(), 1024);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loopback_is_refused_without_the_allowance_by_address_and_by_name() {
        let url = serve_file().await;
        let downloader = Downloader::new(false, 1024 * 1024, 1024 * 1024).unwrap();
        let error = download(&downloader, &url).await.unwrap_err();
        assert!(error.transient);
        assert!(
            error
                .why
                .contains(": 127.0.0.1 is a loopback address; pass --allow-private-file-hosts"),
            "{}",
            error.why
        );
        let by_name = url.replace("127.0.0.1", "localhost");
        let error = download(&downloader, &by_name).await.unwrap_err();
        assert!(
            error
                .why
                .contains(": localhost resolves to a loopback address "),
            "{}",
            error.why
        );
        let allowed = Downloader::new(true, 1024 * 1024, 1024 * 1024).unwrap();
        assert_eq!(download(&allowed, &url).await.unwrap().data.len(), FILE);
    }
}
