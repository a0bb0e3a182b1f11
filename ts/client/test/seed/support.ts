// What the seed's React snippets take from their surroundings: the props
// type of `TaskRow`, and the schema the hooks are typed with.

import type { Task } from '../../.generated/ablo.js';
import type { schema } from '../../.generated/ablo.js';
import type {} from '@ablo/client/react';

export type { Task };
export interface Props {
  task: Task;
}

declare module '@ablo/client/react' {
  interface Register {
    schema: typeof schema;
  }
}
