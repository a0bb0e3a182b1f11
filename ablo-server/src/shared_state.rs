//! What a node keeps in memory that other nodes sharing the store can
//! change: minted and revoked capabilities, the pushed schema and Data
//! Source configurations. On a shared store (PostgreSQL) each node reads
//! them again twice a second, so a revocation holds on every node within a
//! second and a capability minted on one node works on all. API keys are
//! reloaded on every store (see `reload_api_keys`).

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

const EVERY: Duration = Duration::from_millis(500);

pub(crate) async fn follow(state: Arc<AppState>) {
    let mut shutdown = state.shutdown.clone();
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let read = state
            .storage(|s| Ok((s.capabilities()?, s.schema()?, s.sources()?)))
            .await;
        let (capabilities, schema, sources) = match read {
            Ok(read) => read,
            Err(err) => {
                tracing::warn!(error = %err.message(), "reading shared state failed");
                continue;
            }
        };
        for record in capabilities {
            match state.capabilities.get(&record.id) {
                None => state.capabilities.insert(record),
                Some(known) => {
                    if let (Some(at), None) = (record.revoked_at, known.revoked_at) {
                        state.capabilities.revoke(&record.id, at);
                        tracing::info!(capability = %record.id, "revoked on another node");
                    }
                }
            }
        }
        if let Some(schema) = schema {
            let current = state.schema();
            if current.as_ref().map(|s| s.hash.as_str()) != Some(schema.hash.as_str()) {
                tracing::info!(hash = %schema.hash, "schema pushed on another node");
                *state.schema.write().expect("schema lock") = Some(Arc::new(schema));
            }
        }
        for record in sources {
            let known = state.sources.get(&record.name).map(|s| s.record());
            let changed = known.is_none_or(|known| {
                (&known.url, &known.secret, &known.models)
                    != (&record.url, &record.secret, &record.models)
            });
            if changed {
                state.sources.put(record);
            }
        }
    }
}
