// Builds the console into OUT (default ../../../build/console): one bundle
// (code split where bpmn-js is loaded on demand), CSS, index.html naming the
// hashed files, and a .gz beside each file for clients that take gzip.
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || process.env.CONSOLE_OUT || join(here, '../../../build/console'));
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  sourcemap: false,
  target: ['chrome109', 'firefox115', 'safari16'],
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => relative(out, resolve(f)));
const js = outputs.find((f) => /assets\/main-.*\.js$/.test(f));
const css = outputs.find((f) => /assets\/main-.*\.css$/.test(f));
writeFileSync(join(out, 'index.html'),
  readFileSync(join(here, 'src/index.html'), 'utf8').replace('@JS@', js).replace('@CSS@', css));

// Pre-compressed copies: hubd sends them to clients that accept gzip.
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(js|css|html|svg|txt)$/.test(name)) writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
  }
}
walk(out);
let total = 0;
for (const f of outputs) total += statSync(join(out, f)).size;
console.log(`console: ${outputs.length} files, ${Math.round(total / 1024)} KiB into ${out}`);
