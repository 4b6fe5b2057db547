/**
 * Headless Chromium for the report tests: renders a local page in a fresh profile, with name resolution
 * mapped to nowhere, and returns the DOM as rendered plus every network request the PAGE made (from
 * Chromium's net log: requests whose isolation key is the file:// page — the browser's own background
 * requests to its vendor are not the page's and are left out).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The Chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      const p = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (p !== '') return p;
    } catch {
      /* not this one */
    }
  }
  return undefined;
}

export interface Rendered {
  dom: string;
  /** URLs the page asked the network for. */
  pageRequests: string[];
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND',
];

interface NetLog {
  constants: { logEventTypes: Record<string, number> };
  events: Array<{ type: number; params?: Record<string, unknown> }>;
}

function pageRequests(netLogFile: string): string[] {
  const log = JSON.parse(readFileSync(netLogFile, 'utf8')) as NetLog;
  const start = log.constants.logEventTypes['URL_REQUEST_START_JOB'];
  const out: string[] = [];
  for (const e of log.events) {
    if (e.type !== start || e.params === undefined) continue;
    const nik = String(e.params['network_isolation_key'] ?? '');
    const site = String(e.params['site_for_cookies'] ?? '');
    if (nik.includes('file://') || site.includes('file://')) out.push(String(e.params['url']));
  }
  return out;
}

/** Renders `file` with `--dump-dom`; with `screenshot`, also writes a PNG of it (1280×2000). */
export function render(chromium: string, file: string, screenshot?: string): Rendered {
  const profile = mkdtempSync(join(tmpdir(), 'otel-audit-chromium-'));
  try {
    const netLog = join(profile, 'net-log.json');
    const url = pathToFileURL(file).href;
    const r = spawnSync(chromium, [...FLAGS, `--user-data-dir=${profile}`, `--log-net-log=${netLog}`, '--dump-dom', url], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 256 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`chromium exited ${r.status} ${r.signal ?? ''}: ${r.stderr.slice(-2000)}`);
    if (screenshot !== undefined) {
      const s = spawnSync(chromium, [...FLAGS, `--user-data-dir=${profile}`, `--screenshot=${screenshot}`, '--window-size=1280,2000', url], { timeout: 60_000 });
      if (s.status !== 0) throw new Error(`chromium --screenshot exited ${s.status}`);
    }
    return { dom: r.stdout, pageRequests: pageRequests(netLog) };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
