//! Proxies: [`Proxy`] (which proxy, if any) and the connector that goes through it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use http::uri::Scheme;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::{Service, ServiceExt};

use crate::error::BuildError;
use crate::types::BoxError;

/// Which HTTP proxy the client's connections go through:
/// [`HyperClientBuilder::proxy`](crate::HyperClientBuilder::proxy).
///
/// - [`Proxy::from_env`] (the default): the proxy environment variables, read when the client
///   is built, as curl reads them: `HTTPS_PROXY` for `https://` destinations (TalkJS's API),
///   `HTTP_PROXY` for `http://` ones (e.g. a fake server), `ALL_PROXY` for both when the
///   specific one is not set, and `NO_PROXY`, a comma-separated list of hosts, domains (with
///   their subdomains), IP addresses and networks (`10.0.0.0/8`) that are reached directly
///   (`*`: every host). Each name may be upper or lower case. Loopback addresses are not
///   special: add `localhost,127.0.0.1` to `NO_PROXY` to reach a local fake server directly.
///   In a CGI program (`REQUEST_METHOD` set) the environment's proxies are ignored.
/// - [`Proxy::all`], [`Proxy::https`], [`Proxy::http`]: an explicit proxy, whatever the
///   environment says, with [`no_proxy`](Proxy::no_proxy) exceptions.
/// - [`Proxy::none`]: always connect directly.
///
/// The proxy is an `http://` proxy (a URL without a scheme counts as one). `https://`
/// destinations go through a tunnel (`CONNECT host:443`), so the proxy sees only the
/// destination's host and port, and TLS runs end to end; plain `http://` destinations are
/// sent to the proxy as absolute-form requests (`GET http://host/path`). Credentials in the
/// URL (`http://user:password@proxy:3128`, percent-encoded) are sent as
/// `Proxy-Authorization: Basic` and never appear in `Debug` output, logs or errors. SOCKS
/// and `https://` proxy URLs are not supported: an explicit one is refused when the client
/// is built, one from the environment fails each connection with a clear error.
///
/// ```
/// use talkjs_transport::{HyperClientBuilder, Proxy};
///
/// // Everything through the company's egress proxy, but the local fake directly.
/// let proxy = Proxy::all("http://user:secret@proxy.internal:3128").no_proxy("localhost,127.0.0.1");
/// assert!(!format!("{proxy:?}").contains("secret"));
/// let client = HyperClientBuilder::new().proxy(proxy).build();
/// # drop(client);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    setting: Setting,
}

#[derive(Clone, PartialEq, Eq)]
enum Setting {
    FromEnv,
    Off,
    Explicit {
        http: Option<String>,
        https: Option<String>,
        no: Option<String>,
    },
    /// `no_proxy` given with `from_env` or `none` (refused when the client is built).
    Misused(&'static str),
}

impl Default for Proxy {
    /// [`Proxy::from_env`].
    fn default() -> Self {
        Self::from_env()
    }
}

impl Proxy {
    /// The proxy environment variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`,
    /// either case), read when the client is built. The default.
    pub fn from_env() -> Self {
        Self {
            setting: Setting::FromEnv,
        }
    }

    /// No proxy: always connect directly, whatever the environment says.
    pub fn none() -> Self {
        Self {
            setting: Setting::Off,
        }
    }

    /// Every destination (`https://` and `http://`) through the proxy at `url`, e.g.
    /// `http://proxy.internal:3128` or `http://user:password@proxy.internal:3128`.
    pub fn all(url: impl Into<String>) -> Self {
        let url = url.into();
        Self::explicit(Some(url.clone()), Some(url))
    }

    /// `https://` destinations (TalkJS's API) through the proxy at `url`; `http://` ones
    /// directly.
    pub fn https(url: impl Into<String>) -> Self {
        Self::explicit(None, Some(url.into()))
    }

    /// Plain `http://` destinations (e.g. a fake server on another machine) through the
    /// proxy at `url`; `https://` ones directly.
    pub fn http(url: impl Into<String>) -> Self {
        Self::explicit(Some(url.into()), None)
    }

