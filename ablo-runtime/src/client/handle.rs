//! [`ModelHandle`]: the typed reads and writes of one model.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;

use super::Client;
use super::query::Query;
use super::transport::Request;
use super::watch::WatchStream;
use super::write::{Create, Delete, Update, decode_row};
use crate::error::Error;
use crate::model::Model;
use crate::schema::ModelDescriptor;
use crate::types::{Id, Json, Row, SyncId};
use crate::wire::{Intent, ListResponse, RetrieveResponse};

/// The descriptor of model `M`, built once per process (it holds the
/// model's TypeScript declaration and JSON Schema, which take a moment).
fn model_descriptor<M: Model>() -> Arc<ModelDescriptor> {
    static CACHE: OnceLock<Mutex<HashMap<TypeId, Arc<ModelDescriptor>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache
        .lock()
        .expect("descriptor cache")
        .get(&TypeId::of::<M>())
    {
        return found.clone();
    }
    let descriptor = Arc::new(M::descriptor());
    cache
        .lock()
        .expect("descriptor cache")
        .entry(TypeId::of::<M>())
        .or_insert(descriptor)
        .clone()
}

/// Rows asked for per page by [`ModelHandle::load`].
const LOAD_PAGE: usize = 500;

/// The rows of model `M`: server reads and writes, and queries of the local
/// pool. Get one with [`Client::model`] (or the generated `app.tasks()`).
///
/// ```
/// use ablo_runtime::{Model, Row, client::{ModelHandle, Query}};
/// async fn open_rows<M: Model>(handle: &ModelHandle<M>) -> Result<usize, ablo_runtime::Error> {
///     handle.load(Query::new()).await?;
///     Ok(handle.get_count(&Query::new()))
/// }
/// ```
pub struct ModelHandle<M: Model> {
    client: Client,
    marker: PhantomData<fn() -> M>,
}

impl<M: Model> Clone for ModelHandle<M> {
    fn clone(&self) -> Self {
        ModelHandle::new(self.client.clone())
    }
}

impl<M: Model> fmt::Debug for ModelHandle<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelHandle<{}>", M::NAME)
    }
}

/// One row read from the server: `{data, stamp, intents}`.
///
/// ```
/// use ablo_runtime::{Model, client::Retrieved};
/// fn read_at<M: Model>(r: &Retrieved<M>) -> ablo_runtime::SyncId { r.stamp }
/// ```
#[derive(Clone, Debug)]
pub struct Retrieved<M> {
    /// The row.
    pub data: Row<M>,
    /// The server's newest sync id when it read the row (at least the row's
    /// own stamp): a valid `read_at` for a write based on this read.
    pub stamp: SyncId,
    /// The active intents on the row when it was read (every
    /// participant's, the caller's own included, on the whole row or one of
    /// its fields), oldest id first: a reader sees who is working on the
    /// row without waiting for them.
    pub intents: Vec<Intent>,
}

/// One page of a `list`.
///
/// ```
/// use ablo_runtime::{Model, client::Page};
/// fn more<M: Model>(page: &Page<M>) -> bool { page.next_cursor.is_some() }
/// ```
#[derive(Clone, Debug)]
pub struct Page<M> {
    /// The rows of this page.
    pub data: Vec<Row<M>>,
    /// The server's newest sync id when it read the page: a valid
    /// `read_at` for any of its rows.
    pub stamp: SyncId,
    /// Pass to [`Query::cursor`] for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

impl<M: Model> ModelHandle<M> {
    pub(crate) fn new(client: Client) -> Self {
        ModelHandle {
            client,
            marker: PhantomData,
        }
    }

