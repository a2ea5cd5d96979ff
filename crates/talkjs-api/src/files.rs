//! File upload: `client.files()`.

use bytes::{BufMut, Bytes, BytesMut};
use http::Method;
use talkjs_models::{FileBlock, UploadedFile};
use talkjs_transport::Idempotency;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;

/// What kind of media a file is, for the TalkJS UI (the `subtype` form field): `image`,
/// `video`, `audio`, `voice`, or another string ([`FileSubtype::Other`]). The same type as
/// [`talkjs_models::FileSubtype`] (a file block's `subtype`).
pub use talkjs_models::FileSubtype;

/// The optional form fields of an upload ([`Files::upload_with`]): `subtype`, `width`,
/// `height` and `duration`, each sent only when set.
///
/// TalkJS's official transfer example (talkjs-examples,
/// `rest-api/transfer-data/transferData.js`) sends them from the file block of the message
/// it copies; no reference page describes them. [`UploadOptions::from_block`] does the
/// same.
///
/// ```
/// use talkjs_api::{FileSubtype, UploadOptions};
///
/// let voice = UploadOptions::new().subtype(FileSubtype::Voice).duration(4.5);
/// let photo = UploadOptions::new().subtype(FileSubtype::Image).width(640).height(480);
/// # let _ = (voice, photo);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UploadOptions {
    /// What kind of media the file is (`subtype`).
    pub subtype: Option<FileSubtype>,
    /// Width in pixels (`width`).
    pub width: Option<u64>,
    /// Height in pixels (`height`).
    pub height: Option<u64>,
    /// Duration in seconds (`duration`); must be finite.
    pub duration: Option<f64>,
}

impl UploadOptions {
    /// No optional fields.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the subtype.
    #[must_use]
    pub fn subtype(mut self, subtype: FileSubtype) -> Self {
        self.subtype = Some(subtype);
        self
    }

    /// Sets the width in pixels.
    #[must_use]
    pub fn width(mut self, width: u64) -> Self {
        self.width = Some(width);
        self
    }

    /// Sets the height in pixels.
    #[must_use]
    pub fn height(mut self, height: u64) -> Self {
        self.height = Some(height);
        self
    }

    /// Sets the duration in seconds.
    #[must_use]
    pub fn duration(mut self, seconds: f64) -> Self {
        self.duration = Some(seconds);
        self
    }

    /// The fields of a file content block (of a listed message), to upload the same file
    /// again with the same metadata, as TalkJS's transfer example does.
    ///
    /// ```
    /// use talkjs_api::UploadOptions;
    /// use talkjs_models::FileBlock;
    ///
    /// let block: FileBlock = serde_json::from_str(
    ///     r#"{"url": "https://x/a.ogg", "filename": "a.ogg", "subtype": "voice", "duration": 3}"#,
    /// ).unwrap();
    /// assert_eq!(UploadOptions::from_block(&block).duration, Some(3.0));
    /// ```
    pub fn from_block(block: &FileBlock) -> Self {
        Self {
            subtype: block.subtype.clone(),
            width: block.width,
            height: block.height,
            duration: block.duration,
        }
    }
}

