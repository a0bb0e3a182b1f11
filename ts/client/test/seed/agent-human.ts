import Ablo from '@ablo/client';
import { defineSchema, model, z } from '@ablo/client/schema';

const schema = defineSchema({
  tasks: model({
    title: z.string(),
    status: z.enum(['todo', 'doing', 'done']),
  }),
});

const ablo = Ablo({ schema, apiKey: process.env.ABLO_API_KEY });

export async function markDone(taskId: string) {
  await ablo.ready();

  const [task] = await ablo.tasks.load({ where: { id: taskId } });
  if (!task) return { status: 'not_found' };

  const busy = ablo.intents.list({ resource: 'tasks', id: taskId });
  if (busy.length > 0) return { status: 'busy', intents: busy };

  const snap = ablo.snapshot({ tasks: taskId });
  const updated = await ablo.tasks.update(
    taskId,
    { status: 'done' },
    { readAt: snap.stamp, onStale: 'reject', wait: 'confirmed' },
  );

  return { status: 'done', task: updated };
}
