//! A realistic Ablo schema: organisations own projects, projects hold tasks.
//! Running it prints the schema descriptor (`ablo.schema.json`) as pretty
//! JSON: `cargo run -p schema-tour`.

use ablo::prelude::*;

/// A customer organisation; every project and task lives in one.
#[ablo::model(sync_groups = ["org:{slug}"])]
pub struct Organisation {
    /// Display name.
    pub name: String,
    /// URL-safe unique handle; also names the organisation's sync group.
    #[ablo(index)]
    pub slug: String,
    pub plan: Plan,
    /// Seats bought.
    pub seats: u32,
    /// Storage used, in bytes: a 64-bit integer, a `number` in TypeScript.
    pub storage_bytes: u64,
    pub billing_address: Option<Address>,
}

/// A project inside an organisation.
#[ablo::model(sync_groups = ["org:{org_slug}", "project:{external_id}"])]
pub struct Project {
    pub org: Ref<Organisation>,
    #[ablo(index)]
    pub org_slug: String,
    pub name: String,
    /// Identifier shared with the customer's own systems.
    pub external_id: Uuid,
    pub archived: bool,
    pub tags: Vec<String>,
}

/// A unit of work, edited by people and agents alike.
#[ablo::model(sync_groups = ["org:{orgSlug}"])]
pub struct Task {
    pub title: String,
    pub status: TaskStatus,
    pub priority: Priority,
    /// Filled in by an agent once the task is understood.
    pub summary: Option<String>,
    pub project: Ref<Project>,
    pub parent: Option<Ref<Task>>,
    pub org_slug: String,
    #[ablo(index)]
    pub due: Option<Timestamp>,
    pub estimate_hours: Option<f64>,
    pub checklist: Vec<ChecklistItem>,
    /// Free-form data from integrations.
    pub metadata: Json,
    #[ablo(rename = "position")]
    pub sort_key: i64,
}

/// Where a task stands.
#[derive(ablo::Enum)]
pub enum TaskStatus {
    Todo,
    InProgress,
    #[ablo(rename = "done")]
    Finished,
}

#[derive(ablo::Enum)]
pub enum Priority {
    Low,
    Normal,
    High,
}

#[derive(ablo::Enum)]
pub enum Plan {
    Free,
    Team,
    Enterprise,
}

/// A postal address.
#[ablo::object]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country_code: String,
}

/// One line of a task's checklist.
#[ablo::object]
pub struct ChecklistItem {
    pub text: String,
    pub done: bool,
    pub done_at: Option<Timestamp>,
}

ablo::schema! {
    /// The schema of the tour.
    pub struct App {
        organisations: Organisation,
        projects: Project,
        tasks: Task,
    }
}

fn main() {
    print!("{}", App::descriptor().to_json_pretty());
}
