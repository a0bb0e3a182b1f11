import { memo, useState } from 'react';
import { useAblo, useErrorListener, useQuery, useSyncStatus, type RegisteredClient } from '@ablo/client/react';
import type { AbloError } from '@ablo/client';
import { userId, type Status } from './ablo';
import { TaskCard } from './TaskCard';

const COLUMNS: Status[] = ['todo', 'doing', 'done'];

export function Board() {
  const { loading } = useQuery('tasks');
  const [error, setError] = useState<AbloError | undefined>();
  useErrorListener((e) => setError(e));
  return (
    <>
      <header>
        <h1>Tasks</h1>
        <span className="user">signed in as {userId}</span>
        <SyncBadge />
      </header>
      {error ? (
        <div className="error" role="alert" data-testid="error" onClick={() => setError(undefined)}>
          {error.code}: {error.message}
        </div>
      ) : null}
      <NewTask />
      {loading ? <p data-testid="loading">Loading…</p> : null}
      <div className="columns">
        {COLUMNS.map((status) => (
          <Column key={status} status={status} />
        ))}
      </div>
    </>
  );
}

// Its own component: the status changes with every delta (its cursor), and
// only this badge should render again then, not the board around it.
function SyncBadge() {
  const sync = useSyncStatus();
  return (
    <span className="status" data-state={sync.status} data-testid="sync">
      {sync.status}
      {sync.hasUnconfirmedWrites ? ` · ${sync.pendingWrites} unconfirmed` : ''}
    </span>
  );
}

// Memoized: columns and cards render again only when what they select changes.
const Column = memo(function Column({ status }: { status: Status }) {
  // Re-renders only when the list of this column's rows changes.
  const ids = useAblo((ablo) => ablo.tasks.list({ where: { status } }).map((t) => t.id));
  return (
    <section className="column" data-testid={`column-${status}`}>
      <h2>{status}</h2>
      {ids.map((id) => (
        <TaskCard key={id} id={id} />
      ))}
    </section>
  );
});

function NewTask() {
  const [title, setTitle] = useState('');
  const ablo = useAblo() as RegisteredClient;
  return (
    <form
      className="new"
      onSubmit={(event) => {
        event.preventDefault();
        if (!title.trim()) return;
        void ablo.tasks.create({ title: title.trim(), status: 'todo' });
        setTitle('');
      }}
    >
      <input aria-label="New task" placeholder="New task" value={title} onChange={(e) => setTitle(e.target.value)} />
      <button type="submit">Add</button>
    </form>
  );
}
