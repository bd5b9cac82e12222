/**
 * AMQP failures as BrokerErrors with a code callers can branch on. amqplib reports the server's answer as an
 * error whose `code` is the AMQP reply code (or only as text: `… 404 (NOT-FOUND) with message "…"`), and a lost
 * connection as a variety of socket and channel messages. Pure functions of the error: no amqplib import.
 */
import { BrokerError } from '../errors.js';
import type { LabErrorCode } from '../../errors.js';

/** amqplib's messages wrap the server's reason: `... with message "PRECONDITION_FAILED - ..."`. Keep the reason. */
export function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /with message "(.*)"\s*$/s.exec(message);
  return (m ? m[1] : message).replace(/\s*\n\s*/g, ' ');
}

/** The AMQP reply code of a server answer (404, 406…), or null when the error is not one. */
export function amqpCode(err: unknown): number | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  const m = /\b(\d{3}) \([A-Z-]+\)/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : null;
}

/** The error code for a reply code: the channel-level answers callers act on, E_BROKER for the rest. */
export function codeFor(status: number | null): LabErrorCode {
  switch (status) {
    case 406:
      return 'E_BROKER_PRECONDITION';
    case 404:
      return 'E_BROKER_NOT_FOUND';
    case 403:
      return 'E_BROKER_ACCESS';
    default:
      return 'E_BROKER';
  }
}

/** Was this a failure of the connection (worth waiting for a reconnect) rather than an answer from the broker? */
export function isConnectionLoss(err: unknown): boolean {
  if (err instanceof BrokerError) return err.code === 'E_BROKER_UNAVAILABLE';
  const status = amqpCode(err);
  // 320 CONNECTION_FORCED and 541 INTERNAL_ERROR close the connection: a loss. Any other reply is the broker's answer.
  if (status !== null && status !== 320 && status !== 541) return false;
  const message = err instanceof Error ? err.message : String(err);
  return /Channel ended|Connection closed|Channel closed|Channel closing|ECONNRESET|EPIPE|socket|CONNECTION_FORCED|closed/i.test(message);
}

/** An operation (`what`) that failed: one line naming the (masked) URL and the broker's reason. */
export function operationError(displayUrl: string, what: string, err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const status = amqpCode(err);
  const code = isConnectionLoss(err) && status === null ? 'E_BROKER_UNAVAILABLE' : codeFor(status);
  return new BrokerError(`${displayUrl}: ${what}: ${reasonOf(err)}`, { code, cause: err });
}

export interface ConnectTarget {
  /** The URL with its password masked. */
  displayUrl: string;
  /** The real URL (its vhost is named when the broker refuses it). */
  url: string;
  connectTimeoutMs: number;
}

/** The virtual host of an AMQP URL: its path, decoded; '/' when there is none. */
export function vhostOf(url: string): string {
  try {
    const path = new URL(url).pathname;
    if (!path || path === '/') return '/';
    return decodeURIComponent(path.slice(1));
  } catch {
    return '/';
  }
}

/** A failed connect: one line naming the (masked) URL and the cause, refused credentials and vhosts told apart. */
export function connectError(err: unknown, target: ConnectTarget): BrokerError {
  if (err instanceof BrokerError) return err;
  const { displayUrl } = target;
  const message = err instanceof Error ? err.message : String(err);
  const sys = (err as { code?: unknown } | null)?.code;
  if (/ACCESS[-_]REFUSED|\b403\b/.test(message)) {
    return new BrokerError(`${displayUrl}: ${reasonOf(err)}`, { code: 'E_BROKER_AUTH', cause: err });
  }
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message) || /NOT_ALLOWED|\b530\b/.test(message)) {
    return new BrokerError(`${displayUrl}: NOT_ALLOWED - access to vhost '${vhostOf(target.url)}' refused (no such vhost, or the user has no permission on it)`, {
      code: 'E_BROKER_VHOST',
      cause: err,
    });
  }
  if (/ETIMEDOUT/.test(message)) {
    return new BrokerError(`${displayUrl}: connect ETIMEDOUT (no AMQP answer within ${target.connectTimeoutMs} ms)`, { code: 'E_BROKER_UNAVAILABLE', cause: err });
  }
  if (typeof sys === 'string' || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|Socket closed/.test(message)) {
    return new BrokerError(`${displayUrl}: ${message.split('\n')[0]}`, { code: 'E_BROKER_UNAVAILABLE', cause: err });
  }
  return new BrokerError(`${displayUrl}: ${reasonOf(err).split('\n')[0]}`, { cause: err });
}
