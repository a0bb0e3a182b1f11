#!/usr/bin/env node
// Checks the shared conformance list (tests/conformance.json) against the
// tests of both clients: every scenario must have at least one tagged test
// in each client it applies to, every tag must name a scenario of the list
// and sit directly above a test that runs (not skipped or ignored).
//
//   node scripts/conformance.mjs            check, print one line per scenario
//
// A tag is a comment `// conformance: <id>[, <id>...]` directly above
// `#[tokio::test]` / `#[test]` (Rust, tests/tests/*.rs) or `test(...)`
// (TypeScript: ts/client/test/*.test.ts(x), examples/react-tasks/e2e/*.test.mjs).

import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const list = JSON.parse(readFileSync(join(root, 'tests', 'conformance.json'), 'utf8'));
const problems = [];
const scenarios = new Map();
for (const scenario of list.scenarios) {
  if (!/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/.test(scenario.id)) problems.push(`bad scenario id ${JSON.stringify(scenario.id)}`);
  if (scenarios.has(scenario.id)) problems.push(`scenario ${scenario.id} is listed twice`);
  const clients = scenario.clients ?? [];
  if (!clients.length || clients.some((c) => c !== 'rust' && c !== 'ts')) problems.push(`scenario ${scenario.id}: clients must be "rust" and/or "ts"`);
  if (clients.length === 1 && !scenario.why) problems.push(`scenario ${scenario.id} applies to ${clients[0]} only and must say why`);
  scenarios.set(scenario.id, { ...scenario, tests: { rust: [], ts: [] } });
}

const files = (dir, pattern) =>
  readdirSync(join(root, dir))
    .filter((name) => pattern.test(name))
    .map((name) => join(root, dir, name));

const sources = [
  ...files('tests/tests', /\.rs$/).map((path) => ({ path, client: 'rust' })),
  ...files('ts/client/test', /\.test\.tsx?$/).map((path) => ({ path, client: 'ts' })),
  ...files('examples/react-tasks/e2e', /\.test\.mjs$/).map((path) => ({ path, client: 'ts' })),
];

const TAG = /^\s*\/\/\s*conformance:\s*(.*)$/;
for (const { path, client } of sources) {
  const lines = readFileSync(path, 'utf8').split('\n');
  const where = (i) => `${relative(root, path)}:${i + 1}`;
  lines.forEach((line, i) => {
    const tag = TAG.exec(line);
    if (!tag) return;
    const ids = tag[1].split(',').map((s) => s.trim()).filter(Boolean);
    for (const id of ids) if (!scenarios.has(id)) problems.push(`${where(i)}: unknown scenario ${JSON.stringify(id)} (not in tests/conformance.json)`);
    // The test this tag is on: the next lines, past further tags and attributes.
    let j = i + 1;
    let attributes = [];
    while (j < lines.length && (TAG.test(lines[j]) || /^\s*#\[/.test(lines[j]))) {
      if (/^\s*#\[/.test(lines[j])) attributes.push(lines[j].trim());
      j++;
    }
    let name;
    if (client === 'rust') {
      const fn = /^\s*(?:pub\s+)?(?:async\s+)?fn\s+(\w+)/.exec(lines[j] ?? '');
      const isTest = attributes.some((a) => /^#\[(tokio::)?test\b/.test(a));
      if (!fn || !isTest) return problems.push(`${where(i)}: the tag is not directly above a #[test] / #[tokio::test] fn`);
      if (attributes.some((a) => a.startsWith('#[ignore'))) return problems.push(`${where(i)}: ${fn[1]} is #[ignore]d`);
      name = `${relative(join(root, 'tests/tests'), path).replace(/\.rs$/, '')}::${fn[1]}`;
    } else {
      const call = /^\s*(test|it)(\.\w+)?\(\s*(['"`])(.*?)\3/.exec(lines[j] ?? '');
      if (!call) return problems.push(`${where(i)}: the tag is not directly above a test(...)`);
      if (call[2] && call[2] !== '.only') return problems.push(`${where(i)}: ${call[1]}${call[2]} does not run`);
      if (/\{\s*skip:\s*true|\{\s*todo:\s*true/.test(lines[j])) return problems.push(`${where(i)}: the test is skipped`);
      name = `${relative(root, path)}: ${call[4]}`;
    }
    for (const id of ids) {
      const scenario = scenarios.get(id);
      if (!scenario) continue;
      if (!scenario.clients.includes(client)) {
        problems.push(`${where(i)}: scenario ${id} does not apply to the ${client} client (${scenario.why ?? ''})`);
        continue;
      }
      scenario.tests[client].push(name);
    }
  });
}

for (const scenario of scenarios.values()) {
  for (const client of scenario.clients) {
    if (scenario.tests[client].length === 0) problems.push(`scenario ${scenario.id} has no ${client === 'rust' ? 'Rust' : 'TypeScript'} test`);
  }
  const count = (c) => (scenario.clients.includes(c) ? String(scenario.tests[c].length) : '-');
  console.log(`  ${scenario.id.padEnd(28)} rust ${count('rust').padStart(2)}  ts ${count('ts').padStart(2)}`);
}
if (problems.length) {
  console.error(`conformance: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`conformance: ${scenarios.size} scenarios, each with a test in every client it applies to`);
