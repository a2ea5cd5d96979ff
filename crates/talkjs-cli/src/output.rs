//! Writing results: JSON, JSON lines or tables, to standard output.

use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

use serde::Serialize;
use serde_json::Value;

use crate::cli::Format;
use crate::error::CliError;

/// The widest a table cell of a list gets (longer values are cut with `…`).
const MAX_CELL: usize = 48;

/// A column of a list table: a header and the field it shows (`a.b` for a nested field).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// The field, e.g. `name` or `lastMessage.text`.
    pub path: &'static str,
}

const fn col(header: &'static str, path: &'static str) -> Column {
    Column { header, path }
}

/// The columns of a user list.
pub const USER_COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("NAME", "name"),
    col("EMAIL", "email"),
    col("ROLE", "role"),
    col("CREATED", "createdAt"),
];

/// The columns of a conversation list.
pub const CONVERSATION_COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("SUBJECT", "subject"),
    col("PARTICIPANTS", "participants"),
    col("LAST MESSAGE", "lastMessage.text"),
    col("CREATED", "createdAt"),
];

/// The columns of a message list.
pub const MESSAGE_COLUMNS: &[Column] = &[
    col("ID", "id"),
    col("CREATED", "createdAt"),
    col("TYPE", "type"),
    col("SENDER", "senderId"),
    col("TEXT", "text"),
];

/// The columns of a list of sent message ids.
pub const SENT_COLUMNS: &[Column] = &[col("ID", "id")];

/// Standard output, in the format asked for (or the default for where it goes).
pub struct Output {
    explicit: Option<Format>,
    terminal: bool,
    out: BufWriter<Stdout>,
}

impl Output {
    /// Output to standard output; `explicit` is the `--output` option.
    pub fn new(explicit: Option<Format>) -> Self {
        Self {
            explicit,
            terminal: io::stdout().is_terminal(),
            out: BufWriter::new(io::stdout()),
        }
    }

    /// The format asked for with `--output`, if any.
    pub fn explicit(&self) -> Option<Format> {
        self.explicit
    }

    /// Whether standard output is a terminal.
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// The format of one object: table on a terminal, else JSON.
    pub fn object_format(&self) -> Format {
        self.explicit.unwrap_or(if self.terminal {
            Format::Table
        } else {
            Format::Json
        })
    }

    /// The format of a list: table on a terminal, else JSON lines.
    pub fn list_format(&self) -> Format {
        self.explicit.unwrap_or(if self.terminal {
            Format::Table
        } else {
            Format::Jsonl
        })
    }

    /// Writes one object.
    pub fn object<T: Serialize>(&mut self, value: &T) -> Result<(), CliError> {
        match self.object_format() {
            Format::Json => self.json(value, true),
            Format::Jsonl => self.json(value, false),
            Format::Table => {
                let value = to_value(value)?;
                let text = key_value_table(&value);
                self.raw(&text)
            }
        }
    }

    /// Writes one JSON value, pretty or compact, and a newline.
    fn json<T: Serialize + ?Sized>(&mut self, value: &T, pretty: bool) -> Result<(), CliError> {
        let written = if pretty {
            serde_json::to_writer_pretty(&mut self.out, value)
        } else {
            serde_json::to_writer(&mut self.out, value)
        };
        written.map_err(|e| json_error(e, "the output"))?;
        self.raw("\n")
    }

    /// Writes text as it is.
    pub fn raw(&mut self, text: &str) -> Result<(), CliError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| CliError::write(e, "the output"))
    }

    /// Starts a list.
    pub fn list(&mut self, columns: &'static [Column]) -> ListWriter<'_> {
        ListWriter {
            format: self.list_format(),
            out: self,
            columns,
            collected: Vec::new(),
            count: 0,
        }
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.out
            .flush()
            .map_err(|e| CliError::write(e, "the output"))
    }
}

/// A list being written: JSON lines go out item by item; JSON arrays and tables are written
/// by [`finish`](Self::finish).
pub struct ListWriter<'a> {
    out: &'a mut Output,
    format: Format,
    columns: &'static [Column],
    collected: Vec<Value>,
    count: usize,
}

