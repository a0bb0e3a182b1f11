// The React hooks outside the browser: react-test-renderer (a concurrent
// root, as `createRoot` makes) over real clients of a real ablo-server.
// Updates arrive from the server as they would in a page, so the tests
// wait for what is rendered instead of wrapping anything in act().

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StrictMode, useState, type ReactNode } from 'react';
import { create, type ReactTestRenderer, type TestRendererOptions } from 'react-test-renderer';
import WebSocket from 'ws';
import { type AbloError, AbloStaleContextError, AbloValidationError } from '@ablo/client';
import {
  AbloProvider,
  ClientSideSuspense,
  useAblo,
  useErrorListener,
  useIntents,
  useMutate,
  usePresence,
  useQuery,
  useSyncStatus,
  SyncGroupProvider,
  type RegisteredClient,
} from '@ablo/client/react';
import { TestServer, schema, until, type BoardClient } from './harness.js';
import { TaskRow } from './seed/agent-human-ui.js';

let server: TestServer;
/** The page's client: a `user` session, queued writes. */
let ui: BoardClient;
/** Another participant: an agent with its own capability, confirmed writes. */
let agent: BoardClient;

before(async () => {
  server = await TestServer.start();
  const ada = await server.mint({ kind: 'user', id: 'ada' });
  const bot = await server.mint({ kind: 'agent', id: 'hook-bot' });
  ui = server.client({ token: ada.token, wait: 'queued' });
  agent = server.client({ token: bot.token, wait: 'confirmed' });
  await Promise.all([ui.ready(), agent.ready()]);
});
after(async () => {
  await Promise.all([ui.dispose(), agent.dispose()]);
  await server.stop();
});

/** A concurrent root, as `createRoot` makes (the option is missing from the types). */
const concurrent = { unstable_isConcurrent: true } as unknown as TestRendererOptions;

/** Renders `element` under a provider of `client` in a concurrent root. */
function mount(element: ReactNode, client: BoardClient = ui): ReactTestRenderer {
  return create(<AbloProvider client={client}>{element}</AbloProvider>, concurrent);
}

/** The rendered text of `renderer`. */
function text(renderer: ReactTestRenderer): string {
  const walk = (node: unknown): string => {
    if (node === null || node === undefined) return '';
    if (typeof node === 'string') return node;
    if (Array.isArray(node)) return node.map(walk).join('');
    return walk((node as { children?: unknown }).children ?? null);
  };
  return walk(renderer.toJSON());
}

async function rendered(renderer: ReactTestRenderer, expected: string | RegExp, what = `${expected}`): Promise<void> {
  await until(() => (typeof expected === 'string' ? text(renderer) === expected : expected.test(text(renderer))), 5000, `render of ${what} (got "${text(renderer)}")`);
}

/** Lets pending renders and effects run. */
const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

test('useAblo(selector) re-renders only when the selected value changes and hands out frozen snapshots', async () => {
  const a = await agent.tasks.create({ title: 'alpha', status: 'todo' });
  const b = await agent.tasks.create({ title: 'beta', status: 'todo' });
  await ui.tasks.load();
  const renders: Record<string, number> = {};
  const seen: Record<string, unknown[]> = {};
  function Title({ id }: { id: string }) {
    const task = useAblo((ablo) => ablo.tasks.retrieve(id));
    renders[id] = (renders[id] ?? 0) + 1;
    (seen[id] ??= []).push(task);
    return <>{task?.title ?? '-'} </>;
  }
  function Ids() {
    // A new array on every call: the default shallow comparison keeps it equal while the ids are.
    const ids = useAblo((ablo) => ablo.tasks.list({ where: { status: 'todo' } }).map((t) => t.id));
    renders['ids'] = (renders['ids'] ?? 0) + 1;
    return <>{ids.length}</>;
  }
  const view = mount(
    <>
      <Title id={a.id} />
      <Title id={b.id} />
      <Ids />
    </>,
  );
  await rendered(view, /^alpha beta \d+$/);
  await settle();
  const before = { ...renders };

  await agent.tasks.update(a.id, { title: 'alpha 2' });
  await rendered(view, /^alpha 2 beta \d+$/);
  await settle();
  assert.equal(renders[a.id], before[a.id]! + 1, 'the changed row rendered once more');
  assert.equal(renders[b.id], before[b.id], 'the other row did not render');
  assert.equal(renders['ids'], before['ids'], 'the same ids: no render');

  // A change the selector does not see (another status) renders nobody.
  const c = await agent.tasks.create({ title: 'gamma', status: 'done' });
  await until(() => ui.tasks.retrieve(c.id) !== undefined, 5000, 'the delta');
  await settle();
  assert.deepEqual(
    [renders[a.id], renders[b.id], renders['ids']],
    [before[a.id]! + 1, before[b.id], before['ids']],
  );

  // Snapshots: frozen, replaced on change, never edited in place.
  const [first, second] = [seen[a.id]!.at(0), seen[a.id]!.at(-1)] as Array<{ title: string }>;
  assert.equal(first.title, 'alpha', 'the snapshot a render got keeps its values');
  assert.equal(second.title, 'alpha 2');
  assert.notEqual(first, second);
  assert.ok(Object.isFrozen(second));
  assert.throws(() => {
    (second as { title: string }).title = 'mutated';
  }, TypeError);
  assert.equal(ui.tasks.retrieve(a.id)?.title, 'alpha 2', 'the pool is untouched');
  assert.equal(seen[b.id]!.at(0), seen[b.id]!.at(-1), 'an unchanged row keeps its identity');
  view.unmount();
});

