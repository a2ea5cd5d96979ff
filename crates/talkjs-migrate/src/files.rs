//! Attachments: downloading a source message's file (a plain GET of its URL, following
//! redirects) so that it can be uploaded to the target.

use std::time::Duration;

use bytes::Bytes;
use talkjs_api::transport::{BoxError, HyperClient, TransportError};
use tower::Service;

/// The largest file downloaded (a larger one fails its message).
pub(crate) const MAX_ATTACHMENT_BYTES: usize = 100 * 1024 * 1024;

/// How long one download may take, redirects included.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

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
}

/// Why a file could not be carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileError {
    /// What happened (URLs without their query: it may hold a credential).
    pub why: String,
    /// Whether a later run may succeed (a connection failure, a 5xx, a 429).
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

/// The client that downloads source files: no authentication, no base URL, a body limit of
/// [`MAX_ATTACHMENT_BYTES`].
pub(crate) fn downloader() -> Result<HyperClient, talkjs_api::transport::BuildError> {
    HyperClient::builder()
        .max_response_bytes(MAX_ATTACHMENT_BYTES)
        .build()
}

/// A URL as it may be shown: without its query and fragment (a signed URL's query can
/// hold a credential).
pub(crate) fn shown(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Downloads `url` (http or https), following up to 5 redirects.
pub(crate) async fn download(client: &HyperClient, url: &str) -> Result<Downloaded, FileError> {
    match tokio::time::timeout(DOWNLOAD_TIMEOUT, follow(client, url)).await {
        Ok(result) => result,
        Err(_) => Err(FileError::transient(format!(
            "downloading {} took more than {} s",
            shown(url),
            DOWNLOAD_TIMEOUT.as_secs()
        ))),
    }
}

async fn follow(client: &HyperClient, url: &str) -> Result<Downloaded, FileError> {
    let mut current = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let uri: http::Uri = current.parse().map_err(|e| {
            FileError::permanent(format!("{:?} is not a URL: {e}", shown(&current)))
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(FileError::permanent(format!(
                "{:?} is not an http(s) URL",
                shown(&current)
            )));
        }
        let mut request = http::Request::new(Bytes::new());
        *request.uri_mut() = uri.clone();
        let mut service = client.clone();
        let response = async {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(request).await
        }
        .await
        .map_err(|e| request_error(&current, &e))?;
        let status = response.status();
        if status.is_redirection() {
            let Some(location) = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
            else {
                return Err(FileError::permanent(format!(
                    "GET {} answered {status} without a Location",
                    shown(&current)
                )));
            };
            current = resolve(&uri, location);
            continue;
        }
        if !status.is_success() {
            let transient = status.is_server_error()
                || status == http::StatusCode::TOO_MANY_REQUESTS
                || status == http::StatusCode::REQUEST_TIMEOUT;
            return Err(FileError {
                why: format!("GET {} answered {status}", shown(&current)),
                transient,
            });
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "application/octet-stream".to_owned(), content_type);
        return Ok(Downloaded {
            name: file_name(&uri),
            content_type,
            data: response.into_body(),
        });
    }
    Err(FileError::permanent(format!(
        "GET {} redirected more than {MAX_REDIRECTS} times",
        shown(url)
    )))
}

/// A failed request: too large is for good; a connection failure may pass.
fn request_error(url: &str, e: &BoxError) -> FileError {
    match TransportError::find(e.as_ref()) {
        Some(TransportError::BodyTooLarge { limit }) => FileError::permanent(format!(
            "{} is larger than {} MiB",
            shown(url),
            limit / (1024 * 1024)
        )),
        _ => FileError::transient(format!("GET {}: {e}", shown(url))),
    }
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
    fn shown_urls_have_no_query() {
        assert_eq!(
            shown("https://cdn/x.png?X-Amz-Signature=secret"),
            "https://cdn/x.png"
        );
        assert_eq!(shown("https://cdn/x.png#frag"), "https://cdn/x.png");
    }
}
