//! Attachments: a message's file downloaded from the source and uploaded to the target
//! once, its token given to the message before its request leaves.

use std::sync::atomic::Ordering;

use talkjs_api::models::{ImportMessage, NewSystemMessage};

use super::state::{Run, decode_body};
use crate::error::Error;
use crate::files::{FileError, download, shown};
use crate::journal::Row;

impl Run {
    /// Decodes the bodies of a conversation's planned messages, in order, and gives each
    /// message with a file its attachment token (uploading the file if the journal has no
    /// token for it yet). A message whose body does not decode, or whose file cannot be
    /// carried for good, fails (with its line) and is left out; one whose file cannot be
    /// carried for now fails for now and ends the list (`halt`): the conversation's rest
    /// waits for a later run, to keep its order.
    pub(super) async fn prepare<T: serde::de::DeserializeOwned + Attach>(
        &self,
        rows: Vec<Row>,
    ) -> Result<Prepared<T>, Error> {
        let mut prepared = Prepared {
            rows: Vec::with_capacity(rows.len()),
            bodies: Vec::with_capacity(rows.len()),
            halt: false,
        };
        for row in rows {
            let mut body: T = match decode_body(&row.body) {
                Ok(body) => body,
                Err(e) => {
                    self.fail_item(&row, &e.to_string(), true)?;
                    continue;
                }
            };
            if let Some(url) = &row.attachment {
                match self.attachment_token(url).await {
                    Ok(token) => body.attach(token),
                    Err(Attachment::Fatal(e)) => return Err(e),
                    Err(Attachment::Failed(e)) => {
                        let why = format!("its attachment could not be carried: {}", e.why);
                        self.fail_item(&row, &why, !e.transient)?;
                        if e.transient {
                            prepared.halt = true;
                            break;
                        }
                        continue;
                    }
                }
            }
            prepared.rows.push(row);
            prepared.bodies.push(body);
        }
        Ok(prepared)
    }

    pub(super) fn fail_item(&self, row: &Row, why: &str, permanent: bool) -> Result<(), Error> {
        self.db(|j| j.item_failed(row.seq, why, permanent))?;
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.report_progress();
        Ok(())
    }

    /// The target's attachment token for a source file: from the journal, or by
    /// downloading the file and uploading it (then recorded, so it is never uploaded
    /// again). One file at a time per URL.
    pub(super) async fn attachment_token(&self, url: &str) -> Result<String, Attachment> {
        let lock = {
            let mut locks = self
                .file_locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(url.to_owned()).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        if let Some(token) = self.db(|j| j.file_token(url)).map_err(Attachment::Fatal)? {
            return Ok(token);
        }
        let file = download(&self.downloader, url)
            .await
            .map_err(Attachment::Failed)?;
        let size = file.data.len();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let token = self
            .client
            .files()
            .upload(&file.name, &file.content_type, file.data, None)
            .await
            .map_err(|e| match e {
                talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_) => {
                    Attachment::Fatal(Error::Target(e))
                }
                e => Attachment::Failed(FileError {
                    transient: e.is_transient(),
                    why: format!("uploading {} to the target: {e}", shown(url)),
                }),
            })?;
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.db(|j| j.record_file(url, &token, size))
            .map_err(Attachment::Fatal)?;
        Ok(token)
    }
}

/// The items of the next request, their bodies ready, and whether the conversation stops
/// after them.
pub(super) struct Prepared<T> {
    pub(super) rows: Vec<Row>,
    pub(super) bodies: Vec<T>,
    pub(super) halt: bool,
}

/// Why a message's attachment has no token.
pub(super) enum Attachment {
    /// The run stops (the journal failed, or the target refused the credentials).
    Fatal(Error),
    /// This file cannot be carried now (or ever, if not transient).
    Failed(FileError),
}

/// A message body that takes an attachment token.
pub(super) trait Attach {
    fn attach(&mut self, token: String);
}

impl Attach for ImportMessage {
    fn attach(&mut self, token: String) {
        self.attachment_token = Some(token);
    }
}

impl Attach for NewSystemMessage {
    fn attach(&mut self, token: String) {
        self.attachment_token = Some(token);
    }
}
