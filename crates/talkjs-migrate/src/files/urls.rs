//! URLs as they may be shown (without a credential), redirects resolved, and what an upload
//! is named and typed.

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

pub(super) fn shown_uri(uri: &http::Uri) -> String {
    shown(&uri.to_string())
}

/// A redirect's `Location` against the URL that answered it.
pub(super) fn resolve(base: &http::Uri, location: &str) -> String {
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
pub(super) fn content_type(value: &str) -> String {
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
}
