//! The guides' Rust blocks, compiled as doctests so a block that names a
//! field, method or type that does not exist fails `cargo test`. Each guide
//! is included as the documentation of one module below; a block's hidden
//! lines (`# ...`) declare the schema of the README (`docs_schema!`) and the
//! variables the block uses.

/// The README's schema (`Task`, `Project`, `TaskStatus`, `App`), for the
/// guides' blocks. Not for use outside this crate's doctests.
///
/// ```
/// ablo_tests::docs_schema!();
/// assert_eq!(App::descriptor().models.len(), 2);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! docs_schema {
    () => {
        #[allow(unused_imports)]
        use ablo::prelude::*;

        /// A unit of work.
        #[ablo::model]
        pub struct Task {
            pub title: String,
            pub status: TaskStatus,
            pub summary: Option<String>,
            pub project: Ref<Project>,
            #[ablo(index)]
            pub due: Option<Timestamp>,
        }

        #[ablo::model(name = "projects", sync_groups = ["org:{org_id}"])]
        pub struct Project {
            pub org_id: String,
            pub name: String,
        }

        #[derive(ablo::Enum)]
        pub enum TaskStatus {
            Todo,
            Doing,
            Done,
        }

        ablo::schema! { pub struct App { tasks: Task, projects: Project } }
    };
}

#[doc = include_str!("../../docs/schema-dsl.md")]
pub mod schema_dsl_md {}

#[doc = include_str!("../../docs/client.md")]
pub mod client_md {}

#[doc = include_str!("../../docs/coordination.md")]
pub mod coordination_md {}

#[doc = include_str!("../../README.md")]
pub mod readme_md {}

// Its freshness guards are `#[test]` functions for the user's crate; here
// they are only compiled.
#[allow(clippy::test_attr_in_doctest)]
#[doc = include_str!("../../docs/codegen.md")]
pub mod codegen_md {}

#[doc = include_str!("../../docs/agents.md")]
pub mod agents_md {}

#[doc = include_str!("../../docs/auth.md")]
pub mod auth_md {}

#[doc = include_str!("../../docs/data-sources.md")]
pub mod data_sources_md {}

/// The guides included above, by file name.
pub const INCLUDED: &[&str] = &[
    "schema-dsl.md",
    "client.md",
    "coordination.md",
    "codegen.md",
    "agents.md",
    "auth.md",
    "data-sources.md",
];

#[cfg(test)]
mod tests {
    /// Every guide with a Rust block is compiled above, and no block opts
    /// out with `ignore`: a new guide or an ignored block fails here.
    #[test]
    fn every_guide_with_rust_blocks_is_included_and_none_is_ignored() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        let mut missing = Vec::new();
        let mut ignored = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("docs/") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("a guide");
            let fences: Vec<&str> = text
                .lines()
                .filter(|l| l.trim_start().starts_with("```rust"))
                .collect();
            if fences.iter().any(|f| f.contains("ignore")) {
                ignored.push(name.clone());
            }
            if !fences.is_empty() && !super::INCLUDED.contains(&name.as_str()) {
                missing.push(name);
            }
        }
        assert!(
            missing.is_empty(),
            "guides with Rust blocks not in tests/src/docs.rs: {missing:?}"
        );
        assert!(
            ignored.is_empty(),
            "guides with `rust,ignore` blocks: {ignored:?}"
        );
    }
}
