//! Users and conversations compared field by field, participants with their settings.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use talkjs_api::models::{
    Access, Conversation, ConversationUpsert, Notify, Patch, Timestamp, User, UserUpsert,
};
use talkjs_runtime::translate::ParticipantSetting;

use super::report::{FieldMismatch, MAX_MISMATCHES, undecodable};
use crate::error::Error;
use crate::item::{ItemKind, PlannedItem};

/// JSON text of a value (lists and maps in a mismatch).
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Compares the fields the source sets (an upsert's `Set` fields; `Clear` expects none)
/// with the target's; fields the source does not set are not compared.
#[derive(Default)]
struct Fields(Vec<FieldMismatch>);

impl Fields {
    fn differ(&mut self, field: impl Into<String>, expected: String, found: String) {
        if expected != found && self.0.len() < MAX_MISMATCHES {
            self.0.push(FieldMismatch {
                field: field.into(),
                expected,
                found,
            });
        }
    }

    /// A text field: `patch` from the source, `found` in the target.
    fn text(&mut self, field: &str, patch: &Patch<String>, found: Option<&str>) {
        match patch {
            Patch::Unchanged => {}
            Patch::Clear => self.differ(field, String::new(), found.unwrap_or("").to_owned()),
            Patch::Set(v) => self.differ(field, v.clone(), found.unwrap_or("").to_owned()),
        }
    }

    /// A list or map field, compared as JSON (`None` in the target: empty).
    fn value<T: Serialize + Default>(&mut self, field: &str, patch: &Patch<T>, found: Option<&T>) {
        let empty = T::default();
        let found = json(found.unwrap_or(&empty));
        match patch {
            Patch::Unchanged => {}
            Patch::Clear => self.differ(field, json(&empty), found),
            Patch::Set(v) => self.differ(field, json(v), found),
        }
    }
}

/// The user's fields that differ: every field the source's user has and the upsert
/// carries (name, email, phone, photoUrl, welcomeMessage, locale, role, custom,
/// availabilityText).
pub(super) fn check_user(expected: &UserUpsert, found: &User) -> Vec<FieldMismatch> {
    let mut fields = Fields::default();
    fields.text("name", &expected.name, Some(&found.name));
    fields.value("email", &expected.email, found.email.as_ref());
    fields.value("phone", &expected.phone, found.phone.as_ref());
    fields.text("photoUrl", &expected.photo_url, found.photo_url.as_deref());
    fields.text(
        "welcomeMessage",
        &expected.welcome_message,
        found.welcome_message.as_deref(),
    );
    fields.text("locale", &expected.locale, found.locale.as_deref());
    fields.text("role", &expected.role, found.role.as_deref());
    fields.value("custom", &expected.custom, Some(&found.custom));
    fields.text(
        "availabilityText",
        &expected.availability_text,
        found.availability_text.as_deref(),
    );
    fields.0
}

fn participant(access: &Access, notify: &Notify) -> String {
    format!("{}, notify {}", access.as_str(), json(notify))
}

/// The conversation's fields and participants that differ: subject, photoUrl,
/// welcomeMessages, custom; each participant the source has (and the target has beyond
/// them), with access and notify, and the source's `readUntil` where it has one (the
/// target's may be later: TalkJS moves it as the user reads on).
pub(super) fn check_conversation_fields(
    expected: &ConversationUpsert,
    settings: &Settings,
    found: &Conversation,
) -> Vec<FieldMismatch> {
    let mut fields = Fields::default();
    fields.text("subject", &expected.subject, found.subject.as_deref());
    fields.text("photoUrl", &expected.photo_url, found.photo_url.as_deref());
    fields.value(
        "welcomeMessages",
        &expected.welcome_messages,
        found.welcome_messages.as_ref(),
    );
    fields.value("custom", &expected.custom, Some(&found.custom));
    let members: BTreeMap<&str, Setting> = expected
        .participants
        .iter()
        .map(|u| {
            let default = (Access::ReadWrite, Notify::All, None);
            let setting = settings.get(u.as_str()).cloned().unwrap_or(default);
            (u.as_str(), setting)
        })
        .collect();
    for (user, (access, notify, read_until)) in &members {
        match found
            .participants
            .iter()
            .find(|(id, _)| id.as_str() == *user)
        {
            None => fields.differ(
                format!("participants.{user}"),
                participant(access, notify),
                String::new(),
            ),
            Some((_, p)) => {
                fields.differ(
                    format!("participants.{user}.access"),
                    access.as_str().to_owned(),
                    p.access.as_str().to_owned(),
                );
                fields.differ(
                    format!("participants.{user}.notify"),
                    json(notify),
                    json(&p.notify),
                );
                if let Some(read_until) = read_until {
                    let millis = |t: &Timestamp| t.as_millis().to_string();
                    if p.read_until.is_none_or(|found| found < *read_until) {
                        fields.differ(
                            format!("participants.{user}.readUntil"),
                            millis(read_until),
                            p.read_until.as_ref().map(millis).unwrap_or_default(),
                        );
                    }
                }
            }
        }
    }
    for (user, p) in &found.participants {
        if !members.contains_key(user.as_str()) {
            fields.differ(
                format!("participants.{}", user.as_str()),
                String::new(),
                participant(&p.access, &p.notify),
            );
        }
    }
    fields.0
}

/// The target has no such record.
pub(super) fn absent() -> Vec<FieldMismatch> {
    vec![FieldMismatch {
        field: "exists".to_owned(),
        expected: "yes".to_owned(),
        found: "no".to_owned(),
    }]
}

/// A participant's settings as the target should have them: access, notify, and the
/// source's `readUntil` if it has one.
type Setting = (Access, Notify, Option<Timestamp>);

/// One conversation's participant settings that differ from the defaults (or have a
/// `readUntil`): user → setting.
pub(super) type Settings = BTreeMap<String, Setting>;

/// The participant settings of a plan, by conversation, as the target should have them
/// after the migration (a PATCH keeps what it does not set: the defaults the conversation
/// upsert gave).
pub(super) fn planned_settings(items: &[PlannedItem]) -> Result<HashMap<String, Settings>, Error> {
    let mut out: HashMap<String, Settings> = HashMap::new();
    for item in items.iter().filter(|i| i.kind == ItemKind::Participant) {
        let setting: ParticipantSetting =
            serde_json::from_str(&item.body).map_err(|e| undecodable("participant setting", &e))?;
        let (access, notify, read_until) = match setting {
            ParticipantSetting::Overwrite(o) => (o.access, o.notify, None),
            ParticipantSetting::Patch(p) => (p.access, p.notify, p.read_until),
        };
        out.entry(item.subject.clone()).or_default().insert(
            item.source_id.clone(),
            (
                access.unwrap_or(Access::ReadWrite),
                notify.unwrap_or(Notify::All),
                read_until,
            ),
        );
    }
    Ok(out)
}
