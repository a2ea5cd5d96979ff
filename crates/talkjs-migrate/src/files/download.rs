//! The download client (no authentication, no base URL, the host guard, the size limit and
//! the memory budget) and a download within its limits.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use talkjs_api::transport::BuildError;
use tokio::sync::Semaphore;

use super::budget::{Held, Hold, kib};
use super::error::FileError;
use super::guard::{GuardedResolver, Refusal, Refused, no_downgrade, refused};
use super::urls::{content_type, file_name, resolve, shown, shown_uri};

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
        self.held.peak.load(std::sync::atomic::Ordering::Relaxed)
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
        Ok(Hold::new(permit, Arc::clone(&self.held)))
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::Ordering;

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
