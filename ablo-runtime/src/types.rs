//! The value types rows are made of: typed ids and references, sync ids,
//! timestamps and the [`Row`] wrapper the server returns.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Any JSON value; a field of this type accepts whatever JSON the client sends.
///
/// ```
/// use ablo_runtime::Json;
/// let v: Json = serde_json::json!({"anything": [1, 2, 3]});
/// assert!(v.is_object());
/// ```
pub type Json = serde_json::Value;

/// A UUID, sent as its hyphenated text form.
///
/// ```
/// use ablo_runtime::Uuid;
/// let u = Uuid::nil();
/// assert_eq!(u.to_string(), "00000000-0000-0000-0000-000000000000");
/// ```
pub use uuid::Uuid;

/// Implements `ts_rs::TS` for a type that travels as a plain JSON string or
/// number and has no declaration of its own.
macro_rules! ts_primitive {
    ($ty:ident < $param:ident >, $ts:literal) => {
        impl<$param: ?Sized> ts_rs::TS for $ty<$param> {
            type WithoutGenerics = $ty<ts_rs::Dummy>;
            type OptionInnerType = Self;
            fn name(_: &ts_rs::Config) -> String {
                $ts.to_owned()
            }
            fn inline(_: &ts_rs::Config) -> String {
                $ts.to_owned()
            }
        }
    };
    ($ty:ident, $ts:literal) => {
        impl ts_rs::TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &ts_rs::Config) -> String {
                $ts.to_owned()
            }
            fn inline(_: &ts_rs::Config) -> String {
                $ts.to_owned()
            }
        }
    };
}

/// Generates the marker-typed string wrappers [`Id`] and [`Ref`], which share
/// every trait impl but mean different things.
macro_rules! typed_string_id {
    ($(#[$doc:meta])* $name:ident, $schema_name:literal) => {
        $(#[$doc])*
        pub struct $name<T: ?Sized> {
            raw: String,
            marker: PhantomData<fn() -> T>,
        }

        impl<T: ?Sized> $name<T> {
            /// Wraps an existing id string.
            pub fn new(raw: impl Into<String>) -> Self {
                $name { raw: raw.into(), marker: PhantomData }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.raw
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.raw
            }
        }

        impl<T: ?Sized> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name::new(self.raw.clone())
            }
        }
        impl<T: ?Sized> PartialEq for $name<T> {
            fn eq(&self, other: &Self) -> bool {
                self.raw == other.raw
            }
        }
        impl<T: ?Sized> Eq for $name<T> {}
        impl<T: ?Sized> PartialOrd for $name<T> {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl<T: ?Sized> Ord for $name<T> {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.raw.cmp(&other.raw)
            }
        }
        impl<T: ?Sized> Hash for $name<T> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.raw.hash(state)
            }
        }
        impl<T: ?Sized> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.raw, f)
            }
        }
        impl<T: ?Sized> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.raw)
            }
        }
        impl<T: ?Sized> From<&str> for $name<T> {
            fn from(raw: &str) -> Self {
                $name::new(raw)
            }
        }
        impl<T: ?Sized> From<String> for $name<T> {
            fn from(raw: String) -> Self {
                $name::new(raw)
            }
        }
        impl<T: ?Sized> AsRef<str> for $name<T> {
            fn as_ref(&self) -> &str {
                &self.raw
            }
        }
        impl<T: ?Sized> Serialize for $name<T> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.raw)
            }
        }
        impl<'de, T: ?Sized> Deserialize<'de> for $name<T> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                if raw.is_empty() {
                    return Err(D::Error::custom("an id must not be empty"));
                }
                Ok($name::new(raw))
            }
        }
        impl<T: ?Sized> JsonSchema for $name<T> {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($schema_name)
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({"type": "string", "minLength": 1})
            }
        }
        ts_primitive!($name<T>, "string");
    };
}

