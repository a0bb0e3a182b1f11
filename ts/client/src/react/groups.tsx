// `SyncGroupProvider`: the hooks below it see only the rows of some sync
// groups. A row's groups are computed from its model's templates (the
// schema's `syncGroups`, for example `team:{team}`) exactly as the server
// computes them; a row is in view when every one of its groups matches one
// of the provider's patterns (`team:red`, or `team:*` for a prefix), the
// rule capabilities follow. Intents and presence are shown for rows in view.

import { useMemo, type ReactNode } from 'react';
import type { AbloClient } from '../client.js';
import type { AbloSchema, Row, SchemaModel, TargetInput } from '../types.js';
import { AbloContext, useAbloClient } from './provider.js';

/** The groups of `row` under `templates`: rendered templates, `default` when none renders. */
export function rowGroups(templates: readonly string[] | undefined, row: Readonly<Record<string, unknown>>): string[] {
  const groups: string[] = [];
  for (const template of templates ?? []) {
    let complete = true;
    const group = template.replace(/\{([^}]*)\}/g, (_, name: string) => {
      const value = row[name];
      if (value === null || value === undefined) complete = false;
      return typeof value === 'string' ? value : JSON.stringify(value);
    });
    // A template naming a null field gives no group; equal neighbours count once.
    if (complete && groups.at(-1) !== group) groups.push(group);
  }
  return groups.length ? groups : ['default'];
}

/** Whether every group is matched by a pattern (exact, `*`, or a `prefix*`). */
export function groupsAllowed(groups: readonly string[], patterns: readonly string[]): boolean {
  return groups.every((group) =>
    patterns.some((p) => p === '*' || p === group || (p.endsWith('*') && group.startsWith(p.slice(0, -1)))),
  );
}

type Handle = Record<string, unknown> & {
  retrieve(id: string): Row | undefined;
  list(query?: object): Row[];
  count(query?: object): number;
};

/** A view of `client` that shows only rows in `patterns`; writes and everything else pass through. */
export function scopeClient<S extends AbloSchema>(client: AbloClient<S>, schema: S, patterns: readonly string[]): AbloClient<S> {
  const view = Object.create(client) as Record<string, unknown>;
  const models = schema.models as Record<string, SchemaModel>;
  const visible = (model: string, row: Row | undefined): row is Row =>
    row !== undefined && groupsAllowed(rowGroups(models[model]?.syncGroups, row), patterns);
  const handles = client as unknown as Record<string, Handle>;
  for (const model of schema.modelNames ?? Object.keys(models)) {
    const handle = handles[model]!;
    // The same filtered array for the same pool array, so selectors can compare by identity.
    const filtered = new WeakMap<Row[], Row[]>();
    const list = (query?: object): Row[] => {
      const all = handle.list(query);
      let rows = filtered.get(all);
      if (!rows) {
        rows = Object.freeze(all.filter((row) => visible(model, row))) as Row[];
        filtered.set(all, rows);
      }
      return rows;
    };
    view[model] = {
      ...handle,
      retrieve: (id: string) => {
        const row = handle.retrieve(id);
        return visible(model, row) ? row : undefined;
      },
      list,
      count: (query?: { limit?: number }) => {
        const { limit, ...rest } = query ?? {};
        return Math.min(list(rest).length, limit ?? Infinity);
      },
    };
  }
  const inView = (target: TargetInput) => {
    const model = 'resource' in target ? target.resource : target.model;
    return visible(model, handles[model]?.retrieve(target.id));
  };
  view['intents'] = { ...client.intents, list: (target: TargetInput) => (inView(target) ? client.intents.list(target) : []) };
  view['presence'] = { ...client.presence, list: (target: TargetInput) => (inView(target) ? client.presence.list(target) : []) };
  return view as unknown as AbloClient<S>;
}

/**
 * Shows the hooks below it only the rows of the given sync groups (and the
 * intents and presence on them), out of what the client's credential sees:
 * `<SyncGroupProvider groups={['team:red']}>`. The client, its connection
 * and its writes are shared with the rest of the page.
 */
export function SyncGroupProvider(props: { groups: readonly string[]; children?: ReactNode }): ReactNode {
  const client = useAbloClient() as unknown as AbloClient<AbloSchema>;
  const key = JSON.stringify(props.groups);
  const view = useMemo(
    () => scopeClient(client, client.schema, JSON.parse(key) as string[]),
    [client, key],
  );
  return <AbloContext.Provider value={view}>{props.children}</AbloContext.Provider>;
}
