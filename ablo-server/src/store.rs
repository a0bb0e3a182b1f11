//! The store as async code uses it: the backend and the fixed set of
//! threads its blocking calls run on. Domain services take a [`Store`]
//! instead of the server's whole state; a failed call is a
//! [`StorageError`], whatever the backend.

use std::sync::Arc;

use crate::storage::{Storage, StorageError};

/// A cheap handle to the store: clones share the backend and the threads.
#[derive(Clone)]
pub(crate) struct Store {
    storage: Arc<dyn Storage>,
    threads: Arc<StorageThreads>,
}

impl Store {
    /// A handle on `storage` with its own [`StorageThreads`].
    pub fn new(storage: Arc<dyn Storage>) -> std::io::Result<Store> {
        Ok(Store {
            storage,
            threads: Arc::new(StorageThreads::new()?),
        })
    }

    /// The backend, for code that runs on a blocking thread of its own.
    pub fn backend(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Runs a blocking storage call off the async threads.
    pub async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let storage = self.storage.clone();
        let joined = self.threads.spawn(move || call(storage.as_ref())).await;
        joined.unwrap_or_else(|err| Err(StorageError::CallFailed(err.to_string())))
    }
}

/// A fixed set of threads for storage calls, as many as the store has read
/// connections. A call past it waits in a queue (a boxed closure) instead
/// of as one more blocked thread: on the runtime's shared blocking pool a
/// thousand replaying subscribers grew the pool to dozens of threads, each
/// keeping its stack and allocator cache for ten seconds after its call.
pub(crate) struct StorageThreads {
    /// Only its blocking pool is used; it is never driven.
    runtime: Option<tokio::runtime::Runtime>,
}

impl StorageThreads {
    /// Storage calls that may run at once.
    pub const COUNT: usize = 16;

    /// Starts no thread yet: they start with the first calls.
    pub fn new() -> std::io::Result<StorageThreads> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(Self::COUNT)
            .thread_keep_alive(std::time::Duration::from_secs(60))
            .thread_name("ablo-storage")
            .build()?;
        Ok(StorageThreads {
            runtime: Some(runtime),
        })
    }

    fn spawn<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.runtime
            .as_ref()
            .expect("storage threads until dropped")
            .spawn_blocking(call)
    }
}

impl Drop for StorageThreads {
    fn drop(&mut self) {
        // The last handle may be dropped on an async thread, where a
        // runtime may not block; running calls finish on their own.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
