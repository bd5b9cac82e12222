import { EventEmitter } from 'node:events';

export type ConnectionStatus = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closing' | 'closed';

/**
 * The lifecycle every adapter connection exposes. Background loops never throw: they emit 'error' and keep going
 * (or give up and move to 'closed'). Listeners for 'error' are optional — an unheard error is not a crash.
 */
export interface Connection {
  readonly status: ConnectionStatus;
  /** Connect if idle; resolve once ready (rejects with a typed error if the first connect fails). */
  ready(): Promise<void>;
  close(): Promise<void>;
  on(event: 'status', listener: (status: ConnectionStatus) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  off(event: 'status', listener: (status: ConnectionStatus) => void): this;
  off(event: 'error', listener: (err: Error) => void): this;
}

/** Base class: status bookkeeping plus an 'error' event that never throws when nobody listens. */
export abstract class ConnectionBase extends EventEmitter {
  #status: ConnectionStatus = 'idle';

  get status(): ConnectionStatus {
    return this.#status;
  }

  protected setStatus(status: ConnectionStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.emit('status', status);
  }

  protected reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
