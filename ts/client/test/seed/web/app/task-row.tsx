'use client';

import { useAblo } from '@ablo/client/react';
import type { Task } from '../../support.js';

export function TaskRow({ task: serverTask }: { task: Task }) {
  const task = useAblo((ablo) => ablo.tasks.retrieve(serverTask.id)) ?? serverTask;
  const intents = useAblo((ablo) =>
    ablo.intents.list({ resource: 'tasks', id: serverTask.id }),
  ) ?? [];
  const busy = intents.length > 0;

  return (
    <button disabled={busy || task.status === 'done'}>
      {busy ? 'Someone is editing' : task.title}
    </button>
  );
}