test('useQuery loads from the server, then follows the pool live; a refused query is its error', async () => {
  const team = `q${Date.now()}`;
  await agent.tasks.create({ title: 'q one', status: 'doing', team });
  await agent.tasks.create({ title: 'q two', status: 'doing', team });
  const states: Array<{ loading: boolean; count: number }> = [];
  function Doing() {
    const { data, loading, error } = useQuery('tasks', { where: { team, status: 'doing' }, orderBy: 'title' });
    states.push({ loading, count: data.length });
    if (error) return <>error {error.code}</>;
    return <>{loading ? 'loading' : data.map((t) => t.title).join(',')}</>;
  }
  // Not connected yet: the rows can only come from the hook's load.
  const fresh = server.client({ token: (await server.mint({ kind: 'user', id: 'bo' })).token, connect: false });
  const view = mount(<Doing />, fresh);
  await rendered(view, 'q one,q two');
  assert.deepEqual(states[0], { loading: true, count: 0 }, 'nothing in the pool before the load');
  await fresh.ready();

  // Live: a matching row appears, a row that stops matching leaves.
  const three = await agent.tasks.create({ title: 'q three', status: 'doing', team });
  await rendered(view, 'q one,q three,q two');
  await agent.tasks.update(three.id, { status: 'done' });
  await rendered(view, 'q one,q two');
  view.unmount();

  function Broken() {
    const { error, loading } = useQuery('tasks', { where: { nosuchfield: 1 } as never });
    return <>{loading ? 'loading' : error ? `${error.type} ${error.code} ${error instanceof AbloValidationError}` : 'ok'}</>;
  }
  const broken = mount(<Broken />, fresh);
  await rendered(broken, /^validation \w+ true$/);
  broken.unmount();
  await fresh.dispose();
});

test('useSyncStatus goes initial → connecting → connected, reconnecting while the server is down (writes unconfirmed), connected again', async () => {
  const own = await TestServer.start();
  try {
    const client = own.client({ token: (await own.mint({ kind: 'user', id: 'cy' })).token, wait: 'queued', connect: false });
    const states: string[] = [];
    function Status() {
      const status = useSyncStatus();
      const label = `${status.status}${status.hasUnconfirmedWrites ? ` ${status.pendingWrites}` : ''}`;
      if (states.at(-1) !== label) states.push(label);
      return <>{label}</>;
    }
    const view = mount(<Status />, client);
    await rendered(view, 'initial');
    void client.ready();
    await rendered(view, 'connected');
    assert.deepEqual(states.slice(0, 3), ['initial', 'connecting', 'connected']);

    const task = await client.tasks.create({ title: 'before', status: 'todo' });
    await rendered(view, 'connected');
    await own.kill();
    await rendered(view, /^reconnecting/);
    await client.tasks.update(task.id, { title: 'while down' });
    await rendered(view, 'reconnecting 1');
    await own.launch();
    await rendered(view, 'connected');
    assert.equal((await own.admin<{ data: { title: string } }>('GET', `/v1/models/tasks/${task.id}`)).data.title, 'while down');
    view.unmount();
    await client.dispose();
  } finally {
    await own.stop();
  }
});

