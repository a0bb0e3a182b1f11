// The hooks over `useAblo`: queries with loading state, sync status,
// intents, presence, error listeners, mutations, and a client-only boundary.

import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import type { AbloError } from '../errors.js';
import type { Intent, PresenceEntry, PresenceState, Query, SyncStatus, TargetInput, RowOf, ModelNameOf } from '../types.js';
import { type RegisteredClient, type RegisteredSchema, useAblo, useAbloClient } from './provider.js';

/** What `useQuery` returns. */
export interface QueryResult<R> {
  /** The matching rows of the local pool, live. */
  data: R[];
  /** Whether the first load from the server is still running. */
  loading: boolean;
  error: AbloError | undefined;
  /** Loads again from the server. */
  reload: () => Promise<void>;
}

type ModelName = ModelNameOf<RegisteredSchema>;
type Handle = { load(q?: object): Promise<unknown>; list(q?: object): unknown[] };

/**
 * Loads `model` rows matching `query` from the server once (and when the
 * query changes), and returns the pool's matching rows, live.
 */
export function useQuery<M extends ModelName>(model: M, query?: Query<RowOf<RegisteredSchema, M>>): QueryResult<RowOf<RegisteredSchema, M>> {
  const client = useAbloClient();
  const key = JSON.stringify(query ?? {});
  const [state, setState] = useState<{ loading: boolean; error: AbloError | undefined }>({ loading: true, error: undefined });
  const handle = () => (client as unknown as Record<string, Handle>)[model]!;
  const reload = useCallback(async () => {
    setState((s) => ({ ...s, loading: true }));
    try {
      await handle().load(JSON.parse(key) as object);
      setState({ loading: false, error: undefined });
    } catch (error) {
      setState({ loading: false, error: error as AbloError });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, model, key]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const data = useAblo(() => handle().list(JSON.parse(key) as object) as RowOf<RegisteredSchema, M>[]);
  return { data, loading: state.loading, error: state.error, reload };
}

/** The live connection's state and whether local writes are unconfirmed. */
export function useSyncStatus(): SyncStatus {
  return useAblo((ablo) => ablo.status);
}

/** Other participants' active intents on a row or field. */
export function useIntents(target: TargetInput): Intent[] {
  return useAblo((ablo) => ablo.intents.list(target));
}

/**
 * Everyone's presence on a row. With `state`, also publishes this
 * participant's presence while the component is mounted.
 */
export function usePresence(target: TargetInput, state?: PresenceState): PresenceEntry[] {
  const client = useAbloClient();
  const key = JSON.stringify(target);
  useEffect(() => {
    if (!state) return;
    const parsed = JSON.parse(key) as TargetInput;
    client.presence.set(parsed, state);
    return () => client.presence.leave(parsed);
  }, [client, key, state]);
  return useAblo((ablo) => ablo.presence.list(target));
}

/** Calls `listener` with every refused queued write (already rolled back) and connection error. */
export function useErrorListener(listener: (error: AbloError) => void): void {
  const client = useAbloClient();
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => client.onError((error) => ref.current(error)), [client]);
}

/** What `useMutate` returns with the function that runs the mutation. */
export interface MutationState {
  pending: boolean;
  error: AbloError | undefined;
}

/**
 * Wraps a write so a component can show it pending and its error:
 * `const [save, { pending, error }] = useMutate((ablo, id: string) => ablo.tasks.update(id, patch))`.
 */
export function useMutate<A extends unknown[], T>(
  mutation: (ablo: RegisteredClient, ...args: A) => Promise<T>,
): [(...args: A) => Promise<T | undefined>, MutationState] {
  const client = useAbloClient();
  const ref = useRef(mutation);
  ref.current = mutation;
  const [state, setState] = useState<MutationState>({ pending: false, error: undefined });
  const run = useCallback(
    async (...args: A) => {
      setState({ pending: true, error: undefined });
      try {
        const result = await ref.current(client, ...args);
        setState({ pending: false, error: undefined });
        return result;
      } catch (error) {
        setState({ pending: false, error: error as AbloError });
        return undefined;
      }
    },
    [client],
  );
  return [run, state];
}

/** Renders `fallback` until the client has caught up with the server (and on the server side of SSR). */
export function ClientSideSuspense(props: { fallback: ReactNode; children: ReactNode | (() => ReactNode) }): ReactNode {
  const ready = useAblo((ablo) => ablo.status.caughtUp || ablo.status.status === 'connected');
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  if (!mounted || !ready) return props.fallback;
  return typeof props.children === 'function' ? props.children() : props.children;
}