    fn explicit(http: Option<String>, https: Option<String>) -> Self {
        Self {
            setting: Setting::Explicit {
                http,
                https,
                no: None,
            },
        }
    }

    /// Destinations reached directly, with `NO_PROXY`'s rules: comma-separated hosts,
    /// domains (`example.com` and `.example.com` both match the domain and its subdomains),
    /// IP addresses and networks (`192.168.0.0/16`); `*` matches every host. For an explicit
    /// proxy only: with [`Proxy::from_env`], `NO_PROXY` says it (building the client refuses
    /// both together, rather than ignore one).
    #[must_use]
    pub fn no_proxy(mut self, list: impl Into<String>) -> Self {
        self.setting = match self.setting {
            Setting::Explicit { http, https, .. } => Setting::Explicit {
                http,
                https,
                no: Some(list.into()),
            },
            Setting::FromEnv => Setting::Misused(
                "no_proxy applies to an explicit proxy; with Proxy::from_env, set NO_PROXY",
            ),
            Setting::Off => {
                Setting::Misused("no_proxy has no use with Proxy::none, which never proxies")
            }
            misused @ Setting::Misused(_) => misused,
        };
        self
    }

    /// Whether this is [`Proxy::from_env`].
    pub fn is_from_env(&self) -> bool {
        self.setting == Setting::FromEnv
    }

    /// The matcher that picks the proxy of each destination, or `None` when nothing is
    /// proxied.
    pub(crate) fn matcher(&self) -> Result<Option<Arc<Matcher>>, BuildError> {
        let matcher = match &self.setting {
            Setting::Off => return Ok(None),
            Setting::Misused(why) => return Err(BuildError::Invalid((*why).to_owned())),
            Setting::FromEnv => Matcher::from_env(),
            Setting::Explicit { http, https, no } => {
                let mut builder = Matcher::builder();
                if let Some(url) = http {
                    check_url(url)?;
                    builder = builder.http(url.as_str());
                }
                if let Some(url) = https {
                    check_url(url)?;
                    builder = builder.https(url.as_str());
                }
                if let Some(no) = no {
                    builder = builder.no(no.as_str());
                }
                builder.build()
            }
        };
        let probes = [
            Uri::from_static("https://api.talkjs.com/"),
            Uri::from_static("http://api.talkjs.com/"),
        ];
        for probe in &probes {
            if let Some(proxy) = matcher.intercept(probe) {
                tracing::debug!(
                    destination = probe.scheme_str(),
                    proxy = %proxy.uri(),
                    credentials = proxy.basic_auth().is_some(),
                    "talkjs: connecting through a proxy"
                );
            }
        }
        Ok(Some(Arc::new(matcher)))
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.setting {
            Setting::FromEnv => f.write_str("Proxy::from_env()"),
            Setting::Off => f.write_str("Proxy::none()"),
            Setting::Misused(why) => write!(f, "Proxy(invalid: {why})"),
            Setting::Explicit { http, https, no } => f
                .debug_struct("Proxy")
                .field("http", &http.as_deref().map(redact))
                .field("https", &https.as_deref().map(redact))
                .field("no_proxy", no)
                .finish(),
        }
    }
}

/// `url` with its user name and password (if any) replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}***@{}{tail}", &authority[at + 1..]),
        None => url.to_owned(),
    }
}

/// Refuses a proxy URL this client cannot use, naming it without its credentials.
fn check_url(url: &str) -> Result<(), BuildError> {
    let shown = redact(url);
    let uri: Uri = url
        .parse()
        .map_err(|_| BuildError::Invalid(format!("the proxy URL {shown:?} is not a valid URL")))?;
    match uri.scheme_str() {
        None | Some("http") => {}
        Some(other) => {
            return Err(BuildError::Invalid(format!(
                "the proxy {shown:?} is a {other}:// proxy; only http:// proxies are supported \
                 (https:// destinations go through them in a CONNECT tunnel)"
            )));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(BuildError::Invalid(format!(
            "the proxy URL {shown:?} has no host"
        )));
    }
    Ok(())
}

/// A connection failure through a proxy: names the proxy (never its credentials).
#[derive(Debug)]
struct ProxyError {
    proxy: String,
    source: BoxError,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "through the proxy {}: {}", self.proxy, self.source)
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The connector under TLS: a direct TCP connection, a tunnel through the destination's
/// proxy (`https://`), or a connection to the proxy itself (`http://`, marked as proxied so
/// the client sends absolute-form requests).
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    pub(crate) http: HttpConnector,
    pub(crate) matcher: Option<Arc<Matcher>>,
}

