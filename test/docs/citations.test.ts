/**
 * Code cites only documents in the repository (ARCHITECTURE.md, docs/*.md), by section, and every cited section
 * exists: a renumbered heading or a citation of a document the repository does not hold fails here.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const SOURCE_DIRS = ['src', 'test', 'examples', 'scripts', 'bench'];
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (SOURCE.test(name)) yield p;
  }
}

/** Section numbers of a markdown file: `## 5.` → 5, `### 5.2` → 5.2. */
function sections(doc: string): Set<string> {
  const out = new Set<string>();
  for (const m of readFileSync(join(root, doc), 'utf8').matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]!);
  return out;
}

interface Citation {
  where: string;
  doc: string;
  section: string;
}

function citations(): { cited: Citation[]; design: string[] } {
  const cited: Citation[] = [];
  const design: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const f of files(join(root, dir))) {
      if (f === join(root, 'test/docs/citations.test.ts')) continue;
      const lines = readFileSync(f, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const where = `${relative(root, f)}:${i + 1}`;
        if (/\bDESIGN\b(\.md)?\s*§/.test(line)) design.push(where);
        for (const m of line.matchAll(/\b(ARCHITECTURE\.md|docs\/[\w-]+\.md)\s+§(\d+(?:\.\d+)*)/g)) cited.push({ where, doc: m[1]!, section: m[2]! });
      });
    }
  }
  return { cited, design };
}

describe('citations in the code', () => {
  const { cited, design } = citations();

  it('never cite DESIGN, a document outside the repository', () => {
    expect(design).toEqual([]);
  });

  it('name sections that exist', () => {
    const known = new Map<string, Set<string>>();
    const missing: string[] = [];
    for (const c of cited) {
      if (!known.has(c.doc)) {
        try {
          known.set(c.doc, sections(c.doc));
        } catch {
          known.set(c.doc, new Set());
        }
      }
      if (!known.get(c.doc)!.has(c.section)) missing.push(`${c.where}: ${c.doc} §${c.section}`);
    }
    expect(missing).toEqual([]);
    expect(cited.length).toBeGreaterThan(10); // the scan itself works
  });

  it('the section parser reads numbered headings', () => {
    const s = sections('ARCHITECTURE.md');
    expect(s.has('5.2')).toBe(true);
    expect(s.has('2.1')).toBe(true);
    expect(s.has('42')).toBe(false);
  });
});