test('useSyncStatus shows needs-auth for a credential the server refuses', async () => {
  const grant = await server.mint({ kind: 'user', id: 'revoked' });
  await server.admin('DELETE', `/v1/capabilities/${grant.id}`);
  const client = server.client({ token: grant.token });
  function Status() {
    return <>{useSyncStatus().status}</>;
  }
  const view = mount(<Status />, client);
  await rendered(view, 'needs-auth');
  view.unmount();
  await client.dispose();
});

// conformance: intents.visible
test("useIntents lists other participants' intents live, not the client's own", async () => {
  const task = await agent.tasks.create({ title: 'intent target', status: 'todo' });
  await until(() => ui.tasks.retrieve(task.id) !== undefined, 5000, 'the row');
  function Who() {
    const intents = useIntents({ resource: 'tasks', id: task.id });
    return <>{intents.map((i) => `${i.participantKind}:${i.participantId}:${i.action}`).join(',') || 'nobody'}</>;
  }
  const view = mount(<Who />);
  await rendered(view, 'nobody');
  const own = await ui.intents.create({ target: { resource: 'tasks', id: task.id }, action: 'viewing' });
  const theirs = await agent.intents.create({ target: { resource: 'tasks', id: task.id }, action: 'update' });
  await rendered(view, 'agent:hook-bot:update');
  await theirs.release();
  await rendered(view, 'nobody');
  await own.release();

  // The seed's React snippet (agent-human) on the same hooks.
  const row = mount(<TaskRow task={ui.tasks.retrieve(task.id)!} />);
  await rendered(row, 'intent target');
  const again = await agent.intents.create({ target: { resource: 'tasks', id: task.id }, action: 'update' });
  await rendered(row, 'intent targetAgent is updating...');
  await again.release();
  await rendered(row, 'intent target');
  row.unmount();
  view.unmount();
});

// conformance: presence
test('usePresence publishes while mounted and shows everyone on the row', async () => {
  const task = await agent.tasks.create({ title: 'presence target', status: 'todo' });
  await until(() => ui.tasks.retrieve(task.id) !== undefined, 5000, 'the row');
  const target = { resource: 'tasks', id: task.id } as const;
  function Here({ state }: { state?: 'viewing' | 'editing' }) {
    const entries = usePresence(target, state);
    return <>{entries.map((p) => `${p.participantId}:${p.state}`).sort().join(',') || 'empty'}</>;
  }
  // The agent watches (publishing nothing); the page edits while mounted.
  const watcher = mount(<Here />, agent);
  await rendered(watcher, 'empty');
  const editor = mount(<Here state="editing" />);
  await rendered(watcher, 'ada:editing');
  editor.update(
    <AbloProvider client={ui}>
      <Here state="viewing" />
    </AbloProvider>,
  );
  await rendered(watcher, 'ada:viewing');
  editor.unmount();
  await rendered(watcher, 'empty');
  watcher.unmount();
});

// conformance: queued.rollback
test('useErrorListener hears a refused queued write, after its rollback is rendered', async () => {
  const task = await agent.tasks.create({ title: 'original', status: 'todo' });
  await until(() => ui.tasks.retrieve(task.id) !== undefined, 5000, 'the row');
  const heard: Array<{ error: AbloError; shown: string | undefined }> = [];
  const titles: string[] = [];
  function Card() {
    const title = useAblo((ablo) => ablo.tasks.retrieve(task.id)?.title);
    if (title !== undefined && titles.at(-1) !== title) titles.push(title);
    const ablo = useAblo();
    useErrorListener((error) => heard.push({ error, shown: ablo.tasks.retrieve(task.id)?.title }));
    return <>{title}</>;
  }
  const view = mount(<Card />);
  await rendered(view, 'original');
  const readAt = ui.snapshot({ tasks: task.id }).stamp;
  await agent.tasks.update(task.id, { title: 'theirs' });
  await rendered(view, 'theirs');
  void ui.tasks.update(task.id, { title: 'mine' }, { readAt, onStale: 'reject' });
  await until(() => heard.length > 0, 5000, 'the error');
  await rendered(view, 'theirs');
  assert.deepEqual(titles, ['original', 'theirs', 'mine', 'theirs'], 'shown at once, then rolled back');
  assert.ok(heard[0]!.error instanceof AbloStaleContextError);
  assert.equal(heard[0]!.error.code, 'stale_context');
  assert.equal(heard[0]!.shown, 'theirs', 'rolled back before the listener ran');
  view.unmount();
  // An unmounted listener hears nothing more.
  await agent.tasks.update(task.id, { title: 'theirs 2' });
  await until(() => ui.tasks.retrieve(task.id)?.title === 'theirs 2', 5000, 'the delta');
  void ui.tasks.update(task.id, { title: 'mine 2' }, { readAt, onStale: 'reject' });
  await until(() => ui.status.pendingWrites === 0, 5000, 'the refusal');
  assert.equal(heard.length, 1);
});

