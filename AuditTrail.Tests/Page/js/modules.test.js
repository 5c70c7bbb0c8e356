// The page's modules stay small, type-checked and acyclic (issue 27's rules for the page, kept).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const assets = new URL('../../../AuditTrail.Functions/Page/assets/', import.meta.url);
const modules = new Map(readdirSync(assets).filter((name) => name.endsWith('.js'))
  .map((name) => [name, readFileSync(new URL(name, assets), 'utf8')]));

/** @param {string} source */
const importsOf = (source) => [...source.matchAll(/^import (?:[^'"]* from )?'\.\/([\w-]+\.js)';$/gm)].map((m) => m[1]);

test('every module is at most 300 lines and type-checked', () => {
  assert.ok(modules.has('app.js'));
  for (const [name, source] of modules) {
    assert.ok(source.split('\n').length - 1 <= 300, `${name} has more than 300 lines`);
    assert.ok(source.startsWith('// @ts-check\n'), `${name} does not start with // @ts-check`);
  }
});

test('modules import only modules of the page, and none imports itself back', () => {
  const graph = new Map([...modules].map(([name, source]) => [name, importsOf(source)]));
  for (const [name, imports] of graph) {
    for (const target of imports) {
      assert.ok(graph.has(target), `${name} imports ${target}, which is not in the page`);
    }
  }
  // Depth-first, with the path so far: a module met again on its own path is a cycle.
  const done = new Set();
  const visit = (name, path) => {
    assert.ok(!path.includes(name), `import cycle: ${[...path, name].join(' → ')}`);
    if (done.has(name)) {
      return;
    }
    for (const target of graph.get(name)) {
      visit(target, [...path, name]);
    }
    done.add(name);
  };
  for (const name of graph.keys()) {
    visit(name, []);
  }
});

test('the page preloads every module, so the browser fetches them at once and not import by import', () => {
  const html = readFileSync(new URL('index.html', assets), 'utf8');
  const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/assets\/([\w-]+\.js)">/g)].map((m) => m[1]).sort();
  assert.deepEqual(preloaded, [...modules.keys()].filter((name) => name !== 'app.js').sort());
});
