// @ablo/client/react: the provider and hooks.

export {
  AbloProvider,
  useAblo,
  useAbloClient,
  shallowEqual,
  DEFAULT_AUTH_ENDPOINT,
  type AbloProviderProps,
  type Register,
  type RegisteredClient,
  type RegisteredSchema,
} from './provider.js';
export {
  useQuery,
  useSyncStatus,
  useIntents,
  usePresence,
  useErrorListener,
  useMutate,
  ClientSideSuspense,
  type QueryResult,
  type MutationState,
} from './hooks.js';
export { SyncGroupProvider, scopeClient, rowGroups, groupsAllowed } from './groups.js';
