// Bundle size of the client and of the React entry: minified by esbuild,
// then gzip. The React entry is measured on top of the client (the core
// modules it imports and React itself are left out, as an app that uses
// both pays for the core once).
//
//   node scripts/size.mjs        prints the figures and writes dist/size.json

import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function measure(entry, external, plugins = []) {
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    external,
    plugins,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

// From dist/react/*, `../x.js` is the core client: not part of the React entry's own cost.
const coreExternal = {
  name: 'core-external',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/[^/]+\.js$/ }, (args) => ({ path: args.path, external: true }));
  },
};

const client = await measure('dist/index.js', []);
const react = await measure('dist/react/index.js', ['react', 'react/jsx-runtime'], [coreExternal]);
const figures = { client, react };
writeFileSync(join(root, 'dist', 'size.json'), `${JSON.stringify(figures, null, 2)}\n`);
const kb = (n) => `${(n / 1024).toFixed(2)} KiB`;
console.log(`@ablo/client        ${kb(client.minified)} minified, ${kb(client.gzip)} gzip`);
console.log(`@ablo/client/react  ${kb(react.minified)} minified, ${kb(react.gzip)} gzip (on top of the client)`);
