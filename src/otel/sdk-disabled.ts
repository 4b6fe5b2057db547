/**
 * OTEL_SDK_DISABLED=true (OTel SDK environment spec): no SDK runs, so no audit record is recorded. Read by the
 * zero-code entry (which then installs nothing) and by the typed API (whose receipts then say so). No import: the
 * zero-code bundle takes it without a second copy of any class.
 */
export const sdkDisabled = (): boolean => (process.env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';