impl ListWriter<'_> {
    /// Adds an item.
    pub fn item<T: Serialize>(&mut self, item: &T) -> Result<(), CliError> {
        self.count += 1;
        match self.format {
            Format::Jsonl => self.out.json(item, false),
            Format::Json | Format::Table => {
                self.collected.push(to_value(item)?);
                Ok(())
            }
        }
    }

    /// How many items were added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The format of the list.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes what was collected.
    pub fn finish(self) -> Result<(), CliError> {
        match self.format {
            Format::Jsonl => Ok(()),
            Format::Json => self.out.json(&self.collected, true),
            Format::Table => {
                let text = list_table(self.columns, &self.collected);
                self.out.raw(&text)
            }
        }
    }
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, CliError> {
    serde_json::to_value(value).map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))
}

/// A serde_json error while writing to `what`: an I/O error (a broken pipe among them) or an
/// encoding problem.
pub fn json_error(error: serde_json::Error, what: &str) -> CliError {
    if error.is_io() {
        CliError::write(io::Error::from(error), what)
    } else {
        CliError::Failed(format!("cannot encode JSON: {error}"))
    }
}

/// A table of one object: `key  value` lines.
pub fn key_value_table(value: &Value) -> String {
    let Value::Object(map) = value else {
        return format!("{}\n", cell(None, value));
    };
    let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut text = String::new();
    // The id first, then the other fields (alphabetically).
    let id = map.get_key_value("id");
    for (key, v) in id.into_iter().chain(map.iter().filter(|(k, _)| *k != "id")) {
        let _ = writeln!(text, "{key:<width$}  {}", cell(Some(key), v));
    }
    text
}

/// A table of a list, with a header line; `(none)` for an empty list.
pub fn list_table(columns: &[Column], rows: &[Value]) -> String {
    if rows.is_empty() {
        return "(none)\n".to_owned();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    let key = c.path.rsplit('.').next();
                    let value = lookup(row, c.path).unwrap_or(&Value::Null);
                    truncate(&list_cell(key, value), MAX_CELL)
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([c.header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    let headers: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    for line in std::iter::once(&headers).chain(&cells) {
        let mut out = String::new();
        for (i, value) in line.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let _ = write!(out, "{value:<width$}", width = widths[i]);
        }
        text.push_str(out.trim_end());
        text.push('\n');
    }
    text
}

fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// A list cell: objects show their keys (e.g. the participants' ids).
fn list_cell(key: Option<&str>, value: &Value) -> String {
    match value {
        Value::Object(map) => sanitize(&map.keys().cloned().collect::<Vec<_>>().join(", ")),
        other => cell(key, other),
    }
}

/// A cell: strings as they are, lists of strings joined, times (`…At` fields) as UTC dates,
/// other values as compact JSON; never control characters.
fn cell(key: Option<&str>, value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => sanitize(s),
        Value::Number(n) => match (key, n.as_u64()) {
            (Some(k), Some(ms)) if k.ends_with("At") || k == "timestamp" => format_millis(ms),
            _ => n.to_string(),
        },
        Value::Array(items) if items.iter().all(Value::is_string) => sanitize(
            &items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        other => sanitize(&other.to_string()),
    }
}

/// Replaces control characters (newlines, escape sequences, ...) with spaces.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_millis(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_millis(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_millis(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        // Does not panic at the end of the range.
        let _ = format_millis(u64::MAX);
    }

    #[test]
    fn list_tables() {
        let rows = [
            json!({"id": "alice", "name": "Alice", "email": ["a@x.com", "b@x.com"], "createdAt": 0}),
            json!({"id": "bob", "name": "Bob\n\u{1b}[31mEvil", "email": null, "role": "admin", "createdAt": 0}),
        ];
        let text = list_table(USER_COLUMNS, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ID     NAME"), "{text}");
        assert!(lines[1].contains("a@x.com, b@x.com"), "{text}");
        assert!(lines[2].contains("Bob  [31mEvil"), "{text}");
        assert!(!text.contains('\u{1b}'));
        assert_eq!(list_table(USER_COLUMNS, &[]), "(none)\n");
    }

    #[test]
    fn nested_columns_and_truncation() {
        let long = "x".repeat(100);
        let rows = [
            json!({"id": "c", "participants": {"alice": {}, "bob": {}}, "lastMessage": {"text": long}}),
        ];
        let text = list_table(CONVERSATION_COLUMNS, &rows);
        assert!(text.contains("alice, bob"), "{text}");
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn key_values() {
        let text = key_value_table(&json!({"id": "alice", "createdAt": 0, "custom": {"a": "b"}}));
        assert_eq!(
            text,
            "id         alice\ncreatedAt  1970-01-01 00:00:00 UTC\ncustom     {\"a\":\"b\"}\n"
        );
    }
}
