// The board's app server: serves the built page, answers the session route
// (`/api/ablo/session`: a short-lived `user` capability for the signed-in
// user, minted with the API key, which never reaches the browser) and
// forwards `/v1/*` (HTTP and the WebSocket) to the Ablo server, so the page
// talks to one origin.
//
//   ABLO_URL=http://127.0.0.1:7700 ABLO_API_KEY=sk_test_... node server.mjs [port]

import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sessionHandler } from '@ablo/client/server';

const root = join(fileURLToPath(new URL('.', import.meta.url)), 'dist');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Starts the app server; resolves with its URL and a `close`. */
export async function startAppServer({ abloUrl, apiKey, port = 0 }) {
  const upstream = new URL(abloUrl);
  // A real app reads its own session cookie; the demo takes `?user=`.
  const session = sessionHandler({
    url: abloUrl,
    apiKey,
    authenticate: (request) => {
      const user = new URL(request.url).searchParams.get('user');
      return user ? { userId: user, syncGroups: ['*'], operations: ['tasks.*'], ttlSeconds: 600 } : null;
    },
  });

  const server = createServer({ noDelay: true }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app.local');
    if (url.pathname === '/api/ablo/session') {
      const response = await session(new Request(url, { method: req.method }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(await response.text());
      return;
    }
    if (url.pathname.startsWith('/v1/')) {
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      // Small requests and answers must not wait for Nagle's algorithm (a 40 ms stall per write otherwise).
      forward.on('socket', (socket) => socket.setNoDelay(true));
      forward.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"error":{"type":"server","code":"upstream_unavailable","message":"the Ablo server is not reachable"}}');
      });
      // The whole body in one write with the headers.
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => forward.end(Buffer.concat(chunks)));
      return;
    }
    const path = url.pathname === '/' ? '/index.html' : normalize(url.pathname).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });

  // The WebSocket upgrade: a byte pipe to the Ablo server. Upgraded sockets
  // are not the HTTP server's any more, so `close` ends them itself.
  const piped = new Set();
  server.on('upgrade', (req, socket, head) => {
    piped.add(socket);
    socket.on('close', () => piped.delete(socket));
    // No Nagle delay on either side: deltas are small frames that must not wait.
    socket.setNoDelay(true);
    const target = connect({ port: Number(upstream.port), host: upstream.hostname, noDelay: true }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      target.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) target.write(head);
      socket.pipe(target).pipe(socket);
    });
    target.on('error', () => socket.destroy());
    socket.on('error', () => target.destroy());
  });

  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of piped) socket.destroy();
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const app = await startAppServer({
    abloUrl: process.env.ABLO_URL ?? 'http://127.0.0.1:7700',
    apiKey: process.env.ABLO_API_KEY,
    port: Number(process.argv[2] ?? 5173),
  });
  console.log(`board at ${app.url}/?user=ada`);
}
