//! Crate-private serde helpers: the string-enum macro and lenient field decoders.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Declares a string enum whose unknown wire values are kept in an `Other(String)` variant.
///
/// Generates the enum (`#[non_exhaustive]`, with `Other(String)` appended), `as_str`,
/// `From<&str>`, `From<String>`, `Display`, `Serialize` and a lenient `Deserialize`.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The string sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(s) => s,
                }
            }

            fn known(s: &str) -> Option<Self> {
                match s {
                    $( $wire => Some(Self::$variant), )+
                    _ => None,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::known(s).unwrap_or_else(|| Self::Other(s.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self::known(&s).unwrap_or(Self::Other(s))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::util::deserialize_string_enum(d)
            }
        }
    };
}

pub(crate) use string_enum;

/// Decodes a JSON string into a string enum without allocating for known values.
pub(crate) fn deserialize_string_enum<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String> + for<'a> From<&'a str>,
{
    struct StrVisitor<T>(PhantomData<T>);

    impl<T> Visitor<'_> for StrVisitor<T>
    where
        T: From<String> + for<'a> From<&'a str>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            Ok(T::from(v))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
            Ok(T::from(v))
        }
    }

    d.deserialize_str(StrVisitor(PhantomData))
}

/// Decodes `null` (or, with `#[serde(default)]`, a missing field) as `T::default()`.
///
/// TalkJS sends `custom: null`, `readBy: null` or `participants: null` in places where an
/// empty collection means the same thing.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Collects string-like items (the argument type of list setters such as `.email([..])`).
pub(crate) fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// Expands, inside an `impl` block of a builder with a `custom` field, to the setters
/// `custom(map)` and `custom_field(key, value)`, plus `clear_custom()` when the field is a
/// [`Patch`](crate::Patch) (`custom_setters!(patch)`) rather than a plain
/// [`Custom`](crate::Custom) map (`custom_setters!(map)`).
macro_rules! custom_setters {
    (map) => {
        /// Sets the whole custom map from any list of pairs: a [`Custom`](crate::Custom)
        /// map, an array of tuples (`[("plan", "pro")]`), an iterator, ...
        #[must_use]
        pub fn custom<I, K, V>(mut self, custom: I) -> Self
        where
            I: IntoIterator<Item = (K, V)>,
            K: Into<String>,
            V: Into<String>,
        {
            let custom: $crate::Custom = custom
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect();
            self.custom = custom.into();
            self
        }

        /// Adds one custom key.
        #[must_use]
        pub fn custom_field(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self.custom.insert(key.into(), value.into());
            self
        }
    };
    (patch) => {
        $crate::util::custom_setters!(map);

        /// Removes all custom data (`"custom": null`).
        #[must_use]
        pub fn clear_custom(mut self) -> Self {
            self.custom = $crate::Patch::Clear;
            self
        }
    };
}

pub(crate) use custom_setters;

/// Expands, inside the `impl` of a builder, to a setter and a `clear_…` setter for each
/// listed [`Patch`](crate::Patch) field:
///
/// ```text
/// patch_setters! {
///     /// Sets the subject.
///     subject / clear_subject = "subject";        // Patch<String>: `impl Into<String>`
///     /// Sets the emails.
///     email[] / clear_email = "email";            // Patch<Vec<String>>: any string iterator
/// }
/// ```
macro_rules! patch_setters {
    () => {};
    (@clear $field:ident $clear:ident $wire:literal) => {
        #[doc = concat!("Removes the stored value (sends `\"", $wire, "\": null`).")]
        #[must_use]
        pub fn $clear(mut self) -> Self {
            self.$field = $crate::Patch::Clear;
            self
        }
    };
    ($(#[$meta:meta])* $field:ident[] / $clear:ident = $wire:literal; $($rest:tt)*) => {
        $(#[$meta])*
        #[must_use]
        pub fn $field<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
            self.$field = $crate::Patch::Set($crate::util::strings(values));
            self
        }

        $crate::util::patch_setters!(@clear $field $clear $wire);
        $crate::util::patch_setters!($($rest)*);
    };
    ($(#[$meta:meta])* $field:ident / $clear:ident = $wire:literal; $($rest:tt)*) => {
        $(#[$meta])*
        #[must_use]
        pub fn $field(mut self, value: impl Into<String>) -> Self {
            self.$field = $crate::Patch::Set(value.into());
            self
        }

        $crate::util::patch_setters!(@clear $field $clear $wire);
        $crate::util::patch_setters!($($rest)*);
    };
}

pub(crate) use patch_setters;
