/**
 * AuditLogRecordProcessor: the pipeline of ARCHITECTURE.md §2 behind the sdk-logs `LogRecordProcessor` interface.
 *
 *   onEmit (sync):  select → validate (raw records) → reserve a sequence number, stamp the live record → queue
 *   next tick:      seal the queue in order (encode → canonical → hash) → delivery.accept
 *   background:     journal group commit, OTLP export, replay of streams left by earlier processes
 *
 * With fsync `always` the queue is sealed and journaled before onEmit returns.
 *
 * `onEmit` never throws: an audit record it cannot keep is reported through the loss policy, and every other
 * record passes through untouched.
 */
import { diagLog } from './core/diag-log.js';
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { randomUUID } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';
import { abortsOnUncaughtException } from './core/abort-on-uncaught.js';
import { AuditFlushTimeoutError, AuditLossError, errorText } from './core/errors.js';
import { settleWithin } from './core/deadline.js';
import { onExitSync } from './core/exit-hooks.js';
import { sayLoudly, writeStderrSync } from './core/say.js';
import { HashChain } from './chain/chain.js';
import { stampLiveRecord } from './chain/live-stamps.js';
import { SealQueue, type SealEntry } from './chain/seal-queue.js';
import { snapshotRecord, type SealInput } from './chain/snapshot.js';
import { RecordSealer, type SealSigner } from './chain/seal.js';
import { SyntheticRecord } from './chain/synthetic-record.js';
import { groupOf } from './chain/group.js';
import { resolveOptions, type AuditProcessorOptions, type ResolvedOptions } from './config/options.js';
import type { Deferred } from './deliver/deferred.js';
import { Delivery } from './deliver/delivery.js';
import { LossReporter } from './deliver/loss.js';
import { AuditMetrics, type DeliveryStats } from './deliver/metrics.js';
import { OtlpSender } from './deliver/otlp-sender.js';
import type { AuditReceipt } from './deliver/receipt.js';
import { Replayer, type ReplayOptions, type ReplayReport } from './deliver/replay.js';
import * as A from './core/attributes.js';
import { ownRecordId } from './core/record-id.js';
import { disownReservedNames } from './map/reserved.js';
import { validateRawAttributes } from './map/validate-record.js';
import { isSlotRecord, limitChanges, type TypedSlot } from './map/typed-slot.js';
import { SEVERITY_INFO, type SdkInstrumentationScope, type SdkResource } from './otel/types.js';
import { createSelector, type AuditSelector } from './select/selector.js';
import { uuidV4 } from './core/uuid.js';
import { StdoutSink } from './sinks/stdout.js';
import {
  CheckpointSchedule,
  EVENT_CHECKPOINT,
  checkpointAttributes,
  createRecordSigner,
  integrityAttributes,
  restartAttributes,
  type SigningKey,
} from './integrity/index.js';
import { enforceRetention } from './sinks/retention.js';

/** The typed API's record being emitted, with the settler of its receipt. */
type ReceiptSlot = TypedSlot<Deferred<AuditReceipt>>;

/** What `shutdownWithReport()` resolves with: where every record of this processor's stream went. */
export interface ShutdownReport {
  /** This process's stream (`audit.sequence.stream_id`). */
  streamId: string;
  /** Records accepted into the stream (the end marker included). */
  emitted: number;
  /** Acknowledged by the collector. */
  exported: number;
  /** Accepted but not acknowledged by the collector: left in the journal for the next start. */
  undelivered: number;
  /**
   * Refused for good by the collector (HTTP 4xx, a non-retryable gRPC status), never delivered: kept in the
   * journal's rejected/ directory and said on stderr when refused. Not in `exported`, not in `undelivered`.
   */
  rejected: number;
  /** Refused by the loss policy or lost (each reported on stderr and to `onLoss`). */
  dropped: number;
  /** The journal segments of this stream still on disk. */
  journalFiles: string[];
  /**
   * Earlier processes' streams this one was replaying when it shut down, not replayed to their end: what their
   * replay did not deliver stays in the journal, for the next start.
   */
  replayUnfinished: string[];
}

const REGISTRY = Symbol.for('otel-audit.processor');
type Registry = { [REGISTRY]?: AuditLogRecordProcessor };

/**
 * The resource of a record that takes an unsealable one's place when the last resource cannot be encoded: only what
 * grouping reads of a Resource (chain/group.ts), with no attributes.
 */
const FALLBACK_RESOURCE = { attributes: {}, asyncAttributesPending: false } as unknown as SdkResource;

/**
 * The OpenTelemetry LogRecordProcessor that turns audit records into a tamper-evident stream: it seals each into a
 * hash chain, journals it in `OTEL_AUDIT_DIR` and delivers it to the OTLP collector without silent loss (README
 * "Guarantees"). Register it on the LoggerProvider (or NodeSDK's `logRecordProcessors`); processors after it see
 * the record id, stream id and sequence number stamped (ARCHITECTURE.md §2.3). Records it does not select (no
 * audit attributes, README "Attributes") pass through untouched.
 */