impl From<FileSubtype> for UploadOptions {
    fn from(subtype: FileSubtype) -> Self {
        Self::new().subtype(subtype)
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

impl Files {
    /// Uploads a file (`POST /files`, `multipart/form-data`: `file`, `filename`, and
    /// `subtype` when given) and returns its token, to put in a message's `attachmentToken`
    /// or in a file content block
    /// ([`FileBlock::from_token`](talkjs_models::FileBlock::from_token)).
    /// [`upload_with`](Self::upload_with) also sends `width`, `height` and `duration`.
    ///
    /// **No TalkJS reference page describes this endpoint**: it comes from peer SDKs and
    /// TalkJS's official transfer example. The answer's token is read from `fileToken` (the
    /// example's name) or `attachmentToken` ([`UploadedFile`]).
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
        let options = subtype.map(UploadOptions::from).unwrap_or_default();
        self.upload_with(file_name, content_type, data, &options)
            .await
    }

    /// Uploads a file like [`upload`](Self::upload), with the optional form fields of
    /// `options` (`subtype`, `width`, `height`, `duration`, each only when set).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_api::{FileSubtype, UploadOptions};
    /// use talkjs_models::{ContentBlock, FileBlock, ImportMessage, Timestamp};
    /// let voice = std::fs::read("hello.ogg").unwrap();
    /// let options = UploadOptions::new().subtype(FileSubtype::Voice).duration(2.5);
    /// let token = client.files().upload_with("hello.ogg", "audio/ogg", voice, &options).await?;
    /// let item = ImportMessage::with_content(
    ///     "alice",
    ///     vec![ContentBlock::from(FileBlock::from_token(token))],
    ///     Timestamp::from_millis(1_550_000_000_000),
    /// );
    /// client.conversations().messages("order_123").import([item]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_with(
        &self,
        file_name: &str,
        content_type: &str,
        data: impl Into<Bytes>,
        options: &UploadOptions,
    ) -> Result<String> {
        let (boundary, body) = multipart(file_name, content_type, &data.into(), options)?;
        let mut req = ApiRequest::new(Method::POST, "/files", &["files"]);
        req.raw_body(format!("multipart/form-data; boundary={boundary}"), body);
        // A repeated upload only leaves an unused file behind: safe to retry.
        req.idempotency(Idempotency::Idempotent);
        let uploaded: UploadedFile = self.client.send_json(req).await?;
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

/// Builds a `multipart/form-data` body with the fields `file`, `filename`, and those of
/// `options` that are set (`subtype`, `width`, `height`, `duration`).
fn multipart(
    file_name: &str,
    content_type: &str,
    data: &Bytes,
    options: &UploadOptions,
) -> Result<(String, Bytes)> {
    check_field("file name", file_name)?;
    check_field("content type", content_type)?;
    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(s) = &options.subtype {
        check_field("subtype", s.as_str())?;
        fields.push(("subtype", s.as_str().to_owned()));
    }
    if let Some(width) = options.width {
        fields.push(("width", width.to_string()));
    }
    if let Some(height) = options.height {
        fields.push(("height", height.to_string()));
    }
    if let Some(duration) = options.duration {
        if !duration.is_finite() || duration < 0.0 {
            return Err(Error::InvalidArgument(format!(
                "the duration {duration} must be a finite number of seconds, at least 0"
            )));
        }
        fields.push(("duration", duration.to_string()));
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
    for (name, value) in &fields {
        part(
            &mut body,
            &format!("Content-Disposition: form-data; name=\"{name}\""),
        );
        body.put_slice(value.as_bytes());
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
            &UploadOptions::from(FileSubtype::Voice),
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
        let none = UploadOptions::new();
        assert!(multipart("a\"b", "text/plain", &Bytes::new(), &none).is_err());
        assert!(multipart("a\r\nb", "text/plain", &Bytes::new(), &none).is_err());
        assert!(multipart("", "text/plain", &Bytes::new(), &none).is_err());
        let bad_subtype = UploadOptions::from(FileSubtype::Other("a\r\nb".into()));
        assert!(multipart("a", "text/plain", &Bytes::new(), &bad_subtype).is_err());
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            let options = UploadOptions::new().duration(bad);
            assert!(multipart("a", "text/plain", &Bytes::new(), &options).is_err());
        }
    }

    #[test]
    fn sends_the_optional_fields_in_order() {
        let options = UploadOptions::new()
            .subtype(FileSubtype::Image)
            .width(640)
            .height(480)
            .duration(2.5);
        let (b, body) =
            multipart("a.png", "image/png", &Bytes::from_static(b"x"), &options).unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let field = |name: &str, value: &str| {
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
        };
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nx\r\n{}{}{}{}{}--{b}--\r\n",
            field("filename", "a.png"),
            field("subtype", "image"),
            field("width", "640"),
            field("height", "480"),
            field("duration", "2.5"),
        );
        assert_eq!(text, expected);
    }
}
