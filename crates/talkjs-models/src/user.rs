//! Users: the [`User`] object and the [`UserUpsert`] body of `PUT /users/{id}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::{custom_setters, null_as_default, patch_setters};
use crate::{Custom, Patch, Timestamp, UserId};

/// A user as `GET /users/{id}` returns it.
///
/// Nullable fields decode `null` and a missing field alike as `None`; `custom: null`
/// decodes as an empty map. Unknown fields are ignored. Older API versions call the role
/// `configuration`: either name is read (`role` wins if both are sent); `role` is written.
///
/// ```
/// use talkjs_models::User;
///
/// let old: User = serde_json::from_str(
///     r#"{"id": "alice", "name": "Alice", "configuration": "buyer", "createdAt": 1}"#,
/// ).unwrap();
/// assert_eq!(old.role.as_deref(), Some("buyer"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "UserWire")]
#[non_exhaustive]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The display name (`""` if the server sent none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Email addresses (`null` on the wire: `None`).
    #[serde(default)]
    pub email: Option<Vec<String>>,
    /// Phone numbers in E.164 format.
    #[serde(default)]
    pub phone: Option<Vec<String>>,
    /// Avatar URL.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Header photo URL.
    #[serde(default)]
    pub header_photo_url: Option<String>,
    /// The role (configured in the dashboard), e.g. `"default"`.
    #[serde(default)]
    pub role: Option<String>,
    /// Message shown at the start of a new conversation with this user.
    #[serde(default)]
    pub welcome_message: Option<String>,
    /// Your own string data.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom: Custom,
    /// Locale, e.g. `"en-US"`.
    #[serde(default)]
    pub locale: Option<String>,
    /// Availability text shown in the UI.
    #[serde(default)]
    pub availability_text: Option<String>,
    /// Registered push tokens, keyed `"provider:tokenId"` (values kept as sent).
    #[serde(default)]
    pub push_tokens: Option<BTreeMap<String, serde_json::Value>>,
    /// When the user was created.
    pub created_at: Timestamp,
}

/// The wire form of [`User`] for decoding: the same fields plus the older name of `role`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserWire {
    id: UserId,
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default)]
    email: Option<Vec<String>>,
    #[serde(default)]
    phone: Option<Vec<String>>,
    #[serde(default)]
    photo_url: Option<String>,
    #[serde(default)]
    header_photo_url: Option<String>,
    #[serde(default)]
    role: Option<String>,
    /// The name of `role` in older API versions.
    #[serde(default)]
    configuration: Option<String>,
    #[serde(default)]
    welcome_message: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    custom: Custom,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    availability_text: Option<String>,
    #[serde(default)]
    push_tokens: Option<BTreeMap<String, serde_json::Value>>,
    created_at: Timestamp,
}

impl From<UserWire> for User {
    fn from(w: UserWire) -> Self {
        Self {
            id: w.id,
            name: w.name,
            email: w.email,
            phone: w.phone,
            photo_url: w.photo_url,
            header_photo_url: w.header_photo_url,
            role: w.role.or(w.configuration),
            welcome_message: w.welcome_message,
            custom: w.custom,
            locale: w.locale,
            availability_text: w.availability_text,
            push_tokens: w.push_tokens,
            created_at: w.created_at,
        }
    }
}

impl User {
    /// A user with the given id, name and creation time and every other field empty
    /// (for servers and tests; clients receive this type).
    pub fn new(id: impl Into<UserId>, name: impl Into<String>, created_at: Timestamp) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            email: None,
            phone: None,
            photo_url: None,
            header_photo_url: None,
            role: None,
            welcome_message: None,
            custom: Custom::new(),
            locale: None,
            availability_text: None,
            push_tokens: None,
            created_at,
        }
    }
}

