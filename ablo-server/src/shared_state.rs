//! What a node keeps in memory that other nodes sharing the store can
//! change: minted and revoked capabilities, the pushed schema and Data
//! Source configurations. On a shared store (PostgreSQL) each node reads
//! them again twice a second, so a revocation holds on every node within a
//! second and a capability minted on one node works on all. API keys are
//! reloaded on every store (see `reload_api_keys`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::capability::Capabilities;
use crate::schema::SchemaSlot;
use crate::sources::Sources;
use crate::store::Store;

const EVERY: Duration = Duration::from_millis(500);

/// Reads the shared state from `store` every half second into the node's
/// capabilities, schema and sources, until shutdown.
pub(crate) async fn follow(
    store: Store,
    capabilities: Arc<Capabilities>,
    schema_slot: Arc<SchemaSlot>,
    sources: Arc<Sources>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let read = store
            .call(|s| Ok((s.capabilities()?, s.schema()?, s.sources()?)))
            .await;
        let (stored_capabilities, stored_schema, stored_sources) = match read {
            Ok(read) => read,
            Err(err) => {
                tracing::warn!(error = %err, "reading shared state failed");
                continue;
            }
        };
        for record in stored_capabilities {
            match capabilities.get(&record.id) {
                None => capabilities.insert(record),
                Some(known) => {
                    if let (Some(at), None) = (record.revoked_at, known.revoked_at) {
                        capabilities.revoke(&record.id, at);
                        tracing::info!(capability = %record.id, "revoked on another node");
                    }
                }
            }
        }
        if let Some(schema) = stored_schema {
            let current = schema_slot.get();
            if current.as_ref().map(|s| s.hash.as_str()) != Some(schema.hash.as_str()) {
                tracing::info!(hash = %schema.hash, "schema pushed on another node");
                schema_slot.set(Arc::new(schema));
            }
        }
        for record in stored_sources {
            let known = sources.get(&record.name).map(|s| s.record());
            let changed = known.is_none_or(|known| {
                (&known.url, &known.secret, &known.models)
                    != (&record.url, &record.secret, &record.models)
            });
            if changed {
                sources.put(record);
            }
        }
    }
}