typed_string_id!(
    /// The id of a row of model `T`: an opaque, non-empty string.
    ///
    /// ```
    /// use ablo_runtime::Id;
    /// struct Task;
    /// let id: Id<Task> = Id::new("task_123");
    /// assert_eq!(id.as_str(), "task_123");
    /// assert_eq!(serde_json::to_string(&id).unwrap(), "\"task_123\"");
    /// let fresh: Id<Task> = Id::generate();
    /// assert_ne!(fresh, id);
    /// ```
    Id,
    "Id"
);

typed_string_id!(
    /// A typed foreign key: the id of a row of model `T`, stored in a field.
    ///
    /// A field `project: Ref<Project>` is called `projectId` on the wire and in
    /// TypeScript, where it is a `string`.
    ///
    /// ```
    /// use ablo_runtime::{Id, Ref};
    /// struct Project;
    /// let id: Id<Project> = Id::new("proj_1");
    /// let r: Ref<Project> = Ref::from(id.clone());
    /// assert_eq!(r.id(), id);
    /// ```
    Ref,
    "Ref"
);

impl<T: ?Sized> Id<T> {
    /// A new, time-ordered, globally unique id (UUID version 7).
    pub fn generate() -> Self {
        Id::new(Uuid::now_v7().to_string())
    }
}

impl<T: ?Sized> Ref<T> {
    /// The referenced row's id.
    pub fn id(&self) -> Id<T> {
        Id::new(self.raw.clone())
    }
}

impl<T: ?Sized> From<Id<T>> for Ref<T> {
    fn from(id: Id<T>) -> Self {
        Ref::new(id.raw)
    }
}

impl<T: ?Sized> From<&Id<T>> for Ref<T> {
    fn from(id: &Id<T>) -> Self {
        Ref::new(id.raw.clone())
    }
}

/// A reference to a row you hold: `task.project = Ref::from(&project)`
/// (or `project.to_ref()`).
///
/// ```
/// use ablo_runtime::{Id, Ref, Row, SyncId, Timestamp};
/// #[derive(Clone)]
/// struct Project { name: String }
/// let now = Timestamp::now();
/// let project = Row { id: Id::<Project>::new("p1"), stamp: SyncId(3), created_at: now,
///     updated_at: now, data: Project { name: "Apollo".into() } };
/// let r: Ref<Project> = Ref::from(&project);
/// assert_eq!(r.as_str(), "p1");
/// assert_eq!(project.to_ref(), r);
/// ```
impl<T> From<&Row<T>> for Ref<T> {
    fn from(row: &Row<T>) -> Self {
        Ref::new(row.id.raw.clone())
    }
}

impl<T> Row<T> {
    /// A [`Ref`] to this row, for a field of another model:
    /// `Task { project: project.to_ref(), .. }`.
    ///
    /// ```
    /// use ablo_runtime::{Id, Ref, Row, SyncId, Timestamp};
    /// let now = Timestamp::now();
    /// let row = Row { id: Id::<()>::new("r1"), stamp: SyncId(1), created_at: now,
    ///     updated_at: now, data: () };
    /// let r: Ref<()> = row.to_ref();
    /// assert_eq!(r.id(), row.id);
    /// ```
    pub fn to_ref(&self) -> Ref<T> {
        Ref::from(self)
    }
}

/// A position in the project's commit order. Every accepted commit takes the
/// next sync id; a row's `stamp` is the sync id of its last change, and a
/// reader that has seen sync id `n` has seen every commit up to `n`.
///
/// ```
/// use ablo_runtime::SyncId;
/// assert_eq!(SyncId(7).next(), SyncId(8));
/// assert_eq!(serde_json::to_string(&SyncId(7)).unwrap(), "7");
/// ```
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(transparent)]
pub struct SyncId(pub u64);

impl SyncId {
    /// Before any commit.
    pub const ZERO: SyncId = SyncId(0);

    /// The sync id after this one.
    pub fn next(self) -> SyncId {
        SyncId(self.0 + 1)
    }
}

impl fmt::Display for SyncId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl JsonSchema for SyncId {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("SyncId")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": 0})
    }
}
ts_primitive!(SyncId, "number");

