/**
 * OTEL_AUDIT_DEFAULT_ACTOR=os-user fills in defaults; a default must never make an event the caller built valid
 * fail, nor be blamed on a field the caller never set.
 */
import { expect, it, vi } from 'vitest';

// Linux allows a 64-character host name label; DNS (and the schema's source.address) allows 63.
const LONG_HOST = 'a'.repeat(64);
vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  return { ...actual, default: { ...actual, hostname: () => LONG_HOST }, hostname: () => LONG_HOST };
});

const { withOsIdentity } = await import('../../src/map/os-identity.js');
const { validateEvent } = await import('../../src/map/map-event.js');

it('a host name the schema refuses is left out, not put in source.address (every event was refused for it)', () => {
  const out = withOsIdentity({ action: 'EXECUTE', outcome: 'success' });
  expect(out.source).toBeUndefined();
  expect(() => validateEvent(out)).not.toThrow();
  expect(out.actor?.type).toBe('user');
});

it('64 details and no actor: the uid detail is not added past the limit, and the event stays valid', () => {
  const details = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`d${i}`, i]));
  const out = withOsIdentity({ action: 'EXECUTE', outcome: 'success', details });
  expect(Object.keys(out.details!)).toHaveLength(64);
  expect(out.details).not.toHaveProperty(['process.user.id']);
  expect(() => validateEvent(out)).not.toThrow();
  // With room, it is added as before.
  const some = withOsIdentity({ action: 'EXECUTE', outcome: 'success', details: { d: 1 } });
  expect(some.details).toHaveProperty(['process.user.id']);
});