    /// The client this handle belongs to.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::ModelHandle};
    /// fn cursor<M: Model>(h: &ModelHandle<M>) -> ablo_runtime::SyncId { h.client().cursor() }
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates a row with a client-generated id (UUID v7; set your own with
    /// `.id(..)`). Await the builder for the stored row.
    ///
    /// ```
    /// use ablo_runtime::{Model, Row, client::ModelHandle};
    /// async fn add<M: Model>(h: &ModelHandle<M>, data: M) -> Result<Row<M>, ablo_runtime::Error> {
    ///     h.create(data).await
    /// }
    /// ```
    pub fn create(&self, data: M) -> Create<M> {
        Create::new(self.client.clone(), data)
    }

    /// Sets the fields of `patch` on row `id`. Await the builder for the
    /// stored row.
    ///
    /// ```
    /// use ablo_runtime::{Id, Model, Row, client::ModelHandle};
    /// async fn edit<M: Model>(h: &ModelHandle<M>, id: Id<M>, patch: M::Patch)
    ///     -> Result<Row<M>, ablo_runtime::Error> {
    ///     h.update(id, patch).await
    /// }
    /// ```
    pub fn update(&self, id: impl Into<Id<M>>, patch: M::Patch) -> Update<M> {
        Update::new(self.client.clone(), id.into(), patch)
    }

    /// Deletes row `id`.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::ModelHandle};
    /// async fn remove<M: Model>(h: &ModelHandle<M>) -> Result<(), ablo_runtime::Error> {
    ///     h.delete("row_1").await
    /// }
    /// ```
    pub fn delete(&self, id: impl Into<Id<M>>) -> Delete<M> {
        Delete::new(self.client.clone(), id.into())
    }

    /// Reads row `id` from the server, with the stamp to write back at and
    /// the row's active intents ([`Retrieved::intents`]; the read never
    /// waits for them, `ifBusy=return`). Fails with [`Error::NotFound`]
    /// when there is no such row.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::ModelHandle};
    /// async fn read<M: Model>(h: &ModelHandle<M>) -> Result<(), ablo_runtime::Error> {
    ///     let found = h.retrieve("row_1").await?;
    ///     println!("{} as of {}", found.data.id, found.stamp);
    ///     for intent in &found.intents {
    ///         println!("{:?} is doing {} on it", intent.participant, intent.action);
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn retrieve(&self, id: impl Into<Id<M>>) -> Result<Retrieved<M>, Error> {
        let id = id.into();
        let shared = self.client.shared();
        shared.check_usable(M::NAME)?;
        // `ifBusy=return`: the answer lists the row's active intents (reads
        // never wait for them), as the TypeScript client reads.
        let request = Request::new(Method::GET, &["v1", "models", M::NAME, id.as_str()])
            .query(vec![("ifBusy".to_owned(), "return".to_owned())]);
        let response: RetrieveResponse = shared.transport.call(&request, shared.timeout).await?;
        Ok(Retrieved {
            data: decode_row(Some(response.data))?,
            stamp: response.stamp,
            intents: response.intents,
        })
    }

    /// Reads one page of rows from the server (filters, order, `limit`,
    /// `cursor` of `query`). The local pool is left as it is; see
    /// [`ModelHandle::load`].
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// async fn first_ten<M: Model>(h: &ModelHandle<M>) -> Result<(), ablo_runtime::Error> {
    ///     let page = h.list(Query::new().order_by_desc("createdAt").limit(10)).await?;
    ///     if let Some(cursor) = page.next_cursor {
    ///         h.list(Query::new().order_by_desc("createdAt").limit(10).cursor(cursor)).await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub async fn list(&self, query: Query<M>) -> Result<Page<M>, Error> {
        let response = self.fetch_page(&query).await?;
        let data = response
            .data
            .into_iter()
            .map(|row| decode_row(Some(row)))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            data,
            stamp: response.stamp,
            next_cursor: response.next_cursor,
        })
    }

    /// Reads every row matching `query` from the server, page after page
    /// (at most `limit` rows when the query has one), and stores them in the
    /// local pool, where [`ModelHandle::get`], [`ModelHandle::get_all`],
    /// [`Client::snapshot`] and watchers see them. Returns the rows.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// async fn warm<M: Model>(h: &ModelHandle<M>) -> Result<(), ablo_runtime::Error> {
    ///     let rows = h.load(Query::new().where_eq("status", "todo")).await?;
    ///     println!("{} rows loaded", rows.len());
    ///     Ok(())
    /// }
    /// ```
    pub async fn load(&self, query: Query<M>) -> Result<Vec<Row<M>>, Error> {
        let shared = self.client.shared();
        let total = query.limit_value();
        if total == Some(0) {
            return Ok(Vec::new());
        }
        let mut query = query;
        let mut rows = Vec::new();
        loop {
            let page_size = total.map_or(LOAD_PAGE, |t| (t - rows.len()).min(LOAD_PAGE));
            query = query.limit(page_size);
            let response = self.fetch_page(&query).await?;
            shared
                .pool
                .store_rows(M::NAME, &response.data, response.stamp);
            for row in response.data {
                rows.push(decode_row::<M>(Some(row))?);
            }
            let done = total.is_some_and(|total| rows.len() >= total);
            match response.next_cursor {
                Some(cursor) if !done => query = query.cursor(cursor),
                _ => break,
            }
        }
        if let Some(total) = total {
            rows.truncate(total);
        }
        Ok(rows)
    }

    async fn fetch_page(&self, query: &Query<M>) -> Result<ListResponse, Error> {
        let shared = self.client.shared();
        shared.check_usable(M::NAME)?;
        let request =
            Request::new(Method::GET, &["v1", "models", M::NAME]).query(query.to_params()?);
        shared.transport.call(&request, shared.timeout).await
    }

    /// Row `id` from the local pool (with queued writes applied), or `None`
    /// if the client does not hold it.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::ModelHandle};
    /// fn cached<M: Model>(h: &ModelHandle<M>) -> bool { h.get("row_1").is_some() }
    /// ```
    pub fn get(&self, id: impl Into<Id<M>>) -> Option<Row<M>> {
        let id = id.into();
        let row = self.client.shared().pool.get(M::NAME, id.as_str())?;
        self.decode_local(row)
    }

    /// The rows of the local pool that match `query`, sorted and limited as
    /// it says.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// fn newest<M: Model>(h: &ModelHandle<M>) -> Vec<ablo_runtime::Row<M>> {
    ///     h.get_all(&Query::new().order_by_desc("createdAt").limit(5))
    /// }
    /// ```
    pub fn get_all(&self, query: &Query<M>) -> Vec<Row<M>> {
        self.warn_if_invalid(query);
        let matching = self.local_matches(query);
        query
            .sort_and_limit(matching)
            .into_iter()
            .filter_map(|row| self.decode_local(row))
            .collect()
    }

    /// How many rows of the local pool match `query` (its limit ignored).
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// fn todo<M: Model>(h: &ModelHandle<M>) -> usize {
    ///     h.get_count(&Query::new().where_eq("status", "todo"))
    /// }
    /// ```
    pub fn get_count(&self, query: &Query<M>) -> usize {
        self.warn_if_invalid(query);
        self.local_matches(query).len()
    }

    /// [`get_all`](Self::get_all), refusing a query the server would refuse:
    /// a `where` or sort field the model lacks (a misspelling), or one that
    /// cannot be compared, fails with `Error::Validation` and code
    /// `invalid_query`, as `list` does, instead of matching nothing.
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// fn todo<M: Model>(h: &ModelHandle<M>) -> Result<usize, ablo_runtime::Error> {
    ///     Ok(h.try_get_all(&Query::new().where_eq("status", "todo"))?.len())
    /// }
    /// ```
    pub fn try_get_all(&self, query: &Query<M>) -> Result<Vec<Row<M>>, Error> {
        query.validate(&model_descriptor::<M>())?;
        Ok(self.get_all(query))
    }

    /// [`get_count`](Self::get_count), refusing a query the server would
    /// refuse (see [`try_get_all`](Self::try_get_all)).
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// fn todo<M: Model>(h: &ModelHandle<M>) -> Result<usize, ablo_runtime::Error> {
    ///     h.try_get_count(&Query::new().where_eq("status", "todo"))
    /// }
    /// ```
    pub fn try_get_count(&self, query: &Query<M>) -> Result<usize, Error> {
        query.validate(&model_descriptor::<M>())?;
        Ok(self.local_matches(query).len())
    }

    /// [`watch`](Self::watch), refusing a query the server would refuse
    /// (see [`try_get_all`](Self::try_get_all)).
    ///
    /// ```
    /// use ablo_runtime::{Model, client::{ModelHandle, Query}};
    /// fn follow<M: Model>(h: &ModelHandle<M>) -> Result<(), ablo_runtime::Error> {
    ///     let _changes = h.try_watch(Query::new().where_eq("status", "todo"))?;
    ///     Ok(())
    /// }
    /// ```
    pub fn try_watch(&self, query: Query<M>) -> Result<WatchStream<M>, Error> {
        query.validate(&model_descriptor::<M>())?;
        Ok(self.watch(query))
    }

    /// Logs (at warn) a query the server would refuse, for the infallible
    /// local reads.
    fn warn_if_invalid(&self, query: &Query<M>) {
        if let Err(e) = query.validate(&model_descriptor::<M>()) {
            self.client.shared().transport.log.warn(format!(
                "a local read of `{}` matches nothing the server would return: {}",
                M::NAME,
                e.message()
            ));
        }
    }

    /// A stream of changes to the local pool's rows matching `query`: first
    /// every row that matches now (as [`RowChange::Inserted`](super::RowChange)),
    /// then each insert, update and removal as it happens, whether it comes
    /// from this client, a queued write's rollback, or the live stream.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use ablo_runtime::{Model, client::{ModelHandle, Query, RowChange}};
    /// async fn follow<M: Model + std::fmt::Debug>(h: &ModelHandle<M>) {
    ///     let mut changes = h.watch(Query::new());
    ///     while let Some(change) = changes.next().await {
    ///         match change {
    ///             RowChange::Inserted(row) | RowChange::Updated(row) => println!("{:?}", row.data),
    ///             RowChange::Removed(id) => println!("{id} removed"),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn watch(&self, query: Query<M>) -> WatchStream<M> {
        self.warn_if_invalid(&query);
        WatchStream::new(self.client.clone(), query)
    }

    /// The stamp to pass as `read_at` for a write to row `id` based on what
    /// the client holds (see [`Client::snapshot`]).
    ///
    /// ```
    /// use ablo_runtime::{Model, client::ModelHandle};
    /// async fn guarded<M: Model>(h: &ModelHandle<M>, patch: M::Patch) -> Result<(), ablo_runtime::Error> {
    ///     let stamp = h.snapshot("row_1");
    ///     h.update("row_1", patch).read_at(stamp).await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn snapshot(&self, id: impl Into<Id<M>>) -> SyncId {
        self.client.snapshot([id.into()])
    }

    fn local_matches(&self, query: &Query<M>) -> Vec<Json> {
        self.client
            .shared()
            .pool
            .all(M::NAME)
            .into_iter()
            .filter(|row| query.matches(row))
            .collect()
    }

    fn decode_local(&self, row: Json) -> Option<Row<M>> {
        match serde_json::from_value(row) {
            Ok(row) => Some(row),
            Err(e) => {
                self.client.shared().transport.log.warn(format!(
                    "a local `{}` row does not decode and is skipped: {e}",
                    M::NAME
                ));
                None
            }
        }
    }
}
