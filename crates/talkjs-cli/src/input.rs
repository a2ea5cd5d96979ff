//! Reading what the user gives: JSON bodies (inline, `@file`, `-`), `KEY=VALUE` pairs,
//! durations, JSON lines.

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::CliError;

/// Reads a JSON argument: inline JSON, `@path` (a file), or `-` (standard input).
pub fn read_json_arg(arg: &str, option: &str) -> Result<Value, CliError> {
    let text = read_text_arg(arg, option)?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{option}: not valid JSON: {e}")))
}

/// Reads a JSON argument (see [`read_json_arg`]) and decodes it with [`decode_object`].
pub fn read_json_object<T: DeserializeOwned>(
    arg: &str,
    known: &[&str],
    option: &str,
) -> Result<T, CliError> {
    decode_object(read_json_arg(arg, option)?, known, option)
}

/// The text of an argument that may be `@path` or `-`.
fn read_text_arg(arg: &str, option: &str) -> Result<String, CliError> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("{option}: cannot read standard input: {e}")))?;
        Ok(text)
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("{option}: cannot read {path:?}: {e}")))
    } else {
        Ok(arg.to_owned())
    }
}

/// Opens a file argument for reading (`-`: standard input).
pub fn open_input(path: &str) -> Result<Box<dyn Read>, CliError> {
    if path == "-" {
        Ok(Box::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| CliError::Usage(format!("cannot open {path:?}: {e}")))?;
        Ok(Box::new(file))
    }
}

/// Decodes a JSON object into a request body, refusing fields the body does not have (serde
/// would silently drop them, and a typo would then change nothing).
pub fn decode_object<T: DeserializeOwned>(
    value: Value,
    known: &[&str],
    what: &str,
) -> Result<T, CliError> {
    let Value::Object(object) = value else {
        return Err(CliError::Usage(format!(
            "{what} must be a JSON object, like {{\"{}\": ...}}",
            known.first().copied().unwrap_or("field")
        )));
    };
    check_fields(&object, known, what)?;
    serde_json::from_value(Value::Object(object))
        .map_err(|e| CliError::Usage(format!("{what}: {e}")))
}

fn check_fields(object: &Map<String, Value>, known: &[&str], what: &str) -> Result<(), CliError> {
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(CliError::Usage(format!(
            "{what}: unknown field {unknown:?}; the fields are {}",
            known.join(", ")
        )));
    }
    Ok(())
}

/// Parses `KEY=VALUE` (the key must not be empty; the value may be).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// Parses a duration: whole seconds (`90`), or numbers with units (`30s`, `15m`, `2h`, `1d`,
/// `1w`, combined like `1h30m`). Zero is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "expected a duration such as 30s, 15m, 2h, 1d or 1h30m (or whole seconds), got {s:?}"
        )
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return non_zero(secs).ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in s.chars() {
        if let Some(digit) = c.to_digit(10) {
            let n = number
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(digit)))
                .ok_or_else(bad)?;
            number = Some(n);
        } else {
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                _ => return Err(bad()),
            };
            let n = number.take().ok_or_else(bad)?;
            total = n
                .checked_mul(unit)
                .and_then(|secs| total.checked_add(secs))
                .ok_or_else(bad)?;
        }
    }
    if number.is_some() {
        return Err(bad());
    }
    non_zero(total).ok_or_else(bad)
}

fn non_zero(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        for bad in [
            "",
            "0",
            "0s",
            "s",
            "1x",
            "1h3",
            "-5",
            "1.5h",
            "99999999999999999999d",
            "h1",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_values() {
        assert_eq!(
            parse_key_value("plan=pro"),
            Ok(("plan".into(), "pro".into()))
        );
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(
            parse_key_value("empty="),
            Ok(("empty".into(), String::new()))
        );
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("novalue").is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let value = serde_json::json!({"nmae": "Alice"});
        let err = decode_object::<talkjs::models::UserUpsert>(value, &["name"], "--json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field \"nmae\""), "{err}");
        let err = decode_object::<talkjs::models::UserUpsert>(
            serde_json::json!([1]),
            &["name"],
            "--json",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("must be a JSON object"), "{err}");
    }

    #[test]
    fn inline_json_and_errors() {
        assert_eq!(
            read_json_arg(r#"{"a":1}"#, "--json").unwrap(),
            serde_json::json!({"a": 1})
        );
        let err = read_json_arg("{nope", "--json").unwrap_err().to_string();
        assert!(err.starts_with("--json: not valid JSON"), "{err}");
        let err = read_json_arg("@/nonexistent/file.json", "--json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
