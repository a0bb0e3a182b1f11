import { memo, useLayoutEffect, useState } from 'react';
import { useAblo, useIntents, usePresence } from '@ablo/client/react';
import type { Status } from './ablo';

declare global {
  interface Window {
    /** For the browser tests: when each title was first on screen (ms since the epoch, sub-ms). */
    __rendered?: Record<string, number>;
    /** For the browser tests: how many times each card rendered. */
    __renders?: Record<string, number>;
  }
}

const NEXT: Record<Status, Status> = { todo: 'doing', doing: 'done', done: 'todo' };

export const TaskCard = memo(function TaskCard({ id }: { id: string }) {
  const task = useAblo((ablo) => ablo.tasks.retrieve(id));
  const intents = useIntents({ resource: 'tasks', id });
  const presence = usePresence({ resource: 'tasks', id });
  const ablo = useAblo();
  const [draft, setDraft] = useState<{ title: string; readAt: number } | undefined>();
  const renders = (window.__renders ??= {});
  renders[id] = (renders[id] ?? 0) + 1;

  useLayoutEffect(() => {
    if (!task) return;
    const seen = (window.__rendered ??= {});
    seen[task.title] ??= performance.timeOrigin + performance.now();
  }, [task?.title]);

  if (!task) return null;
  const agent = intents.find((i) => i.participantKind === 'agent');
  const others = intents.filter((i) => i.participantKind !== 'agent');
  const viewers = presence.filter((p) => p.participantKind === 'user');

  return (
    <article className="card" data-testid={`task-${task.title}`} data-id={id}>
      {draft ? (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            // Written from the stamp the edit started at: a change made meanwhile is refused, not overwritten.
            void ablo.tasks.update(id, { title: draft.title }, { readAt: draft.readAt, onStale: 'reject' });
            setDraft(undefined);
            ablo.presence.leave({ resource: 'tasks', id });
          }}
        >
          <input aria-label="Title" value={draft.title} onChange={(e) => setDraft({ ...draft, title: e.target.value })} autoFocus />
          <button type="submit">Save</button>
        </form>
      ) : (
        <div className="title" onDoubleClick={() => startEdit()}>
          {task.title}
        </div>
      )}
      <div className="meta">
        <button onClick={() => void ablo.tasks.update(id, { status: NEXT[task.status] })}>→ {NEXT[task.status]}</button>
        {!draft ? <button onClick={() => startEdit()}>Edit</button> : null}
        {agent ? (
          <span className="badge agent" data-testid="agent-editing">
            agent is {agent.action === 'update' ? 'editing' : agent.action}
          </span>
        ) : null}
        {others.length ? <span className="badge">{others[0]!.participantId} is {others[0]!.action}</span> : null}
        {viewers.length ? <span className="badge">{viewers.length} here</span> : null}
      </div>
    </article>
  );

  function startEdit() {
    setDraft({ title: task!.title, readAt: ablo.snapshot({ tasks: id }).stamp });
    ablo.presence.set({ resource: 'tasks', id }, 'editing');
  }
});