/// Body of `PUT /users/{id}` (and one entry of the batch `PUT /users`): create a user or
/// **merge** changes into an existing one.
///
/// Every field is a [`Patch`]: a field you do not touch is omitted and keeps its stored
/// value; a `clear_…` setter sends `null`, which removes the value. `name` is required when
/// the user is created.
///
/// ```
/// use talkjs_models::UserUpsert;
///
/// let body = UserUpsert::new().name("Alice").clear_email().custom_field("plan", "pro");
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"name":"Alice","email":null,"custom":{"plan":"pro"}}"#
/// );
/// ```
///
/// Whether TalkJS merges `custom` key by key or replaces the whole map is not documented;
/// send the full map to be safe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserUpsert {
    /// Display name (required on creation).
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub name: Patch<String>,
    /// Email addresses (always an array, even for one).
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub email: Patch<Vec<String>>,
    /// Phone numbers (E.164).
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub phone: Patch<Vec<String>>,
    /// Avatar URL.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub photo_url: Patch<String>,
    /// Welcome message.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub welcome_message: Patch<String>,
    /// Locale, e.g. `"en-US"`.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub locale: Patch<String>,
    /// Role name configured in the dashboard (`configuration` in older API versions; that
    /// name is accepted when decoding a body).
    #[serde(skip_serializing_if = "Patch::is_unchanged", alias = "configuration")]
    pub role: Patch<String>,
    /// Your own string data.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub custom: Patch<Custom>,
    /// Push tokens keyed `"provider:tokenId"` (provider `fcm` or `apns`): `Some(true)`
    /// registers the token, `None` (`null`) unregisters it; [`Patch::Clear`] unregisters all.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub push_tokens: Patch<BTreeMap<String, Option<bool>>>,
    /// Availability text (not in the documented PUT body, but TalkJS's own anonymizing
    /// example clears it through PUT).
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub availability_text: Patch<String>,
}

/// An upsert that recreates `user` (e.g. in another app): every field the user has and an
/// upsert takes is set; the ones it does not have are left unchanged. `id`, `createdAt` and
/// `pushTokens` do not travel (the id is the request's path; device tokens belong to the app
/// they were registered with).
///
/// ```
/// use talkjs_models::{Patch, User, UserUpsert};
///
/// let user: User = serde_json::from_str(
///     r#"{"id":"alice","name":"Alice","email":["a@example.com"],"custom":{"team":"red"},"createdAt":1}"#,
/// ).unwrap();
/// let upsert = UserUpsert::from(user);
/// assert_eq!(upsert.name, Patch::Set("Alice".to_owned()));
/// assert_eq!(upsert.email, Patch::Set(vec!["a@example.com".to_owned()]));
/// assert_eq!(upsert.photo_url, Patch::Unchanged);
/// ```
impl From<User> for UserUpsert {
    fn from(user: User) -> Self {
        let set = |value: Option<String>| value.map_or(Patch::Unchanged, Patch::Set);
        let mut upsert = Self::new().name(user.name);
        upsert.email = user.email.map_or(Patch::Unchanged, Patch::Set);
        upsert.phone = user.phone.map_or(Patch::Unchanged, Patch::Set);
        upsert.photo_url = set(user.photo_url);
        upsert.welcome_message = set(user.welcome_message);
        upsert.locale = set(user.locale);
        upsert.role = set(user.role);
        upsert.availability_text = set(user.availability_text);
        if !user.custom.is_empty() {
            upsert.custom = Patch::Set(user.custom);
        }
        upsert
    }
}

impl UserUpsert {
    /// An empty update: `{}` (changes nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Patch::Set(name.into());
        self
    }

    patch_setters! {
        /// Sets the email addresses.
        email[] / clear_email = "email";
        /// Sets the phone numbers (E.164, e.g. `"+14155550100"`).
        phone[] / clear_phone = "phone";
        /// Sets the avatar URL.
        photo_url / clear_photo_url = "photoUrl";
        /// Sets the welcome message.
        welcome_message / clear_welcome_message = "welcomeMessage";
        /// Sets the locale, e.g. `"en-US"`.
        locale / clear_locale = "locale";
        /// Sets the role (a role name configured in the dashboard).
        role / clear_role = "role";
        /// Sets the availability text.
        availability_text / clear_availability_text = "availabilityText";
    }

    custom_setters!(patch);

    /// Registers (`register == true`, sends `true`) or unregisters (`false`, sends `null`)
    /// one push token, keyed `"provider:tokenId"`, e.g. `"fcm:abc"`. The API has no
    /// `false` value.
    #[must_use]
    pub fn push_token(mut self, provider_token: impl Into<String>, register: bool) -> Self {
        self.push_tokens
            .insert(provider_token.into(), register.then_some(true));
        self
    }

    /// Unregisters one push token (sends `"provider:tokenId": null`).
    #[must_use]
    pub fn remove_push_token(self, provider_token: impl Into<String>) -> Self {
        self.push_token(provider_token, false)
    }

    /// Unregisters all push tokens (`"pushTokens": null`).
    #[must_use]
    pub fn clear_push_tokens(mut self) -> Self {
        self.push_tokens = Patch::Clear;
        self
    }
}
