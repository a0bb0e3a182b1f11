// `AbloProvider` and `useAblo`: the client in React context, and selectors
// over it on `useSyncExternalStore`. A component re-renders only when the
// value its selector returns changes (rows are frozen snapshots, lists the
// same array until one of their rows changes).

import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { Ablo, type AbloClient, type AbloOptions } from '../client.js';
import type { AbloSchema } from '../types.js';

/**
 * Register your schema once so hooks are typed without generics:
 *
 * ```ts
 * declare module '@ablo/client/react' {
 *   interface Register { schema: typeof schema }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Register {}

/** The schema registered through `Register` (or any schema). */
export type RegisteredSchema = Register extends { schema: infer S extends AbloSchema } ? S : AbloSchema;

/** The client type hooks hand out. */
export type RegisteredClient = AbloClient<RegisteredSchema>;

/** The client (or a `SyncGroupProvider`'s view of it) the hooks use. */
export const AbloContext = createContext<AbloClient<AbloSchema> | null>(null);

/** Props of `AbloProvider`: a client, or what to build one from. */
export type AbloProviderProps = { children?: ReactNode } & (
  | { client: AbloClient<AbloSchema> | RegisteredClient; schema?: never }
  | (Omit<AbloOptions<AbloSchema>, 'schema'> & { schema: AbloSchema; client?: never })
);

/** The default session route a page asks for its capability. */
export const DEFAULT_AUTH_ENDPOINT = '/api/ablo/session';

/**
 * Makes a client available to `useAblo` and the other hooks. Given
 * `schema` (and optionally `url`, `authEndpoint`, `token`), it builds the
 * client itself (default `authEndpoint`: `/api/ablo/session`) and disposes
 * it on unmount.
 */
export function AbloProvider(props: AbloProviderProps): ReactNode {
  const [client] = useState(() => {
    if (props.client) return { client: props.client as AbloClient<AbloSchema>, owned: false };
    const { children: _children, client: _client, ...options } = props;
    const auth =
      options.apiKey === undefined && options.token === undefined && options.authEndpoint === undefined
        ? { authEndpoint: DEFAULT_AUTH_ENDPOINT }
        : {};
    return { client: Ablo({ ...options, ...auth }), owned: true };
  });
  const disposal = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    // Strict mode unmounts and mounts again at once: dispose only if it stays unmounted.
    if (disposal.current) clearTimeout(disposal.current);
    return () => {
      if (client.owned) disposal.current = setTimeout(() => void client.client.dispose(), 0);
    };
  }, [client]);
  return <AbloContext.Provider value={client.client}>{props.children}</AbloContext.Provider>;
}

/** Values equal when identical, or arrays / plain objects with identical members. */
export function shallowEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
  }
  if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((k) => Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** The client of the nearest `AbloProvider`. */
export function useAbloClient(): RegisteredClient {
  const client = useContext(AbloContext);
  if (!client) throw new Error('useAblo: no <AbloProvider> above this component');
  return client as unknown as RegisteredClient;
}

/** The client of the nearest `AbloProvider`. */
export function useAblo(): RegisteredClient;
/**
 * A value selected from the client, for example
 * `useAblo((ablo) => ablo.tasks.retrieve(id))`; re-renders when it changes
 * (compared with `isEqual`, default: shallow).
 */
export function useAblo<T>(selector: (ablo: RegisteredClient) => T, isEqual?: (a: T, b: T) => boolean): T;
export function useAblo<T>(
  selector?: (ablo: RegisteredClient) => T,
  isEqual: (a: T, b: T) => boolean = shallowEqual,
): T | RegisteredClient {
  const client = useAbloClient();
  const last = useRef<{ value: T } | undefined>(undefined);
  const select = selector ?? ((ablo: RegisteredClient) => ablo as unknown as T);
  const getSnapshot = () => {
    const next = select(client);
    if (last.current && isEqual(last.current.value, next)) return last.current.value;
    last.current = { value: next };
    return next;
  };
  return useSyncExternalStore(client.subscribe, getSnapshot, getSnapshot);
}