/// An instant in UTC with millisecond precision, sent as RFC 3339 text
/// (`2026-11-25T15:37:52.123Z`).
///
/// ```
/// use ablo_runtime::Timestamp;
/// let t = Timestamp::from_millis(1_700_000_000_123).unwrap();
/// assert_eq!(serde_json::to_string(&t).unwrap(), "\"2023-11-14T22:13:20.123Z\"");
/// let back: Timestamp = serde_json::from_str("\"2023-11-14T22:13:20.123Z\"").unwrap();
/// assert_eq!(back, t);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Timestamp {
        Timestamp::from_millis(Utc::now().timestamp_millis()).expect("now is in range")
    }

    /// From milliseconds since the Unix epoch; `None` when out of range.
    pub fn from_millis(millis: i64) -> Option<Timestamp> {
        Utc.timestamp_millis_opt(millis).single().map(Timestamp)
    }

    /// Milliseconds since the Unix epoch.
    pub fn as_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Parses RFC 3339 text in any offset; the result is in UTC, truncated to
    /// milliseconds.
    ///
    /// ```
    /// use ablo_runtime::Timestamp;
    /// let t = Timestamp::parse("2026-01-01T01:00:00+01:00").unwrap();
    /// assert_eq!(t.to_string(), "2026-01-01T00:00:00.000Z");
    /// assert!(Timestamp::parse("yesterday").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Timestamp, chrono::ParseError> {
        let parsed = DateTime::parse_from_rfc3339(text)?;
        Ok(Timestamp::from_millis(parsed.timestamp_millis()).expect("parsed time is in range"))
    }

    /// The underlying `chrono` value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Timestamp::from_millis(value.timestamp_millis()).expect("in range")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        Timestamp::parse(&text)
            .map_err(|e| D::Error::custom(format!("expected an RFC 3339 timestamp: {e}")))
    }
}

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}
ts_primitive!(Timestamp, "string");

/// A stored row of model `T`: the server's envelope around the model's data.
/// On the wire it is one flat JSON object: `id`, `stamp`, `createdAt`,
/// `updatedAt` and the model's fields. Derefs to `T`.
///
/// ```
/// use ablo_runtime::{Row, SyncId};
/// #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
/// struct Note { text: String }
/// let json = r#"{"id":"n1","stamp":3,"createdAt":"2026-01-01T00:00:00.000Z",
///                "updatedAt":"2026-01-01T00:00:00.000Z","text":"hi"}"#;
/// let row: Row<Note> = serde_json::from_str(json).unwrap();
/// assert_eq!(row.stamp, SyncId(3));
/// assert_eq!(row.text, "hi");
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Row<T> {
    /// The row's id.
    pub id: Id<T>,
    /// Sync id of the row's last change.
    pub stamp: SyncId,
    /// When the row was created.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
    /// The model's fields.
    #[serde(flatten)]
    pub data: T,
}

impl<T> Deref for Row<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.data
    }
}

impl<T> DerefMut for Row<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Task;

    #[test]
    fn ids_reject_empty_strings() {
        assert!(serde_json::from_str::<Id<Task>>("\"\"").is_err());
        assert!(serde_json::from_str::<Ref<Task>>("\"\"").is_err());
        assert!(serde_json::from_str::<Id<Task>>("12").is_err());
    }

    #[test]
    fn generated_ids_sort_by_creation_time() {
        let a: Id<Task> = Id::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b: Id<Task> = Id::generate();
        assert!(a < b);
    }

    #[test]
    fn timestamps_reject_non_rfc3339() {
        let err = serde_json::from_str::<Timestamp>("\"2026-13-01\"").unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
        assert!(serde_json::from_str::<Timestamp>("1700000000").is_err());
    }

    #[test]
    fn ts_names_are_wire_types() {
        use ts_rs::{Config, TS};
        let cfg = Config::new();
        assert_eq!(<Id<Task> as TS>::name(&cfg), "string");
        assert_eq!(<Ref<Task> as TS>::name(&cfg), "string");
        assert_eq!(<Timestamp as TS>::name(&cfg), "string");
        assert_eq!(<SyncId as TS>::name(&cfg), "number");
    }
}
