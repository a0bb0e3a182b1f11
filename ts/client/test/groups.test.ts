// A browser session sees only its groups; a row that leaves them is removed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AbloPermissionError, AbloNotFoundError } from '@ablo/client';
import { TestServer, until } from './harness.js';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server.stop();
});

// conformance: groups.row-leaves
test('a row moved out of the session groups disappears from its pool', async () => {
  const admin = server.client();
  const red = await server.mint({ kind: 'user', id: 'u_red' }, ['team:red']);
  const member = server.client({ token: red.token });
  await Promise.all([admin.ready(), member.ready()]);

  const mine = await admin.tasks.create({ title: 'red task', status: 'todo', team: 'red' });
  const theirs = await admin.tasks.create({ title: 'blue task', status: 'todo', team: 'blue' });
  await until(() => member.tasks.retrieve(mine.id) !== undefined, 5000, 'the red task at the member');
  assert.equal(member.tasks.retrieve(theirs.id), undefined, 'nothing of another team arrives');
  assert.deepEqual((await member.tasks.load()).map((t) => t.id), [mine.id]);

  await admin.tasks.update(mine.id, { team: 'blue' });
  await until(() => member.tasks.retrieve(mine.id) === undefined, 5000, 'the removal');
  assert.equal(member.tasks.list().length, 0);

  await assert.rejects(member.tasks.update(theirs.id, { title: 'nope' }, { wait: 'confirmed' }), (e: unknown) => e instanceof AbloNotFoundError || e instanceof AbloPermissionError);
  await admin.tasks.update(mine.id, { team: 'red' });
  await until(() => member.tasks.retrieve(mine.id)?.team === 'red', 5000, 'the row coming back');
  await Promise.all([admin.dispose(), member.dispose()]);
});
