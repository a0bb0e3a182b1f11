// Edit-in-one-page to render-in-the-other latency, with where the time
// goes. Page `from` calls `ablo.tasks.update(id, { title })` and records the
// time; page `to` records, in a layout effect of the card, when that title
// is first on screen (after React committed it to the DOM). Each sample is
// split into:
//
//   previousAnswer   `update` called → the answer to the previous edit's commit (writes are
//                    sent one at a time, in order; 0 when it was already in)
//   queue            then → the client calls fetch for the commit
//   network          fetch called → the request starts (Resource Timing of `from`)
//   commitRoundTrip  the commit request → its answer, in `from`
//   toSocket         the commit request → the delta's WebSocket message arriving in `to`
//   apply            the message arriving → the pool changed (a client listener in `to`)
//   render           the pool changed → the card's layout effect
//
// and the server's own commit time (`ablo_commit_latency_seconds` from
// /metrics) is averaged over the run. All times are ms since the epoch
// (`performance.timeOrigin + now()`), comparable between the two tabs.

import { loadavg } from 'node:os';

/**
 * An init script (`page.addInitScript`): records when each WebSocket
 * message carrying a `latency N` title arrived, before the client's
 * handler runs.
 */
export function recordSocketArrivals() {
  // And when the client called fetch for each commit (Resource Timing starts later, in the network stack).
  const nativeFetch = window.fetch;
  window.__fetchCalls = [];
  window.fetch = function (input, init) {
    if (String(input).endsWith('/v1/commits')) window.__fetchCalls.push(performance.timeOrigin + performance.now());
    return nativeFetch.call(this, input, init);
  };
  const Native = window.WebSocket;
  window.__wsReceived = {};
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (typeof event.data !== 'string' || !event.data.includes('latency ')) return;
        const at = performance.timeOrigin + performance.now();
        for (const [, title] of event.data.matchAll(/"title":"(latency \d+)"/g)) window.__wsReceived[title] ??= at;
      });
    }
  };
}

const quantiles = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  const pick = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { p50Ms: +pick(0.5).toFixed(2), p99Ms: +pick(0.99).toFixed(2), maxMs: +sorted.at(-1).toFixed(2) };
};

async function commitMetrics(server) {
  const answer = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.apiKey}` } });
  const text = await answer.text();
  const value = (name) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  return { sum: value('ablo_commit_latency_seconds_sum'), count: value('ablo_commit_latency_seconds_count') };
}

/** Runs `edits` sequential title edits of row `id` from page `from`, each awaited on screen in page `to`. */
export async function measureLatency({ from, to, id, server, edits = 200 }) {
  await from.evaluate(() => {
    performance.setResourceTimingBufferSize(10_000);
    window.__fetchCalls = [];
    window.__commits = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.name.endsWith('/v1/commits')) {
          window.__commits.push({ start: performance.timeOrigin + e.startTime, end: performance.timeOrigin + e.responseEnd });
        }
      }
    }).observe({ type: 'resource' });
  });
  await to.evaluate((id) => {
    window.__applied = {};
    window.__ablo.subscribe(() => {
      const title = window.__ablo.tasks.retrieve(id)?.title;
      if (title) window.__applied[title] ??= performance.timeOrigin + performance.now();
    });
  }, id);
  const before = await commitMetrics(server);
  const load = loadavg().map((l) => +l.toFixed(2));
  const sent = [];
  for (let i = 0; i < edits; i++) {
    const title = `latency ${i}`;
    sent.push(
      await from.evaluate(
        ([id, title]) => {
          const at = performance.timeOrigin + performance.now();
          void window.__ablo.tasks.update(id, { title });
          return at;
        },
        [id, title],
      ),
    );
    await to.waitForFunction((title) => window.__rendered?.[title] !== undefined, title, { polling: 'raf' });
  }
  const after = await commitMetrics(server);
  await from.waitForFunction((n) => window.__commits.length >= n, sent.length);
  const commits = await from.evaluate(() => window.__commits);
  const calls = await from.evaluate(() => window.__fetchCalls);
  const seen = await to.evaluate(() => ({ ws: window.__wsReceived, applied: window.__applied, rendered: window.__rendered }));
  const parts = { total: [], previousAnswer: [], queue: [], network: [], commitRoundTrip: [], toSocket: [], apply: [], render: [] };
  sent.forEach((at, i) => {
    const title = `latency ${i}`;
    const commit = commits[i];
    parts.total.push(seen.rendered[title] - at);
    const ready = Math.max(at, commits[i - 1]?.end ?? 0);
    parts.previousAnswer.push(ready - at);
    parts.queue.push(calls[i] - ready);
    parts.network.push(commit.start - calls[i]);
    parts.commitRoundTrip.push(commit.end - commit.start);
    parts.toSocket.push(seen.ws[title] - commit.start);
    parts.apply.push(seen.applied[title] - seen.ws[title]);
    parts.render.push(seen.rendered[title] - seen.applied[title]);
  });
  return {
    edits: sent.length,
    ...quantiles(parts.total),
    loadAverage: { before: load, after: loadavg().map((l) => +l.toFixed(2)) },
    serverCommitMeanMs: +(((after.sum - before.sum) / (after.count - before.count)) * 1000).toFixed(2),
    breakdown: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, quantiles(v)])),
  };
}
