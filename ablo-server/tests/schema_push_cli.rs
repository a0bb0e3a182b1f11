//! `ablo-server schema push` against a running server: an additive change
//! is pushed (exit 0), a breaking one is refused (exit 1, the change named)
//! until `--allow-breaking` says it is meant; `schema show` prints the
//! schema in force.

use std::path::Path;
use std::process::{Command, Output};

use ablo_runtime::{FieldDescriptor, FieldType, ModelDescriptor, SchemaDescriptor, TypeRegistry};

const KEY: &str = "sk_test_schema_cli_0123456789";

fn schema(fields: Vec<FieldDescriptor>) -> SchemaDescriptor {
    let model = ModelDescriptor {
        name: "notes".into(),
        type_name: "Note".into(),
        doc: None,
        fields,
        sync_groups: vec![],
        ts: String::new(),
        json_schema: serde_json::json!({}),
    };
    SchemaDescriptor::build("App", vec![model], TypeRegistry::default())
}

fn text() -> FieldDescriptor {
    FieldDescriptor::new("text", "text", FieldType::String)
}

fn pinned() -> FieldDescriptor {
    FieldDescriptor::new("pinned", "pinned", FieldType::optional(FieldType::Boolean))
}

fn push(dir: &Path, url: &str, schema: &SchemaDescriptor, extra: &[&str]) -> Output {
    let file = dir.join(format!("{}.json", &schema.hash[..12]));
    std::fs::write(&file, schema.to_json_pretty()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_ablo-server"))
        .args(["schema", "push"])
        .arg(&file)
        .args(["--url", url])
        .args(extra)
        .env("ABLO_API_KEY", KEY)
        .output()
        .expect("the binary runs")
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn push_refuses_breaking_changes_unless_told_and_accepts_additive_ones() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(data.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(KEY);
    let server = ablo_server::start(config).await.unwrap();
    let url = server.url();
    let dir = files.path().to_owned();

    let first = schema(vec![text()]);
    let additive = schema(vec![text(), pinned()]);
    let breaking = schema(vec![pinned()]);
    let (first_out, additive_out, refused, forced, show) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let first_out = push(&dir, &url, &first, &[]);
            let additive_out = push(&dir, &url, &additive, &[]);
            let refused = push(&dir, &url, &breaking, &[]);
            let forced = push(&dir, &url, &breaking, &["--allow-breaking"]);
            let show = Command::new(env!("CARGO_BIN_EXE_ablo-server"))
                .args(["schema", "show", "--url", &url])
                .env("ABLO_API_KEY", KEY)
                .output()
                .unwrap();
            (first_out, additive_out, refused, forced, show)
        }
    })
    .await
    .unwrap();

    assert_eq!(
        first_out.status.code(),
        Some(0),
        "{}",
        text_of(&first_out.stderr)
    );
    assert!(text_of(&first_out.stdout).contains("pushed"));

    assert_eq!(
        additive_out.status.code(),
        Some(0),
        "{}",
        text_of(&additive_out.stderr)
    );
    let printed = text_of(&additive_out.stdout);
    assert!(
        printed.contains("ok notes.pinned: optional field added"),
        "{printed}"
    );

    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        text_of(&refused.stdout)
    );
    let complaint = text_of(&refused.stderr);
    assert!(
        complaint.contains("BREAKING notes.text: field removed"),
        "{complaint}"
    );
    assert!(complaint.contains("breaking_schema_change"), "{complaint}");
    assert!(complaint.contains("--allow-breaking"), "{complaint}");

    assert_eq!(forced.status.code(), Some(0), "{}", text_of(&forced.stderr));
    let held: SchemaDescriptor = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(held, schema(vec![pinned()]));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_or_key_fails_with_exit_code_two() {
    let out = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_ablo-server"))
            .args(["schema", "push", "/nonexistent/ablo.schema.json"])
            .args(["--url", "http://127.0.0.1:1"])
            .env("ABLO_API_KEY", KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out.stderr).contains("cannot read"));
}
