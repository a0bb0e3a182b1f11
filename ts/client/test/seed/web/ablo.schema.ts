// web/ablo.schema.ts
import { defineSchema, model, z } from '@ablo/client/schema';

export const schema = defineSchema({
  tasks: model({
    id: z.string(),
    title: z.string(),
    status: z.enum(['todo', 'doing', 'done']),
    updatedAt: z.string(),
  }),
});