test('useMutate reports pending, the result, and a refusal as its error', async () => {
  const task = await agent.tasks.create({ title: 'mutate me', status: 'todo' });
  await until(() => ui.tasks.retrieve(task.id) !== undefined, 5000, 'the row');
  let run!: (title: string, readAt?: number) => Promise<unknown>;
  const states: string[] = [];
  function Save() {
    const [save, { pending, error }] = useMutate((ablo: RegisteredClient, title: string, readAt?: number) =>
      ablo.tasks.update(task.id, { title }, { wait: 'confirmed', ...(readAt !== undefined ? { readAt } : {}) }),
    );
    run = save;
    const label = pending ? 'pending' : error ? `error ${error.code}` : 'idle';
    if (states.at(-1) !== label) states.push(label);
    return <>{label}</>;
  }
  const view = mount(<Save />);
  await rendered(view, 'idle');
  const result = (await run('saved')) as { title: string };
  assert.equal(result.title, 'saved');
  await rendered(view, 'idle');
  assert.deepEqual(states, ['idle', 'pending', 'idle']);
  assert.equal(await run('stale', 1), undefined, 'a refused mutation resolves undefined');
  await rendered(view, 'error stale_context');
  view.unmount();
});

test('ClientSideSuspense shows its fallback until the client caught up; a provider built from props disposes its client', async () => {
  const grant = await server.mint({ kind: 'user', id: 'dee' });
  let built: RegisteredClient | undefined;
  const shown: string[] = [];
  function Mark({ label }: { label: string }) {
    if (shown.at(-1) !== label) shown.push(label);
    return <>{label}</>;
  }
  function Grab() {
    built = useAblo();
    return null;
  }
  function App() {
    const [show] = useState(true);
    return show ? (
      <StrictMode>
        <AbloProvider schema={schema} url={server.url} token={grant.token} WebSocket={WebSocket}>
          <Grab />
          <ClientSideSuspense fallback={<Mark label="waiting" />}>{() => <Mark label="ready" />}</ClientSideSuspense>
        </AbloProvider>
      </StrictMode>
    ) : null;
  }
  const view = create(<App />, concurrent);
  await rendered(view, 'ready');
  assert.ok(built, 'the provider built a client');
  assert.deepEqual(shown, ['waiting', 'ready'], 'the fallback until caught up, then the children');
  await settle();
  assert.equal(built!.status.status, 'connected', 'the strict-mode remount kept it');
  view.unmount();
  await until(() => built!.status.status === 'disconnected', 5000, 'the disposal');
});