impl Service<Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The HTTP connector is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.matcher.as_ref().and_then(|m| m.intercept(&dst));
        let http = self.http.clone();
        Box::pin(async move {
            match intercept {
                None => {
                    let io = http.oneshot(dst).await?;
                    Ok(ProxyStream { io, proxied: false })
                }
                Some(proxy) => through(http, dst, &proxy).await,
            }
        })
    }
}

/// Connects to `dst` through `proxy`.
async fn through(
    http: HttpConnector,
    dst: Uri,
    proxy: &Intercept,
) -> Result<ProxyStream, BoxError> {
    let uri = proxy.uri().clone();
    let shown = uri
        .authority()
        .map_or_else(|| uri.to_string(), ToString::to_string);
    let failed = |source: BoxError| -> BoxError {
        Box::new(ProxyError {
            proxy: shown.clone(),
            source,
        })
    };
    if uri.scheme() != Some(&Scheme::HTTP) {
        return Err(failed(
            format!(
                "{}:// proxies are not supported (only http://); fix HTTPS_PROXY, HTTP_PROXY \
                 or ALL_PROXY, or set the proxy explicitly",
                uri.scheme_str().unwrap_or("?")
            )
            .into(),
        ));
    }
    if dst.scheme() == Some(&Scheme::HTTPS) {
        let mut tunnel = Tunnel::new(uri, http);
        if let Some(auth) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        let io = tunnel.oneshot(dst).await.map_err(|e| failed(Box::new(e)))?;
        Ok(ProxyStream { io, proxied: false })
    } else {
        let io = http.oneshot(uri).await.map_err(|e| failed(Box::new(e)))?;
        Ok(ProxyStream { io, proxied: true })
    }
}

/// A TCP connection, direct, tunnelled, or to an HTTP proxy (`proxied`: requests on it go in
/// absolute form).
#[derive(Debug)]
pub(crate) struct ProxyStream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// The `Proxy-Authorization` header a plain-http request through its proxy needs (a
/// tunnel carries it in its `CONNECT` instead).
pub(crate) fn authorization(matcher: &Matcher, uri: &Uri) -> Option<http::HeaderValue> {
    if uri.scheme() != Some(&Scheme::HTTP) {
        return None;
    }
    matcher.intercept(uri)?.basic_auth().cloned()
}

#[cfg(test)]
mod tests {
    use super::{Proxy, redact};

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact("http://user:pa%40ss@proxy:3128/x"),
            "http://***@proxy:3128/x"
        );
        assert_eq!(redact("user:pw@proxy:3128"), "***@proxy:3128");
        assert_eq!(redact("http://proxy:3128"), "http://proxy:3128");
        let proxy = Proxy::all("http://alice:s3cr3t@proxy:3128").no_proxy("localhost");
        let shown = format!("{proxy:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("proxy:3128"), "{shown}");
    }

    #[test]
    fn bad_settings_are_refused_at_build() {
        for proxy in [
            Proxy::all("socks5://proxy:1080"),
            Proxy::https("https://proxy:443"),
            Proxy::from_env().no_proxy("localhost"),
            Proxy::none().no_proxy("localhost"),
            Proxy::all("http://user:s3cr3t@"),
        ] {
            let error = match proxy.matcher() {
                Ok(_) => panic!("{proxy:?} accepted"),
                Err(e) => e.to_string(),
            };
            assert!(!error.contains("s3cr3t"), "{error}");
        }
        assert!(matches!(Proxy::none().matcher(), Ok(None)));
        assert!(matches!(Proxy::all("proxy:3128").matcher(), Ok(Some(_))));
    }
}
