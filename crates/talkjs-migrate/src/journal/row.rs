//! An item as the runner reads it back from the journal.

/// An item as the runner needs it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub seq: i64,
    pub subject: String,
    pub source_id: String,
    pub body: String,
    pub sender: Option<String>,
    pub ts: Option<i64>,
    pub text: Option<String>,
    pub attachment: Option<String>,
}

pub(super) const ROW_COLUMNS: &str =
    "seq, subject, source_id, body, solo, sender, ts, text, attachment";

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: r.get(0)?,
        subject: r.get(1)?,
        source_id: r.get(2)?,
        body: r.get(3)?,
        // Column 4, `solo`, is kept for journals read by earlier versions: the bulk engine
        // splits a refused request itself.
        sender: r.get(5)?,
        ts: r.get(6)?,
        text: r.get(7)?,
        attachment: r.get(8)?,
    })
}

/// A line number read back from the journal.
pub(super) fn line_out(line: Option<i64>) -> Option<u64> {
    line.and_then(|l| u64::try_from(l).ok())
}
