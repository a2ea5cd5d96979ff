//! Message content blocks: the `content` array of a message ([`ContentBlock`]).
//!
//! TalkJS's "Message content" concept page describes `content` as the successor of a
//! message's `text`, `attachment` and `location` fields: a list of blocks shown top to
//! bottom, each a `text` block (rich text as a tree of nodes), a `file` block or a
//! `location` block. TalkJS's official transfer example (talkjs-examples,
//! `rest-api/transfer-data/transferData.js`) reads these blocks from listed messages and
//! sends them back on import, a file block then carrying only a `fileToken`.
//!
//! Decoding never fails on a block: a block of an unknown `type`, or a known one whose
//! fields do not have the expected types, is kept as it came in [`ContentBlock::Unknown`],
//! and fields a known block does not name are kept in its `extra` map, so a block encodes
//! back to what was received (a field that was `null` may come back missing).

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::util::string_enum;

string_enum! {
    /// What kind of media a file is (the `subtype` of a file block, and the upload's
    /// `subtype` form field). The concept page lists `video`, `image`, `audio` and `voice`.
    pub enum FileSubtype {
        /// `"image"`.
        Image => "image",
        /// `"video"`.
        Video => "video",
        /// `"audio"`.
        Audio => "audio",
        /// `"voice"`: a voice message.
        Voice => "voice",
    }
}

/// One block of a message's `content`.
///
/// ```
/// use talkjs_models::{ContentBlock, FileBlock, LocationBlock, TextBlock};
///
/// let blocks: Vec<ContentBlock> = serde_json::from_value(serde_json::json!([
///     {"type": "text", "children": ["Hi ", {"type": "bold", "children": ["there"]}]},
///     {"type": "file", "url": "https://example.com/a.png", "filename": "a.png", "size": 3,
///      "subtype": "image", "width": 640, "height": 480},
///     {"type": "location", "latitude": 51.48, "longitude": -3.18},
///     {"type": "poll", "question": "Lunch?"}
/// ])).unwrap();
/// let ContentBlock::Text(text) = &blocks[0] else { panic!() };
/// assert_eq!(text.plain_text(), "Hi there");
/// let ContentBlock::File(file) = &blocks[1] else { panic!() };
/// assert_eq!(file.width, Some(640));
/// assert!(matches!(&blocks[2], ContentBlock::Location(l) if l.latitude == 51.48));
/// // A block type this crate does not know is kept as it came.
/// assert!(matches!(&blocks[3], ContentBlock::Unknown(v) if v["question"] == "Lunch?"));
///
/// // On import, a file block carries the token of an upload.
/// let import = ContentBlock::from(FileBlock::from_token("tok_1"));
/// assert_eq!(serde_json::to_string(&import).unwrap(), r#"{"type":"file","fileToken":"tok_1"}"#);
/// # let _ = (TextBlock::plain("x"), LocationBlock::new(0.0, 0.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ContentBlock {
    /// `"type": "text"`: formatted text.
    Text(TextBlock),
    /// `"type": "file"`: an attached file.
    File(FileBlock),
    /// `"type": "location"`: a point on the map.
    Location(LocationBlock),
    /// A block of another `type`, or one whose fields do not decode as expected, kept
    /// verbatim (it encodes back to the same JSON).
    Unknown(Value),
}

impl ContentBlock {
    /// The block's `type` (`"text"`, `"file"`, `"location"`, or an unknown block's own),
    /// if it has one.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Self::Text(_) => Some("text"),
            Self::File(_) => Some("file"),
            Self::Location(_) => Some("location"),
            Self::Unknown(v) => v.get("type").and_then(Value::as_str),
        }
    }

    /// Decodes a block from JSON; never fails (what does not decode is
    /// [`Unknown`](Self::Unknown)).
    pub fn from_value(value: Value) -> Self {
        let Value::Object(map) = value else {
            return Self::Unknown(value);
        };
        let typed = match map.get("type").and_then(Value::as_str) {
            Some("text") => typed_block(&map).map(Self::Text),
            Some("file") => typed_block(&map).map(Self::File),
            Some("location") => typed_block(&map).map(Self::Location),
            _ => None,
        };
        typed.unwrap_or(Self::Unknown(Value::Object(map)))
    }
}

