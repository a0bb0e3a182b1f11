//! Log retention: every `log_compact_interval` the server cuts the sync log
//! to the newest `log_retention_commits` commits and to those younger than
//! `log_retention`, whichever keeps less. The cut is the log's floor
//! (stored, so it survives restarts): catch-up from a cursor at or above it
//! replays the log, an older cursor gets a snapshot of the current rows.
//! Rows and audit entries are not touched; idempotency and Data Source
//! records expire by their own retention (see [`ago`]).

use std::time::Duration;

use ablo_runtime::{SyncId, Timestamp};
use tokio::sync::watch;

use crate::store::Store;

/// The time `age` before now (`None` when that is before the epoch): what
/// is recorded earlier has expired.
///
/// ```ignore
/// assert!(ago(Duration::from_secs(60)).unwrap() < Timestamp::now());
/// ```
pub(crate) fn ago(age: Duration) -> Option<Timestamp> {
    Timestamp::from_millis(
        Timestamp::now().as_millis() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX),
    )
}

/// Where the log is cut for the given head, retention settings and the
/// newest head committed before the age limit.
///
/// ```ignore
/// assert_eq!(cut(SyncId(100), Some(10), None), SyncId(90));
/// ```
fn cut(head: SyncId, keep_commits: Option<u64>, too_old_through: Option<SyncId>) -> SyncId {
    let by_count = keep_commits.map_or(SyncId::ZERO, |keep| SyncId(head.0.saturating_sub(keep)));
    by_count.max(too_old_through.unwrap_or(SyncId::ZERO))
}

/// Cuts the log every `interval` to the newest `keep` commits and those
/// younger than `age` (no limit for `None`), counting removed deltas in
/// `compacted`, until shutdown.
pub(crate) async fn run(
    store: Store,
    age: Option<Duration>,
    keep: Option<u64>,
    interval: Duration,
    compacted: prometheus::IntCounter,
    mut shutdown: watch::Receiver<bool>,
) {
    if age.is_none() && keep.is_none() {
        return;
    }
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let before = age.and_then(ago);
        let cut_log = store
            .call(move |s| {
                let head = s.head()?;
                let too_old = before.map(|at| s.head_before(at)).transpose()?;
                let through = cut(head, keep, too_old);
                Ok((through, s.compact_log(through)?))
            })
            .await;
        match cut_log {
            Ok((_, 0)) => {}
            Ok((through, removed)) => {
                compacted.inc_by(removed as u64);
                tracing::info!(%through, removed, "sync log compacted");
            }
            Err(err) => tracing::warn!(error = %err, "log compaction failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_keeps_the_lesser_of_both_limits() {
        assert_eq!(cut(SyncId(100), Some(10), None), SyncId(90));
        assert_eq!(cut(SyncId(100), Some(10), Some(SyncId(95))), SyncId(95));
        assert_eq!(cut(SyncId(100), None, Some(SyncId(40))), SyncId(40));
        assert_eq!(cut(SyncId(5), Some(10), None), SyncId::ZERO);
    }
}
