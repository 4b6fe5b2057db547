// Public surface of the development OTLP/HTTP receiver.
export {
  DEFAULT_COLLECTOR_PORT,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_IN_FLIGHT_BYTES,
  startCollector,
  type CollectorHandle,
  type CollectorOptions,
  type CollectorStats,
  type InFlightBytes,
} from './collector.js';
export { parseFault, withoutLastRecords, type CollectorFault } from './fault.js';
export { COLLECTOR_USAGE, parseCollectorArgs, runCollectorCommand, type CollectorCommandIo, type ParsedCollectorArgs } from './command.js';