test('SyncGroupProvider shows the hooks below it only the rows of its groups, live', async () => {
  const tag = `sg${Date.now()}`;
  const red = await agent.tasks.create({ title: `${tag} red`, status: 'todo', team: 'red' });
  await agent.tasks.create({ title: `${tag} blue`, status: 'todo', team: 'blue' });
  await agent.tasks.create({ title: `${tag} none`, status: 'todo' });
  await until(() => ui.tasks.list().filter((t) => t.title.startsWith(tag)).length === 3, 5000, 'the rows');
  function Titles() {
    const titles = useAblo((ablo) => ablo.tasks.list({ orderBy: 'title' }).filter((t) => t.title.startsWith(tag)).map((t) => t.title.slice(tag.length + 1)));
    const one = useAblo((ablo) => ablo.tasks.retrieve(red.id)?.title);
    const busy = useIntents({ resource: 'tasks', id: red.id });
    return <>{`${titles.join(',')}|${one ? 'red' : '-'}|${busy.length}`}</>;
  }
  const scoped = (groups: string[]) =>
    mount(
      <SyncGroupProvider groups={groups}>
        <Titles />
      </SyncGroupProvider>,
    );
  const teamRed = scoped(['team:red']);
  const teams = scoped(['team:*']);
  const plain = scoped(['default']);
  const all = mount(<Titles />);
  await rendered(teamRed, 'red|red|0');
  await rendered(teams, 'blue,red|red|0');
  await rendered(plain, 'none|-|0');
  await rendered(all, 'blue,none,red|red|0');
  // The same rule as the server's: a capability for those groups sees the same rows.
  for (const [groups, view] of [[['team:red'], teamRed], [['team:*'], teams], [['default'], plain]] as const) {
    const narrow = server.client({ token: (await server.mint({ kind: 'user', id: 'scoped' }, [...groups])).token, connect: false });
    const titles = (await narrow.tasks.load({ orderBy: 'title' })).filter((t) => t.title.startsWith(tag)).map((t) => t.title.slice(tag.length + 1));
    assert.equal(text(view).split('|')[0], titles.join(','), `${groups}`);
    await narrow.dispose();
  }

  // Intents show where their row does; a row moving team moves between views.
  const intent = await agent.intents.create({ target: { resource: 'tasks', id: red.id }, action: 'update' });
  await rendered(teamRed, 'red|red|1');
  await rendered(plain, 'none|-|0');
  await intent.release();
  await agent.tasks.update(red.id, { team: 'blue' });
  await rendered(teamRed, '|-|0');
  await rendered(teams, 'blue,red|red|0');
  // The view's writes are the client's: a write below the provider reaches the server.
  let scopedClient!: RegisteredClient;
  function Grab() {
    scopedClient = useAblo();
    return null;
  }
  const grab = mount(
    <SyncGroupProvider groups={['team:red']}>
      <Grab />
    </SyncGroupProvider>,
  );
  await until(() => scopedClient !== undefined, 5000, 'the view');
  await scopedClient.tasks.update(red.id, { team: 'red' }, { wait: 'confirmed' });
  await rendered(teamRed, 'red|red|0');
  assert.equal(scopedClient.status, ui.status, 'one connection');
  for (const view of [teamRed, teams, plain, all, grab]) view.unmount();
});

// conformance: snapshot_bootstrap
test('a fresh client bootstraps from a snapshot: hooks see no rows, then all of them with useSyncStatus caught up', async () => {
  for (let batch = 0; batch < 3; batch++) {
    const operations = Array.from({ length: 500 }, (_, i) => ({ type: 'create', model: 'tasks', data: { title: `boot ${batch * 500 + i}`, status: 'todo' } }));
    await server.admin('POST', '/v1/commits', { operations });
  }
  const { stamp, data } = await server.admin<{ stamp: number; data: unknown[] }>('GET', '/v1/models/tasks?limit=1');
  assert.equal(data.length, 1);
  const fresh = server.client({ connect: false });
  const seen: Array<{ caughtUp: boolean; count: number }> = [];
  function Board() {
    const status = useSyncStatus();
    const count = useAblo((ablo) => ablo.tasks.count());
    seen.push({ caughtUp: status.caughtUp, count });
    return <p>{`${status.caughtUp ? 'live' : 'loading'} ${count}`}</p>;
  }
  const renderer = mount(<Board />, fresh);
  await rendered(renderer, 'loading 0');
  void fresh.ready();
  await rendered(renderer, /^live \d+$/, 'caught up');
  const total = fresh.tasks.count();
  assert.ok(total >= 1500, `${total} rows`);
  assert.ok(fresh.status.cursor >= stamp);
  const all = (await fresh.tasks.load()).length;
  assert.equal(total, all, 'the snapshot held every row the server lists');
  assert.deepEqual(seen.filter((s) => s.count > 0 && s.count < total), [], 'no render saw part of the snapshot');
  assert.deepEqual(seen.filter((s) => s.caughtUp && s.count === 0), [], 'caught up only with the rows');
  renderer.unmount();
  await fresh.dispose();
});