export class AuditLogRecordProcessor implements LogRecordProcessor {
  /** The options in effect: code options over `OTEL_AUDIT_*` and `OTEL_EXPORTER_OTLP_*` variables over defaults. */
  readonly options: Readonly<ResolvedOptions>;
  /** This process's stream: `audit.sequence.stream_id` of every record it seals, and the journal files' names. */
  readonly streamId: string;
  private readonly chain: HashChain;
  private readonly queue: SealQueue<Deferred<AuditReceipt> | undefined>;
  private readonly delivery: Delivery;
  private readonly select: AuditSelector;
  private readonly loss: LossReporter;
  private readonly metrics: AuditMetrics;
  private readonly replayer: Replayer | undefined;
  /** The stream of an earlier process that this one took over (restart link), if any. */
  readonly previousStreamId: string | undefined;
  private replayDone: Promise<ReplayReport | undefined> = Promise.resolve(undefined);
  private replayStopped: ((report: ReplayReport) => void) | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Streams a replay of this process ran to their end (replayRan). */
  private readonly replayTried = new Set<string>();
  private rescanSender: OtlpSender | undefined;
  /** The rescan replaying now, if any (one at a time). */
  private rescanning: { replayer: Replayer; done: Promise<unknown> } | undefined;
  private started = false;
  private shutdownPromise: Promise<ShutdownReport> | undefined;
  /**
   * Set as shutdown starts, before `shutdownPromise` exists: a record emitted while shutdown seals the queue (from a
   * getter, or a diag logger that emits audit records) would otherwise land after the stream's end marker.
   */
  private closing = false;
  /**
   * The process exit hook ran (_onProcessExit): no tick will come, so a record accepted after it (made in the app's
   * own exit handler, which runs after this one) is sealed and journaled at once.
   */
  private processExiting = false;
  /**
   * In a worker thread nothing runs when the worker is terminated or the process exits (no `exit` hook, no signal),
   * nor under `node --abort-on-uncaught-exception` on an uncaught exception: each record is sealed and written to the
   * journal before onEmit returns, fsynced by the policy after (found in review: records accepted there were lost
   * without a word).
   */
  private readonly writeThrough = !isMainThread || abortsOnUncaughtException();
  /** Set by `_shutdownBy`: when the next shutdown must end. */
  private shutdownDeadline: number | undefined;
  /**
   * Receipt of the typed-API record being emitted right now (emit → onEmit is synchronous), and that record's id:
   * only that record takes it.
   */
  private slot: ReceiptSlot | undefined;
  /** @internal The `audit.record.id` of the last record this processor accepted (AuditLogger: where did it go?). */
  _lastSeenId: unknown;
  /** @internal Installed by `otel-audit/register` (a second processor in the process is then said once). */
  _zeroCode = false;
  /** Receipts of typed-API records not settled yet, with their record ids (see `_holdReceipt`). */
  private readonly heldReceipts = new Map<Deferred<AuditReceipt>, string>();
  /** A flush started by `beforeExit` is running. */
  private exitFlush = false;
  /** Why the processor is shut down, when not by its owner (`_onBeforeExit`): said in every later refusal. */
  private closedWhy: string | undefined;
  private lastResource: SdkResource | undefined;
  private lastScope: SdkInstrumentationScope | undefined;
  /** MAC/signature of every record, when a key is configured. */
  private readonly recordSigner: SealSigner | undefined;
  /** Ed25519 signature of checkpoints; without it there are none. */
  private readonly checkpointSigner: SealSigner | undefined;
  private readonly checkpoints: CheckpointSchedule | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;

