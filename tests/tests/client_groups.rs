//! A client whose credential sees only some sync groups: a row that moves
//! out of them leaves its pool and its `watch` streams, and comes back when
//! it moves back in.

use std::time::Duration;

use ablo::client::{Client, MintCapability, RowChange};
use ablo::prelude::*;
use futures::StreamExt;

#[ablo::model(sync_groups = ["org:{org}"])]
pub struct Doc {
    pub org: String,
    pub title: String,
}

ablo::schema! { pub struct Docs { docs: Doc } }

const API_KEY: &str = "sk_test_client_groups_0123456789";

async fn next_change(stream: &mut ablo::client::WatchStream<Doc>) -> RowChange<Doc> {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a change in time")
        .expect("stream open")
}

// conformance: groups.row-leaves
#[tokio::test]
async fn a_row_leaving_the_clients_groups_leaves_its_pool_and_watches() {
    let dir = tempfile::tempdir().unwrap();
    let config = ablo_server::ServerConfig::new(dir.path())
        .with_addr("127.0.0.1:0".parse().unwrap())
        .with_api_key(API_KEY);
    let server = ablo_server::start(config).await.unwrap();
    ablo_tests::push_schema(&server.url(), API_KEY, &Docs::descriptor()).await;
    let admin = Client::builder(server.url(), API_KEY)
        .schema(Docs::descriptor())
        .connect()
        .await
        .unwrap();
    admin.ready().await.unwrap();
    let docs = admin.model::<Doc>();
    let created = docs
        .create(Doc {
            org: "a".into(),
            title: "plan".into(),
        })
        .await
        .unwrap();

    let minted = admin
        .capabilities()
        .mint(
            &MintCapability::user("u_1")
                .operations(["docs.read"])
                .sync_groups(["org:a"]),
        )
        .await
        .unwrap();
    let reader = Client::builder(server.url(), minted.token.unwrap())
        .connect()
        .await
        .unwrap();
    reader.ready().await.unwrap();
    let seen = reader.model::<Doc>();
    assert_eq!(seen.load(Query::new()).await.unwrap().len(), 1);
    let mut watch = seen.watch(Query::new());
    match next_change(&mut watch).await {
        RowChange::Inserted(row) => assert_eq!(row.title, "plan"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(seen.get(created.id.clone()).unwrap().title, "plan");

    docs.update(created.id.clone(), DocPatch::new().org("b").title("moved"))
        .await
        .unwrap();
    match next_change(&mut watch).await {
        RowChange::Removed(id) => assert_eq!(id, created.id),
        other => panic!("unexpected {other:?}"),
    }
    assert!(seen.get(created.id.clone()).is_none());
    assert_eq!(seen.get_count(&Query::new()), 0);

    docs.update(created.id.clone(), DocPatch::new().org("a"))
        .await
        .unwrap();
    match next_change(&mut watch).await {
        RowChange::Inserted(row) => assert_eq!(row.title, "moved"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(seen.get(created.id.clone()).unwrap().org, "a");
    server.shutdown().await.unwrap();
}