/// The fields of a known block without its `type`, decoded into `T`, if they decode.
fn typed_block<T: DeserializeOwned>(map: &Map<String, Value>) -> Option<T> {
    let mut fields = map.clone();
    fields.remove("type");
    serde_json::from_value(Value::Object(fields)).ok()
}

/// A block with its `type` tag first.
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    block: &'a T,
}

impl Serialize for ContentBlock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(block) => Tagged {
                kind: "text",
                block,
            }
            .serialize(s),
            Self::File(block) => Tagged {
                kind: "file",
                block,
            }
            .serialize(s),
            Self::Location(block) => Tagged {
                kind: "location",
                block,
            }
            .serialize(s),
            Self::Unknown(value) => value.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Self::from_value)
    }
}

impl From<TextBlock> for ContentBlock {
    fn from(block: TextBlock) -> Self {
        Self::Text(block)
    }
}

impl From<FileBlock> for ContentBlock {
    fn from(block: FileBlock) -> Self {
        Self::File(block)
    }
}

impl From<LocationBlock> for ContentBlock {
    fn from(block: LocationBlock) -> Self {
        Self::Location(block)
    }
}

/// A `text` block: formatted text as a tree of nodes.
///
/// Each child is a plain string or a node object (`{"type": "bold", "children": [...]}`,
/// links, mentions, bullet lists, code spans, …); the nodes are kept as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TextBlock {
    /// The nodes: strings and node objects.
    #[serde(default)]
    pub children: Vec<Value>,
    /// Fields of the block this crate does not name, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TextBlock {
    /// A block of these nodes.
    pub fn new(children: Vec<Value>) -> Self {
        Self {
            children,
            extra: Map::new(),
        }
    }

    /// A block of one plain string.
    pub fn plain(text: impl Into<String>) -> Self {
        Self::new(vec![Value::String(text.into())])
    }

    /// The text without formatting: every string in the tree, in order (a node's `text`
    /// field is used where it has no `children`, as link or mention nodes may).
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            push_text(child, &mut out);
        }
        out
    }
}

/// Appends the strings of a text node to `out`.
fn push_text(node: &Value, out: &mut String) {
    match node {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => items.iter().for_each(|n| push_text(n, out)),
        Value::Object(map) => match map.get("children") {
            Some(children) => push_text(children, out),
            None => {
                if let Some(Value::String(s)) = map.get("text") {
                    out.push_str(s);
                }
            }
        },
        _ => {}
    }
}

/// A `file` block: an attached file.
///
/// In a listed message it has the file's `url`, `filename` and `size` (and, depending on
/// the file, `subtype`, `width`, `height`, `duration`) and a `fileToken` that sends the
/// same file again. To attach a file on import, a block with only a `fileToken` (from an
/// upload) is enough: [`FileBlock::from_token`]. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FileBlock {
    /// Where to download the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The file's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// What kind of media it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<FileSubtype>,
    /// Width in pixels (images, videos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    /// Height in pixels (images, videos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Duration in seconds (audio, video, voice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// The token that attaches this file to a message (from an upload, or from a listed
    /// message's block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_token: Option<String>,
    /// Fields of the block this crate does not name, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl FileBlock {
    /// A block that attaches an uploaded file by its token (`{"type": "file", "fileToken":
    /// …}`), as TalkJS's transfer example imports files.
    pub fn from_token(token: impl Into<String>) -> Self {
        Self {
            file_token: Some(token.into()),
            ..Self::default()
        }
    }
}

/// A `location` block: a point on the map, in degrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LocationBlock {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Fields of the block this crate does not name, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LocationBlock {
    /// The point at `latitude`, `longitude` (degrees).
    pub fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
            extra: Map::new(),
        }
    }
}
