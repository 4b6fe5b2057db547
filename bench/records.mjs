// @ts-check
/**
 * The record shapes of the pipeline benchmark (bench/pipeline.mjs, bench/variant.mjs). A shape is named by its
 * number of attributes. Every record is the same `user.login` event; a few attribute values vary with the
 * record's index `i`, so that no two consecutive records are identical.
 */

/**
 * @typedef {string | number | boolean | string[]} AttrValue
 * @typedef {{ eventName: string, severityNumber: number, body: string, attributes: Record<string, AttrValue> }} BenchRecord
 */

/** 15 attributes: the audit fields plus HTTP request fields, an array and two numbers. @param {number} i @returns {BenchRecord} */
function record15(i) {
  return {
    eventName: 'user.login',
    severityNumber: 9,
    body: 'login ok',
    attributes: {
      'audit.actor.id': `user-${i % 1000}`,
      'audit.actor.type': 'user',
      'audit.action': 'LOGIN',
      'audit.outcome': 'success',
      'audit.target.id': `acct-${i % 97}`,
      'audit.target.type': 'account',
      'audit.source.id': '10.1.2.3',
      'audit.source.type': 'ipv4',
      'client.address': '10.1.2.3',
      'session.id': `s-${i % 50}`,
      'http.request.method': 'POST',
      'url.path': '/login',
      'user.roles': ['reader', 'writer'],
      'request.size': i,
      'latency.ms': 12.5,
    },
  };
}

/** 9 attributes: a plain audit record, strings only. @param {number} i @returns {BenchRecord} */
function record9(i) {
  return {
    eventName: 'user.login',
    severityNumber: 9,
    body: 'login ok',
    attributes: {
      'audit.actor.id': `user-${i % 1000}`,
      'audit.actor.type': 'user',
      'audit.action': 'LOGIN',
      'audit.outcome': 'success',
      'audit.target.id': `acct-${i % 97}`,
      'audit.target.type': 'account',
      'audit.source.id': '10.1.2.3',
      'client.address': '10.1.2.3',
      'session.id': `s-${i % 50}`,
    },
  };
}

/** Shape name (BENCH_SHAPES, the variant's `shape` argument) → record factory. */
export const SHAPES = /** @type {Readonly<Record<string, (i: number) => BenchRecord>>} */ ({ 15: record15, 9: record9 });
