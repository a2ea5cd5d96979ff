//! File upload: `client.files()`.

use bytes::{BufMut, Bytes, BytesMut};
use http::Method;
use serde::Deserialize;
use talkjs_transport::Idempotency;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;

/// What kind of attachment a file is, for the TalkJS UI (`subtype` form field).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileSubtype {
    /// A voice message.
    Voice,
    /// A video.
    Video,
    /// Another subtype, sent as given.
    Other(String),
}

impl FileSubtype {
    fn as_str(&self) -> &str {
        match self {
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Other(s) => s,
        }
    }
}

/// File uploads. Created by [`Client::files`].
#[derive(Debug, Clone)]
pub struct Files {
    client: Client,
}

impl Client {
    /// File uploads (for message attachments).
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let token = client.files().upload("notes.txt", "text/plain", &b"hello"[..], None).await?;
    /// # Ok(()) }
    /// ```
    pub fn files(&self) -> Files {
        Files {
            client: self.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Uploaded {
    attachment_token: String,
}

impl Files {
    /// Uploads a file (`POST /files`, `multipart/form-data`) and returns the attachment token
    /// to put in a message's `attachmentToken`.
    ///
    /// **No official TalkJS doc describes this endpoint** (it comes from peer SDKs); if TalkJS
    /// answers differently, look here first.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::NewMessage;
    /// let token = client.files().upload("invoice.pdf", "application/pdf", std::fs::read("invoice.pdf").unwrap(), None).await?;
    /// client.conversations().messages("order_123")
    ///     .send([NewMessage::user("alice", "Here is the invoice").attachment_token(token)]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload(
        &self,
        file_name: &str,
        content_type: &str,
        data: impl Into<Bytes>,
        subtype: Option<FileSubtype>,
    ) -> Result<String> {
        let (boundary, body) = multipart(file_name, content_type, &data.into(), subtype.as_ref())?;
        let mut req = ApiRequest::new(Method::POST, "/files", &["files"]);
        req.raw_body(format!("multipart/form-data; boundary={boundary}"), body);
        // A repeated upload only leaves an unused file behind: safe to retry.
        req.idempotency(Idempotency::Idempotent);
        let uploaded: Uploaded = self.client.send_json(req).await?;
        Ok(uploaded.attachment_token)
    }
}

fn check_field(what: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.chars().any(|c| c.is_control() || c == '"') {
        return Err(Error::InvalidArgument(format!(
            "the {what} {value:?} must be non-empty and contain no quotes or control characters"
        )));
    }
    Ok(())
}

/// Builds a `multipart/form-data` body with the fields `file`, `filename` and `subtype`.
fn multipart(
    file_name: &str,
    content_type: &str,
    data: &Bytes,
    subtype: Option<&FileSubtype>,
) -> Result<(String, Bytes)> {
    check_field("file name", file_name)?;
    check_field("content type", content_type)?;
    if let Some(s) = subtype {
        check_field("subtype", s.as_str())?;
    }
    let boundary = format!(
        "talkjs-rs-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let mut body = BytesMut::with_capacity(data.len() + 512);
    let part = |body: &mut BytesMut, headers: &str| {
        body.put_slice(b"--");
        body.put_slice(boundary.as_bytes());
        body.put_slice(b"\r\n");
        body.put_slice(headers.as_bytes());
        body.put_slice(b"\r\n\r\n");
    };
    part(
        &mut body,
        &format!(
            "Content-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}"
        ),
    );
    body.put_slice(data);
    body.put_slice(b"\r\n");
    part(
        &mut body,
        "Content-Disposition: form-data; name=\"filename\"",
    );
    body.put_slice(file_name.as_bytes());
    body.put_slice(b"\r\n");
    if let Some(s) = subtype {
        part(
            &mut body,
            "Content-Disposition: form-data; name=\"subtype\"",
        );
        body.put_slice(s.as_str().as_bytes());
        body.put_slice(b"\r\n");
    }
    body.put_slice(b"--");
    body.put_slice(boundary.as_bytes());
    body.put_slice(b"--\r\n");
    Ok((boundary, body.freeze()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builds_multipart() {
        let (boundary, body) = multipart(
            "a.txt",
            "text/plain",
            &Bytes::from_static(b"hello"),
            Some(&FileSubtype::Voice),
        )
        .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let b = &boundary;
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{b}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\na.txt\r\n--{b}\r\nContent-Disposition: form-data; name=\"subtype\"\r\n\r\nvoice\r\n--{b}--\r\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn rejects_bad_names() {
        assert!(multipart("a\"b", "text/plain", &Bytes::new(), None).is_err());
        assert!(multipart("a\r\nb", "text/plain", &Bytes::new(), None).is_err());
        assert!(multipart("", "text/plain", &Bytes::new(), None).is_err());
    }
}
