//! [`CodegenError`]: everything that can go wrong while reading a schema file,
//! rendering output or touching the output directory.

use std::path::PathBuf;

/// An error of code generation. Each variant names the file or schema element
/// at fault, so the message alone tells the user what to fix.
///
/// ```
/// use ablo_codegen::{CodegenError, read_schema_json};
/// let err = read_schema_json("no/such/ablo.schema.json").unwrap_err();
/// assert!(matches!(err, CodegenError::Read { .. }));
/// assert!(err.to_string().contains("no/such/ablo.schema.json"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// A schema file could not be read.
    #[error("cannot read schema file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A schema file is not a valid `ablo.schema.json`.
    #[error("{path} is not a valid Ablo schema descriptor: {source}")]
    ParseSchema {
        /// The file.
        path: PathBuf,
        /// The JSON or shape error, with line and column.
        source: serde_json::Error,
    },

    /// A schema file was written by a version of Ablo with another layout.
    #[error(
        "{path} has descriptor format version {found}, this ablo-codegen reads version {expected}; regenerate the file with a matching Ablo version"
    )]
    UnsupportedFormatVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this crate reads.
        expected: u32,
    },

    /// A schema file's content hash does not match its content, which means
    /// it was edited by hand or mangled by a merge.
    #[error(
        "{path} was changed after it was generated (its hash {found} does not match its content, {computed}); write it again from the Rust schema instead of editing it"
    )]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// The hash stored in the file.
        found: String,
        /// The hash of the file's content.
        computed: String,
    },

    /// The descriptor contradicts itself (for example a field names an enum
    /// the descriptor does not contain) or cannot be rendered.
    #[error("invalid schema descriptor: {element}: {problem}")]
    InvalidDescriptor {
        /// The model, field, enum or object at fault (`model tasks`,
        /// `field tasks.title`).
        element: String,
        /// What is wrong with it.
        problem: String,
    },

    /// Two generated names would be the same, so one would hide the other.
    #[error(
        "name collision in generated {output}: `{name}` is produced by both {first} and {second}; rename one of them"
    )]
    NameCollision {
        /// `TypeScript`, `JSON Schema` or `OpenAPI`.
        output: &'static str,
        /// The colliding name.
        name: String,
        /// What produced it first.
        first: String,
        /// What produced it again.
        second: String,
    },

    /// A file or directory of the output could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `write`, `read`, `create directory`, `remove`, `list`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The output path exists but is not a directory.
    #[error("output path {0} exists and is not a directory")]
    OutputNotADirectory(PathBuf),
}

impl CodegenError {
    pub(crate) fn invalid(element: impl Into<String>, problem: impl Into<String>) -> Self {
        CodegenError::InvalidDescriptor {
            element: element.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        CodegenError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
