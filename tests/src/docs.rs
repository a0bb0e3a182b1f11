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