  /**
   * Reads the environment and checks `OTEL_AUDIT_DIR`; throws `AuditConfigError` for any bad value (named, with what
   * is allowed). Starts replaying what earlier processes left unacknowledged in the directory (`replayed()`).
   */
  constructor(options: AuditProcessorOptions = {}) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.streamId = randomUUID();
    this.metrics = new AuditMetrics(o.meterProvider, { [A.ATTR_SEQ_STREAM_ID]: this.streamId });
    if (o.replay && o.file !== 'off') this.replayer = new Replayer(this.replayOptions(new OtlpSender(o.exporter), false));
    // After a restart the new stream names the one it follows, on its first record.
    const predecessor = this.replayer?.predecessor;
    this.previousStreamId = predecessor?.streamId;
    this.chain = new HashChain(this.streamId, predecessor === undefined ? undefined : restartAttributes(predecessor));
    this.recordSigner = sealSigner(o.signingKeys.record);
    this.checkpointSigner = sealSigner(o.signingKeys.checkpoint);
    if (this.checkpointSigner !== undefined) this.checkpoints = this.scheduleCheckpoints();
    this.queue = new SealQueue({
      chain: this.chain,
      sealer: new RecordSealer(),
      signer: this.recordSigner,
      maxLength: SEAL_QUEUE_MAX,
      onSealed: (sealed, receipt) => {
        if (sealed.invalid) this.metrics.invalidOne();
        this.delivery.accept(sealed, receipt);
      },
      replacement: (entry, e) => this.unsealable(entry, e),
      lost: (entry, e) => {
        const why = `internal error while sealing: ${errorText(e)}`;
        this.loss.report({ records: [{ recordId: undefined, seq: entry.seq }], reason: why, streamId: this.streamId });
        entry.ticket?.reject(new AuditLossError(why));
      },
    });
    this.select = createSelector(o.loggerName);
    this.loss = new LossReporter(o.onLossPolicy, o.onLoss, (n) => this.metrics.droppedN(n));
    // retention.log lines are signed with each of the producer's keys (a verifier may hold only one: the HMAC secret,
    // or only the Ed25519 public key): a verifier holding one takes no unsigned line for retention in a signed stream.
    const { record, checkpoint } = o.signingKeys;
    const retentionSigners = [...new Set([record, checkpoint])].flatMap((k) => (k === undefined ? [] : [createRecordSigner(k)]));
    const retention = (): void =>
      enforceRetention(
        o.dir,
        o.maxFiles,
        {
          streamId: this.streamId,
          acked: this.delivery.ackedSeq,
          segments: this.delivery.journalSegments(),
          saveAcked: () => this.delivery.saveState() === undefined,
          forget: (path) => this.delivery.forgetSegment(path),
        },
        retentionSigners,
      );
    this.delivery = new Delivery({
      dir: o.dir,
      streamId: this.streamId,
      file: o.file,
      fsync: o.fsync,
      writeThrough: this.writeThrough,
      maxFileBytes: o.maxFileBytes,
      maxQueueSize: o.maxQueueSize,
      maxPendingRecords: o.maxPendingRecords,
      maxJournalBytes: o.maxFiles * o.maxFileBytes,
      maxExportBatchSize: o.maxExportBatchSize,
      sender: new OtlpSender(o.exporter),
      stdout: o.stdout ? new StdoutSink() : undefined,
      loss: this.loss,
      metrics: this.metrics,
      retryMinMillis: o.retryMinMillis,
      retryMaxMillis: o.retryMaxMillis,
      onRotate: retention,
    });
    if (this.replayer !== undefined) {
      // Settles when the replay is over, or when shutdown stopped it (with what it did so far): an app awaiting
      // replayed() after shutdown must not wait on an export the shutdown let go of (unref'd, found in review).
      const stopped = new Promise<ReplayReport>((res) => (this.replayStopped = res));
      this.replayDone = Promise.race([startReplay(this.replayer, retention).then((rep) => this.replayRan(rep)), stopped]);
      void this.replayDone.then(() => this.startRescans(retention));
    }
    (globalThis as Registry)[REGISTRY] = this;
    for (const p of LIVE) {
      if (!p._zeroCode) continue;
      sayLoudly(
        `otel-audit: another AuditLogRecordProcessor (stream ${this.streamId}) is created while the one of --import otel-audit/register (stream ${p.streamId}) runs: the global LoggerProvider is register's, so the Logs API's records go to that one; an app that starts NodeSDK itself should not also start with --import otel-audit/register`,
        'warn',
      );
      break;
    }
    onProcessExit(this);
  }

  /** @internal Another live processor of this process whose last record was `recordId` (see `_lastSeenId`). */
  static _sawRecord(recordId: string, except: AuditLogRecordProcessor): AuditLogRecordProcessor | undefined {
    for (const p of LIVE) if (p !== except && p._lastSeenId === recordId) return p;
    return undefined;
  }

  /** Checkpoints by count, and by time when a record was sealed since the last one (docs/integrity.md §5). */
  private scheduleCheckpoints(): CheckpointSchedule {
    const o = this.options;
    const schedule = new CheckpointSchedule({ everyRecords: o.checkpointEveryRecords, everyMillis: o.checkpointIntervalMillis });
    if (o.checkpointIntervalMillis > 0) {
      this.checkpointTimer = setInterval(() => {
        if (schedule.pending > 0 && !this.closing && this.delivery.canAccept()) {
          this.emitCheckpoint();
          if (o.fsync === 'always' || this.writeThrough) this.queue.drain();
        }
      }, o.checkpointIntervalMillis);
      this.checkpointTimer.unref();
    }
    return schedule;
  }

  /**
   * @internal The process is exiting before this processor was shut down (process.exit(), an uncaught
   * exception, an unhandled rejection): journal synchronously what is not yet durable, and say so on stderr —
   * with a count of what could not be kept (ARCHITECTURE.md §5.6).
   */
  _onProcessExit(): void {
    this.processExiting = true;
    // process.exit() called from inside sealing (an onLoss callback): what is still queued cannot be sealed now.
    const stuck = this.queue.takeUnsealableOnExit();
    if (stuck.length > 0) {
      const why = 'the process exited while a record was being sealed (process.exit() called from inside sealing, e.g. in an onLoss callback), before these were sealed';
      this.loss.report({ records: stuck.map((e) => ({ recordId: typeof e.record === 'function' ? undefined : ownRecordId(e.record.attributes), seq: e.seq })), reason: why, streamId: this.streamId }, true);
      for (const e of stuck) e.ticket?.reject(new AuditLossError(why));
    }
    this.queue.drain();
    const r = this.delivery.exitSync();
    if (r.journaled > 0) {
      writeStderrSync(
        `otel-audit: the process is exiting before shutdown: ${r.journaled} audit record(s) of stream ${this.streamId} not yet delivered were journaled synchronously in ${this.options.dir}; they are replayed at the next start\n`,
      );
    }
    if (r.lost.length > 0) {
      this.loss.report({ records: r.lost, reason: `the process exited before they were delivered, and ${r.reason ?? 'there is no journal'}`, streamId: this.streamId }, true);
    }
    this.loss.flush(true);
  }

  /** The processor most recently constructed in this process (what `getAuditLogger()` uses). */
  static current(): AuditLogRecordProcessor | undefined {
    return (globalThis as Registry)[REGISTRY];
  }

  get loggerName(): string {
    return this.options.loggerName;
  }

  /** Counters of delivery now, the records in memory (`queueDepth`), the last sequence numbers accepted and acknowledged, and the last export error. */
  stats(): DeliveryStats & { queueDepth: number; acked: number; accepted: number; lastError: string | undefined } {
    return {
      ...this.metrics.totals,
      queueDepth: this.delivery.queueDepth,
      acked: this.delivery.ackedSeq,
      accepted: this.delivery.acceptedSeq,
      lastError: this.delivery.lastError,
    };
  }

  /**
   * Settles when the replay of earlier processes' streams started by the constructor is over, or was stopped by
   * shutdown (its `unfinished` streams stay in the journal for the next start); undefined: no replay.
   */
  replayed(): Promise<ReplayReport | undefined> {
    return this.replayDone;
  }

  /** The journal segments of this stream still on disk. */
  journalFiles(): string[] {
    return this.delivery.journalFiles();
  }

  /** False once nothing more can be accepted without loss (memory bound reached, or shut down). */
  canAccept(): boolean {
    return this.refusal() === undefined;
  }

  /** Why records are refused right now (loss policy applies), or undefined. */
  refusal(): string | undefined {
    if (this.closing) return this.closedWhy ?? 'the processor is shut down';
    // The records still waiting to be sealed count against the bounds (records in memory, the journal's bytes). Room
    // for them at the estimate is room (the exact check could only find more); near a bound they are sealed now, so
    // that the delivery stage decides on exact counts and bytes. onEmit and the typed API (which must refuse, with
    // the fail-closed policy, before it emits) both ask here.
    const q = this.queue.length;
    if (q > 0) {
      if (this.delivery.hasRoomFor(q)) return undefined;
      this.queue.drain();
    }
    return this.delivery.refusal();
  }

  private replayOptions(sender: OtlpSender, rescan: boolean): ReplayOptions {
    const o = this.options;
    return { metrics: this.metrics, dir: o.dir, ownStreamId: this.streamId, sender, maxExportBatchSize: o.maxExportBatchSize, retryMinMillis: o.retryMinMillis, retryMaxMillis: o.retryMaxMillis, rescan, skip: this.replayTried };
  }

  /**
   * A replay of this process ran: the streams it ran to their end are not looked at again by a rescan. Delivered,
   * they are done anyway; not (unreadable lines, an I/O error, said once), a rescan every minute would read them
   * whole and say so again (found in review). The next start tries them again, as before rescans.
   */
  private replayRan(rep: ReplayReport | undefined): ReplayReport | undefined {
    if (rep !== undefined) for (const id of rep.streams) if (!rep.unfinished.includes(id)) this.replayTried.add(id);
    return rep;
  }

  /**
   * After start-up's replay, looks again every `replayRescanMillis` for streams left to replay: a process that died
   * since, or whose replay another process's shutdown stopped (its claims released), would otherwise wait for the
   * next start of some process (found in review: a long-running service never delivered them).
   */
  private startRescans(retention: () => void): void {
    const ms = this.options.replayRescanMillis;
    if (ms === 0 || this.closing) return;
    this.rescanTimer = setInterval(() => this.rescan(retention), ms);
    this.rescanTimer.unref();
  }

  private rescan(retention: () => void): void {
    if (this.closing || this.rescanning !== undefined) return;
    let r: Replayer;
    try {
      this.rescanSender ??= new OtlpSender(this.options.exporter);
      r = new Replayer(this.replayOptions(this.rescanSender, true));
    } catch (e) {
      diagLog('warn', `otel-audit: looking again for streams to replay in ${this.options.dir} failed (${errorText(e)})`);
      return;
    }
    if (r.claimedCount === 0) return;
    const done = startReplay(r, retention).then((rep) => this.replayRan(rep)).finally(() => {
      if (this.rescanning?.replayer === r) this.rescanning = undefined;
    });
    this.rescanning = { replayer: r, done };
  }

  /**
   * @internal Typed API: the next audit record seen by onEmit carries this receipt. Returns the slot it replaces: a
   * record() made from inside another one's emit() (a diag logger recording the SDK's warnings) gives it back
   * with `_receiptUnclaimed`, so that the outer record still finds its own.
   */
  _expectReceipt(slot: ReceiptSlot): ReceiptSlot | undefined {
    const outer = this.slot;
    this.slot = slot;
    return outer;
  }

  /**
   * @internal Typed API: true if the expected record never reached onEmit (processor not registered). Puts back
   * `outer`, the slot `_expectReceipt` replaced.
   */
  _receiptUnclaimed(outer?: ReceiptSlot): boolean {
    const unclaimed = this.slot !== undefined;
    this.slot = outer;
    return unclaimed;
  }

  onEmit(record: ReadWriteLogRecord): void {
    if (!this.select(record)) return;
    // Only the typed-API record the receipt was set for takes it: an audit record emitted before it reaches this
    // processor (a diag logger that records the SDK's own warnings, say) is a raw record, validated as one.
    let typed: ReceiptSlot | undefined;
    if (this.slot !== undefined && isSlotRecord(this.slot, record.eventName, record.attributes)) {
      typed = this.slot;
      this.slot = undefined;
    }
    const receipt = typed?.receipt;
    try {
      // The bound on records in memory counts the ones waiting to be sealed: near it, seal them now, so that the
      // delivery stage's own count is exact when it decides.
      if (!this.canAccept()) {
        this.refuse(record, receipt);
        return;
      }
      if (!this.started) {
        this.started = true;
        this.delivery.start(this.previousStreamId);
      }
      // A due checkpoint (skipped under back-pressure) goes first: the verifier relies on at most N records
      // between checkpoints (docs/integrity.md §5.4).
      if (this.checkpoints?.due === true) {
        this.emitCheckpoint();
        if (!this.canAccept()) {
          this.refuse(record, receipt);
          return;
        }
      }
      this.enqueue(record, typed);
      if (this.checkpoints?.recordSealed() === true && this.delivery.canAccept()) this.emitCheckpoint();
      // Durable before emit returns: sealed and journaled now (the delivery stage writes and fsyncs in accept).
      if (this.options.fsync === 'always' || this.writeThrough) this.queue.drain();
      else if (this.processExiting) this._onProcessExit();
    } catch (e) {
      // Unreachable by design (nothing here reads the record's content but the selector and the validation);
      // if it happens, it is a loss, said loudly.
      this.loss.report({
        records: [{ recordId: undefined, seq: undefined }],
        reason: `internal error while accepting: ${errorText(e)}`,
        streamId: this.streamId,
      });
      receipt?.reject(new AuditLossError('record could not be accepted'));
    }
  }

  /** Validates, reserves the sequence number, stamps the live record and queues it for sealing. */
  private enqueue(record: ReadWriteLogRecord, typed: ReceiptSlot | undefined): void {
    const receipt = typed?.receipt;
    const disowned = disownReservedNames(record, stampedByAnotherProcessor);
    const invalid = typed === undefined ? validateRawAttributes(record.attributes) : limitChanges(typed.attributes, record.attributes);
    const validationError = disowned === undefined ? invalid : invalid === undefined ? disowned : `${invalid}; ${disowned}`;
    const dropped = record.droppedAttributesCount;
    const seq = this.chain.reserve();
    // A typed record's id is the one its receipt names, even when a limit cut or dropped it.
    const liveId = ownRecordId(record.attributes);
    this._lastSeenId = liveId; // read here anyway: a store in onEmit's own read cost ~0.7 % CPU a record
    const recordId = typed !== undefined && liveId !== typed.recordId ? typed.recordId : liveId === undefined ? uuidV4() : undefined;
    try {
      stampLiveRecord(record, recordId, this.streamId, seq);
    } catch (e) {
      // Attributes a processor before this one locked: later processors see the record without the stamps;
      // what is sealed and shipped carries every stamp all the same.
      diagLog('warn', `otel-audit: could not stamp the live record (${errorText(e)}); the sealed copy carries the stamps`);
    }
    let snapshot: SealInput;
    try {
      snapshot = snapshotRecord(record, typed?.recordId);
    } catch (e) {
      // The sequence number is reserved: its place in the chain is taken by an unsealable mark (the loss reported
      // when it is sealed), or every later record would wait for it.
      this.queue.push({ seq, record: () => { throw e; }, validationError: undefined, dropped, ticket: receipt });
      return;
    }
    this.lastResource = record.resource;
    this.lastScope = record.instrumentationScope;
    this.queue.push({ seq, record: snapshot, validationError, dropped, ticket: receipt });
  }

  /**
   * Takes the place in the chain of a record whose sealing threw (its own getters did): a record with its
   * record id, marked, so the stream has no gap; its content is reported lost and its receipt rejected.
   */
  private unsealable(entry: SealEntry<Deferred<AuditReceipt> | undefined>, e: unknown): SealInput {
    const why = `the record could not be sealed: ${errorText(e)}`;
    const record = typeof entry.record === 'function' ? undefined : entry.record;
    const recordId = record === undefined ? undefined : ownRecordId(record.attributes);
    this.loss.report({ records: [{ recordId, seq: entry.seq }], reason: why, streamId: this.streamId });
    entry.ticket?.reject(new AuditLossError(why, recordId === undefined ? [] : [recordId]));
    const attributes: Record<string, string> = { ...A.systemRecordAttributes('RECORD_UNSEALABLE'), [A.ATTR_VALIDATION_ERROR]: why };
    if (recordId !== undefined) attributes[A.ATTR_RECORD_ID] = recordId;
    const { resource, scope } = this.systemGroup(this.lastResource!, this.lastScope!);
    return new SyntheticRecord(resource, scope, { eventName: A.EVENT_UNSEALABLE, severityNumber: SEVERITY_INFO, severityText: 'INFO', attributes });
  }

  /**
   * Resource and scope of a record the processor writes itself: those of the record before it, unless they cannot
   * even be grouped (a resource attribute's getter that throws, say), then an empty resource. Such a record must
   * seal, or the chain stops at its seq for good.
   */
  private systemGroup(resource: SdkResource, scope: SdkInstrumentationScope): { resource: SdkResource; scope: SdkInstrumentationScope } {
    try {
      groupOf({ resource, instrumentationScope: scope });
      return { resource, scope };
    } catch {
      return { resource: FALLBACK_RESOURCE, scope: { name: this.loggerName } };
    }
  }

  /**
   * A signed checkpoint: a record of the stream certifying the one sealed just before it (its seq and hash),
   * signed with the Ed25519 key (docs/integrity.md §5). Goes to every sink like any record. Its attributes are
   * taken when it is sealed, from the chain's head then: the record just before it.
   */
  private emitCheckpoint(extra: Record<string, string | number | boolean> = {}, eventName = EVENT_CHECKPOINT): void {
    if (this.chain.reserved === 0) return;
    const every = this.options.checkpointEveryRecords;
    const attributes = (): Record<string, string | number | boolean> => ({
      ...checkpointAttributes(this.streamId, this.chain.last, this.chain.lastHash!, every),
      ...extra,
    });
    if (this.queueSystemRecord(eventName, attributes, this.checkpointSigner)) this.checkpoints?.checkpointSealed();
  }

  /** Queues a record the processor writes itself, with the resource/scope of the last record. */
  private queueSystemRecord(eventName: string, attributes: () => Record<string, string | number | boolean>, signer: SealSigner | undefined): boolean {
    const lastResource = this.lastResource;
    const lastScope = this.lastScope;
    if (lastResource === undefined || lastScope === undefined) return false;
    const build = (): { record: SealInput; signer: SealSigner | undefined } => {
      const { resource, scope } = this.systemGroup(lastResource, lastScope);
      return { record: new SyntheticRecord(resource, scope, { eventName, severityNumber: SEVERITY_INFO, severityText: 'INFO', attributes: attributes() }), signer };
    };
    this.queue.push({ seq: this.chain.reserve(), record: build, validationError: undefined, dropped: 0, ticket: undefined });
    return true;
  }

  private refuse(record: ReadWriteLogRecord, receipt: Deferred<AuditReceipt> | undefined): void {
    const id = record.attributes[A.ATTR_RECORD_ID];
    // Reported whether or not there is a receipt (`receipt?.reject(this.refused(…))` would skip it without one).
    const err = this.refused(typeof id === 'string' ? id : undefined);
    receipt?.reject(err);
  }

  /** Reports a refused record as lost (counted, onLoss) and returns the error its receipt rejects with. */
  private refused(recordId: string | undefined): AuditLossError {
    const reason = this.refusal() ?? 'no room';
    const event = { records: [{ recordId, seq: undefined }], reason, streamId: this.streamId };
    if (this.closing) this.loss.reportAfterClose(event);
    else this.loss.report(event);
    return new AuditLossError(`audit record refused: ${reason}`, recordId !== undefined ? [recordId] : []);
  }

  /**
   * @internal Typed API: a record that never reached onEmit because this processor (and so, with it, the SDK
   * that drops records after its shutdown) is shut down: its loss, reported as onEmit would have. Undefined when
   * the processor is not shut down (then it is not registered where the record went).
   */
  _lostAfterShutdown(recordId: string): AuditLossError | undefined {
    return this.closing ? this.refused(recordId) : undefined;
  }

  /**
   * @internal Typed API: a receipt the app may be awaiting. When the app has nothing left to run but such awaits
   * (`beforeExit`), receipts only the collector settles (OTEL_AUDIT_FILE=off, or a journal write that failed) would
   * never settle: the transport retries on unref'd timers, so the process ended with the promise pending, the app's
   * handling of it skipped and exit status 0 (found in a README review). See `_onBeforeExit`.
   */
  _holdReceipt(receipt: Deferred<AuditReceipt>, recordId: string): void {
    if (this.closing) return;
    listenBeforeExit();
    this.heldReceipts.set(receipt, recordId);
    const settled = (): void => void this.heldReceipts.delete(receipt);
    receipt.promise.then(settled, settled);
  }

  /**
   * @internal The process has nothing left to run. With receipts still open, a flush holds it (a ref'd wait, within
   * `exportTimeoutMillis`); when the flush does not complete, the processor shuts down: what is neither acknowledged
   * nor journaled is reported lost and its receipt rejected with `AuditLossError`, and nothing of it is sent after
   * that (found in review: receipts rejected while their records stayed queued were delivered all the same).
   */
  _onBeforeExit(): void {
    if (this.heldReceipts.size === 0 || this.closing || this.exitFlush) return;
    this.exitFlush = true;
    void this.forceFlush().then(
      () => {
        this.exitFlush = false;
      },
      () => {
        this.exitFlush = false;
        const timeout = this.options.exportTimeoutMillis;
        this.closedWhy = `the processor was shut down when the program had nothing left to run but awaits on audit receipts, which the collector had not acknowledged within ${timeout} ms (OTEL_BLRP_EXPORT_TIMEOUT)`;
        sayLoudly(`otel-audit: ${this.closedWhy}; what it had not acknowledged is reported below and its receipts rejected`);
        // The flush just waited the whole bound: the shutdown does not wait it a second time.
        this._shutdownBy(Date.now());
        void this.shutdownWithReport().then(() => {
          // The shutdown settled every receipt of a record it took; one still open (none expected) is lost with it.
          for (const [d, id] of this.heldReceipts) d.reject(new AuditLossError('record lost at shutdown', [id]));
        });
      },
    );
  }

  /**
   * Journals what is queued and waits until the collector acknowledged every record accepted so far. Rejects with
   * `AuditFlushTimeoutError` when `exportTimeoutMillis` passes first, so the caller learns that the flush did not
   * complete (the spec: ForceFlush SHOULD let the caller know whether it succeeded, failed or timed out). Nothing is
   * lost by it: the records stay in the journal (when there is one) and are delivered when the collector answers,
   * or replayed at the next start.
   */
  async forceFlush(): Promise<void> {
    // As the stock BatchLogRecordProcessor: once shut down, a flush is the shutdown (nothing more will be delivered).
    if (this.shutdownPromise !== undefined) {
      await this.shutdownPromise;
      return;
    }
    this.queue.drain();
    const timeout = this.options.exportTimeoutMillis;
    const n = await this.delivery.flush(timeout);
    if (n === 0) return;
    const why = this.delivery.lastError ?? 'no answer yet';
    // The journal is named only when it holds them (fallback mode spools at the timeout; a failed write leaves them out).
    const memoryOnly = this.options.file === 'off' ? n : Math.min(n, this.delivery.memoryOnly);
    const journalDir = this.options.file === 'off' || memoryOnly > 0 ? undefined : this.options.dir;
    const kept =
      this.options.file === 'off'
        ? 'they are kept in memory and retried; with OTEL_AUDIT_FILE=off there is no journal, so they are lost if the process ends before the collector takes them'
        : memoryOnly > 0
          ? `${memoryOnly} of them are only in memory, not in the journal in ${this.options.dir} (its writes failed or had not finished), and are lost if the process ends before the collector takes them; the rest stay in the journal`
          : `they stay in the journal in ${journalDir} and are delivered when the collector answers, or replayed at the next start`;
    const msg = `otel-audit: forceFlush timed out after ${timeout} ms with ${n} audit record(s) not acknowledged by the collector (${why}); ${kept}`;
    diagLog('warn', msg);
    throw new AuditFlushTimeoutError(msg, n, journalDir);
  }

  shutdown(): Promise<void> {
    return this.shutdownWithReport().then(() => undefined);
  }

  /**
   * @internal The zero-code signal handler waited for the collector already (a flush): the shutdown that follows
   * waits for it until `at` only, instead of a whole exportTimeoutMillis more. The end marker is journaled all the
   * same: closing the delivery stage waits for the journal's writes whatever its deadline.
   */
  _shutdownBy(at: number): void {
    this.shutdownDeadline = at;
  }

  /** Shuts down like `shutdown()` and says what could not be delivered. Idempotent. */
  shutdownWithReport(): Promise<ShutdownReport> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<ShutdownReport> {
    this.closing = true;
    if (this.checkpointTimer !== undefined) clearInterval(this.checkpointTimer);
    // One deadline for the whole shutdown: the resource settling, flush, close (an export still in flight), replay
    // winding down.
    const deadline = Math.min(Date.now() + this.options.exportTimeoutMillis, this.shutdownDeadline ?? Infinity);
    const left = (): number => Math.max(0, deadline - Date.now());
    // The end marker goes under the last record's resource: one whose detectors are still reading (host.id from a
    // file, say) is given until the deadline to settle, so the stream's last record carries all of it.
    const resource = this.lastResource;
    if (this.started && resource?.asyncAttributesPending === true && typeof resource.waitForAsyncAttributes === 'function') {
      await settleWithin(resource.waitForAsyncAttributes().catch(() => undefined), left());
    }
    if (this.started) {
      // The end marker: a record of its own, so the last application record stays as it was hashed. With a
      // checkpoint key it is itself a signed checkpoint, so the whole stream, end included, is covered.
      const endAttributes = { ...A.systemRecordAttributes('STREAM_END'), [A.ATTR_SEQ_END]: true };
      if (this.checkpointSigner !== undefined) this.emitCheckpoint(endAttributes, A.EVENT_STREAM_END);
      else this.queueSystemRecord(A.EVENT_STREAM_END, () => endAttributes, this.recordSigner);
    }
    this.queue.drain();
    this.replayer?.stop();
    if (this.rescanTimer !== undefined) clearInterval(this.rescanTimer);
    const rescan = this.rescanning;
    rescan?.replayer.stop();
    await this.delivery.flush(left());
    const { undelivered } = await this.delivery.close(left());
    // Held (a ref'd wait, within the bound): with nothing else left in the event loop (the replay retrying on its
    // unref'd backoff), an unref'd wait let the process end in the middle of shutdown(), unsettled and unreported.
    await settleWithin(this.replayDone, left());
    if (rescan !== undefined) await settleWithin(rescan.done, left());
    // Past the deadline, neither export in flight keeps the process alive (the journal keeps their records).
    this.replayer?.release();
    // Every rescan shares one sender: shut down once (what Replayer.release() does with its own).
    void this.rescanSender?.shutdown().catch(() => undefined);
    if (this.replayer !== undefined) this.replayStopped?.(this.replayer.reportSoFar());
    const report: ShutdownReport = {
      streamId: this.streamId,
      emitted: this.metrics.totals.emitted,
      exported: this.metrics.totals.exported,
      undelivered,
      rejected: this.metrics.totals.rejected,
      dropped: this.loss.dropped,
      journalFiles: this.delivery.journalFiles(),
      replayUnfinished: [...(this.replayer?.unfinished ?? []), ...(rescan?.replayer.unfinished ?? [])],
    };
    // Its observable instruments are no longer read (nothing is in memory any more); counters go on counting.
    this.metrics.close();
    // Losses the rate limit folded are said now, not left to a later loss that may never come.
    this.loss.flush();
    if (undelivered > 0) {
      const msg = `otel-audit: shutdown with ${undelivered} audit record(s) not acknowledged by the collector (${this.delivery.lastError ?? 'timeout'}); kept in ${this.options.dir} and replayed at the next start`;
      sayLoudly(msg);
    }
    if (report.replayUnfinished.length > 0) {
      const n = report.replayUnfinished.length;
      sayLoudly(
        `otel-audit: shutdown stopped the replay of ${n} earlier stream(s) before its end (${report.replayUnfinished.join(', ')}); what it did not deliver stays in ${this.options.dir} and is replayed at the next start`,
      );
    }
    if ((globalThis as Registry)[REGISTRY] === this) delete (globalThis as Registry)[REGISTRY];
    LIVE.delete(this);
    return report;
  }
}

