#!/usr/bin/env node
// Launcher of the `autochain` command: refuses a Node too old to run it, then starts the compiled CLI (dist/bin/cli.js).
// Plain JavaScript that every Node can parse, so an old Node gets a sentence instead of a syntax error.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (!(major >= 22)) {
  process.stderr.write(
    'autochain needs Node 22 or newer (this is ' +
      process.version +
      '): run it with `npx autochain` or `npm start`, ' +
      'which use the pinned Node 24, or install Node 22+.\n',
  );
  process.exit(1);
}

const cli = new URL('../dist/bin/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('autochain is not built yet: run npm run build (dist/bin/cli.js is missing).\n');
  process.exit(1);
}
// No top-level await: a Node too old for it must still reach the version check above.
import(cli.href)
  .then((m) => m.main(process.argv))
  .then((code) => {
    process.exitCode = code;
  });
