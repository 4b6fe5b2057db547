/**
 * Types are shipped for both kinds of consumers: a TypeScript project with NodeNext resolution type-checks an
 * ESM (.mts) and a CommonJS (.cts) file that use the package by its name, resolved through package.json
 * "exports" to the built declarations (dist/index.d.ts and dist/index.d.cts).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '../..');
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-types-'));
});
afterAll(async () => cleanup());

const usage = `
  const processor = new AuditLogRecordProcessor({ dir: '/tmp/x', fsync: 'always', onLoss: (e) => void e.records.length });
  const audit = getAuditLogger({ processor });
  const receipt: Promise<AuditReceipt> = audit.record({ action: 'LOGIN', outcome: 'success', actor: { id: 'a', type: 'user' } });
  const seq: Promise<number> = receipt.then((r) => r.sequence);
  // @ts-expect-error outcome is a closed set
  audit.record({ action: 'LOGIN', outcome: 'maybe', actor: { id: 'a', type: 'user' } });
  // No actor: the OS user with defaultActor 'os-user' (README "For command-line tools"), refused at run time otherwise.
  const cli = getAuditLogger({ processor: new AuditLogRecordProcessor({ defaultActor: 'os-user' }) });
  void cli.record({ action: 'EXECUTE', outcome: 'success' });
  void seq;
  void ATTR_ACTION;
  // Signing keys in code: made by loadSigningKeys (from any env-shaped object), passed as the option.
  const keys = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: 'hex:' + '00'.repeat(32) });
  const record: SigningKey | undefined = keys.record;
  new AuditLogRecordProcessor({ signingKeys: keys });
  void record;
`;


/** What tsc prints for the project in `project` (nothing when it type-checks). */
function tscErrors(project: string): string {
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? e);
  }
}
describe('shipped type declarations', () => {
  it('type-check an ESM and a CommonJS consumer', () => {
    const nm = join(dir, 'node_modules');
    mkdirSync(nm);
    symlinkSync(root, join(nm, 'otel-audit'), 'dir');
    symlinkSync(join(root, 'node_modules', '@opentelemetry'), join(nm, '@opentelemetry'), 'dir');
    symlinkSync(join(root, 'node_modules', '@types'), join(nm, '@types'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['esm.mts', 'cjs.cts'] }),
    );
    writeFileSync(join(dir, 'esm.mts'), `import { AuditLogRecordProcessor, getAuditLogger, loadSigningKeys, ATTR_ACTION, type AuditReceipt, type SigningKey } from 'otel-audit';\n${usage}`);
    writeFileSync(join(dir, 'cjs.cts'), `import { AuditLogRecordProcessor, getAuditLogger, loadSigningKeys, ATTR_ACTION, type AuditReceipt, type SigningKey } from 'otel-audit';\n${usage}`);
    expect(tscErrors(dir)).toBe('');
  });

  it('type-check a consumer on the legacy resolution (moduleResolution node10), subpath otel-audit/register too', () => {
    const app = join(dir, 'node10');
    const nm = join(app, 'node_modules');
    mkdirSync(nm, { recursive: true });
    symlinkSync(root, join(nm, 'otel-audit'), 'dir');
    symlinkSync(join(root, 'node_modules', '@opentelemetry'), join(nm, '@opentelemetry'), 'dir');
    symlinkSync(join(root, 'node_modules', '@types'), join(nm, '@types'), 'dir');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer-node10', private: true }));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'CommonJS', moduleResolution: 'node10', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], ignoreDeprecations: '5.0' }, files: ['app.ts'] }),
    );
    writeFileSync(
      join(app, 'app.ts'),
      `import { AuditLogRecordProcessor } from 'otel-audit';\nimport { processor } from 'otel-audit/register';\nconst p: AuditLogRecordProcessor | undefined = processor;\nvoid p;\n`,
    );
    expect(tscErrors(app)).toBe('');
  });
});