/** Replays the streams earlier processes left, after the constructor returned; retention runs once it is done. */
function startReplay(r: Replayer, retention: () => void): Promise<ReplayReport | undefined> {
  return new Promise<void>((res) => setImmediate(res))
    .then(() => r.run())
    .then(
      (rep) => {
        if (rep.malformedLines > 0) {
          // Not silent: the records of those lines were not delivered (the streams stay not done, files kept).
          const msg = `otel-audit: replay skipped ${rep.malformedLines} unreadable journal line(s) in ${r.dir}: their records were not delivered; run otel-audit verify ${r.dir}`;
          sayLoudly(msg);
        }
        if (rep.streams.length > 0) retention();
        return rep;
      },
      (e: unknown) => {
        sayLoudly(`otel-audit: replay failed: ${errorText(e)}`);
        return undefined;
      },
    );
}

/** Records waiting to be sealed at most (a caller that never yields gets them sealed in batches of this size). */
const SEAL_QUEUE_MAX = 1024;

/** Processors not shut down yet: one 'exit' listener serves them all (not one listener per processor). */
const LIVE = new Set<AuditLogRecordProcessor>();

/** Does the record carry the live stamps of an audit processor of this process (another one on the same provider)? */
function stampedByAnotherProcessor(attrs: Readonly<Record<string, unknown>>): boolean {
  const id = attrs[A.ATTR_SEQ_STREAM_ID];
  if (typeof id !== 'string' || typeof attrs[A.ATTR_SEQ_NUMBER] !== 'number') return false;
  for (const p of LIVE) if (p.streamId === id) return true;
  return false;
}
let beforeExitHooked = false;
/** One 'beforeExit' listener serves every processor (see `_onBeforeExit`), added at the first receipt held. */
function listenBeforeExit(): void {
  if (beforeExitHooked) return;
  beforeExitHooked = true;
  process.on('beforeExit', () => {
    for (const p of LIVE) p._onBeforeExit();
  });
}
let exitHooked = false;
function onProcessExit(p: AuditLogRecordProcessor): void {
  LIVE.add(p);
  if (exitHooked) return;
  exitHooked = true;
  // On process.exit(), an uncaught exception, an unhandled rejection, and a termination signal no one else handles
  // (core/exit-hooks.ts); only synchronous work runs there, which is what exitSync does.
  onExitSync(() => {
    for (const live of LIVE) live._onProcessExit();
  });
}

/** Adapts a signing key to the sealing stage: the `audit.integrity.*` attributes for a canonical text. */
function sealSigner(key: SigningKey | undefined): SealSigner | undefined {
  if (key === undefined) return undefined;
  const signer = createRecordSigner(key);
  return { sign: (canonical) => integrityAttributes(signer, signer.sign(canonical)) };
}

/** A processor configured from OTEL_AUDIT_* / OTEL_EXPORTER_OTLP_* / OTEL_BLRP_*; code options override. */
export function auditProcessorFromEnv(overrides: AuditProcessorOptions = {}): AuditLogRecordProcessor {
  return new AuditLogRecordProcessor(overrides);
}
