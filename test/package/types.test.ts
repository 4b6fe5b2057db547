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
  // @ts-expect-error an object of the same shape is not a SigningKey (refused at run time too)
  new AuditLogRecordProcessor({ signingKeys: { record: { keyId: 'k1', algorithm: 'EdDSA' } } });
  // Readonly arrays and as-const literals: the event is only read. AuditEvent itself stays mutable for code that builds one.
  const built: AuditEvent = { action: 'X', outcome: 'success', actor: { id: 'a', type: 'user', roles: ['r'] } };
  built.actor.roles?.push('x');
  void audit.record(built);
  const ROLES: readonly string[] = ['admin'];
  void audit.record({ action: 'GRANT', outcome: 'success', actor: { id: 'alice', type: 'user', roles: ROLES }, details: { scopes: ['read', 'write'] } } as const);
  // The types public signatures use can be named.
  const lp: LogsLoggerProvider | undefined = undefined;
  const rec: OtlpLogRecord = { attributes: [] };
  const replayed: Promise<ReplayReport | undefined> = processor.replayed();
  void lp; void rec; void replayed;
  // @internal members stay out of the declarations.
  // @ts-expect-error the exit hook's entry point is not part of the API
  processor._onProcessExit();
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
/**
 * A consumer project in `app` that resolves otel-audit to this checkout (its node_modules linked: @opentelemetry, and
 * @types unless `nodeTypes` is false), with these compiler options and files; what tsc prints for it.
 */
function consumer(app: string, pkg: object, compilerOptions: object, files: Record<string, string>, nodeTypes = true): string {
  const nm = join(app, 'node_modules');
  mkdirSync(nm, { recursive: true });
  symlinkSync(root, join(nm, 'otel-audit'), 'dir');
  symlinkSync(join(root, 'node_modules', '@opentelemetry'), join(nm, '@opentelemetry'), 'dir');
  if (nodeTypes) symlinkSync(join(root, 'node_modules', '@types'), join(nm, '@types'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ private: true, ...pkg }));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', strict: true, noEmit: true, ...compilerOptions }, files: Object.keys(files) }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(app, name), text);
  return tscErrors(app);
}

describe('shipped type declarations', () => {
  it('type-check an ESM and a CommonJS consumer', () => {
    const imports = `import { AuditLogRecordProcessor, getAuditLogger, loadSigningKeys, ATTR_ACTION, type AuditReceipt, type SigningKey, type LogsLoggerProvider, type OtlpLogRecord, type ReplayReport, type AuditEvent } from 'otel-audit';`;
    const options = { module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: false, types: ['node'] };
    expect(consumer(join(dir, 'nodenext'), { name: 'consumer' }, options, { 'esm.mts': `${imports}\n${usage}`, 'cjs.cts': `${imports}\n${usage}` })).toBe('');
  });

  it('type-check a consumer on the legacy resolution (moduleResolution node10), subpath otel-audit/register too', () => {
    const options = { module: 'CommonJS', moduleResolution: 'node10', skipLibCheck: true, types: ['node'], ignoreDeprecations: '5.0' };
    const app = `import { AuditLogRecordProcessor } from 'otel-audit';\nimport { processor } from 'otel-audit/register';\nconst p: AuditLogRecordProcessor | undefined = processor;\nvoid p;\n`;
    expect(consumer(join(dir, 'node10'), { name: 'consumer-node10' }, options, { 'app.ts': app })).toBe('');
  });

  // Found in review: loadSigningKeys was declared with NodeJS.ProcessEnv, so a project without @types/node failed to
  // compile the package's own declarations. (The default libraries, DOM included: OTel's and zod's own declarations
  // need console and URL.)
  it('type-check a consumer without @types/node (types: [], declarations checked)', () => {
    const options = { module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: false, types: [] };
    const app =
      `import { auditProcessorFromEnv, getAuditLogger, loadSigningKeys, AuditLossError } from 'otel-audit';\n` +
      `const processor = auditProcessorFromEnv();\nconst keys = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: 'hex:' + '00'.repeat(32) });\n` +
      `void getAuditLogger({ processor }).record({ action: 'LOGIN', outcome: 'success', actor: { id: 'a', type: 'user' } }).catch((e: unknown) => e instanceof AuditLossError);\nvoid keys;\n`;
    expect(consumer(join(dir, 'no-node-types'), { name: 'consumer-no-node-types', type: 'module' }, options, { 'app.ts': app }, false)).toBe('');
  });
});
