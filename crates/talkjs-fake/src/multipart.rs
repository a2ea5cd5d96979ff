//! A minimal `multipart/form-data` reader: enough to find the named parts of an upload.

use bytes::Bytes;

/// One part of a multipart body.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) name: Option<String>,
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Bytes,
}

/// The boundary parameter of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Result<String, String> {
    let mut params = content_type.split(';');
    let essence = params.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return Err(format!(
            "Content-Type must be multipart/form-data, got {content_type:?}"
        ));
    }
    params
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| "the multipart Content-Type has no boundary".to_owned())
}

/// Position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The value of `name="…"` style parameter in a header line.
fn header_param(line: &str, name: &str) -> Option<String> {
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Finds the part whose form field name is `field`.
#[cfg(test)]
pub(crate) fn find_part(content_type: &str, body: &Bytes, field: &str) -> Result<Part, String> {
    parts(content_type, body)?
        .into_iter()
        .find(|p| p.name.as_deref() == Some(field))
        .ok_or_else(|| format!("the multipart body has no `{field}` part"))
}

/// Every part of a multipart body, in order.
pub(crate) fn parts(content_type: &str, body: &Bytes) -> Result<Vec<Part>, String> {
    let boundary = boundary(content_type)?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut pos = find(body, delimiter, 0).ok_or("the body has no multipart boundary")?;
    let mut parts = Vec::new();
    loop {
        let after = pos + delimiter.len();
        if body.get(after..after + 2) == Some(b"--") {
            return Ok(parts);
        }
        let headers_start = find(body, b"\r\n", after).ok_or("truncated multipart body")? + 2;
        let (headers, data_start) = if body.get(headers_start..headers_start + 2) == Some(b"\r\n") {
            (String::new(), headers_start + 2)
        } else {
            let end = find(body, b"\r\n\r\n", headers_start)
                .ok_or("a multipart part has no header end")?;
            (
                String::from_utf8_lossy(&body[headers_start..end]).into_owned(),
                end + 4,
            )
        };
        let next =
            find(body, delimiter, data_start).ok_or("the multipart body is not terminated")?;
        let data_end = next.saturating_sub(2).max(data_start);
        let mut name = None;
        let mut filename = None;
        let mut part_type = None;
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                name = header_param(value, "name");
                filename = header_param(value, "filename");
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                part_type = Some(value.trim().to_owned());
            }
        }
        parts.push(Part {
            name,
            filename,
            content_type: part_type,
            data: body.slice(data_start..data_end),
        });
        pos = next;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_part() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\npic.png\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pic.png\"\r\n\
              Content-Type: image/png\r\n\r\n\x89PNG\r\ndata\r\n--XyZ--\r\n",
        );
        let part = find_part("multipart/form-data; boundary=XyZ", &body, "file").unwrap();
        assert_eq!(part.filename.as_deref(), Some("pic.png"));
        assert_eq!(part.content_type.as_deref(), Some("image/png"));
        assert_eq!(&part.data[..], b"\x89PNG\r\ndata");
        assert!(find_part("multipart/form-data; boundary=XyZ", &body, "other").is_err());
        assert!(find_part("application/json", &body, "file").is_err());
    }
}
