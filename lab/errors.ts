/**
 * Error classes shared by every part of lab. Callers branch on `instanceof` or `code` (with `hasCode`), never on
 * message text. `exitCode` is what the CLI's single error boundary exits with: 2 for a user/config mistake, 1 for a
 * failed run. Every condition lab reports on purpose has one code, declared once in `LabErrorCode`.
 */

/** Every error code lab throws, one spelling per condition, grouped by the layer that raises it. */
export type LabErrorCode =
  // CLI and configuration
  | 'E_USAGE' // bad command-line usage
  | 'E_CONFIG' // an inventory or settings mistake (file, line, field)
  | 'E_URL' // a broker/backend URL lab cannot use
  | 'E_INTERRUPTED' // Ctrl-C
  | 'E_RUN' // a scenario run failed or was not verified
  // queue runtime
  | 'E_TASK_TIMEOUT'
  | 'E_TASK_FAILED'
  | 'E_TASK_REVOKED'
  | 'E_PROTOCOL' // a message that is not Celery protocol v2
  | 'E_BROKER'
  | 'E_BROKER_UNAVAILABLE'
  | 'E_BROKER_AUTH'
  | 'E_BROKER_VHOST'
  | 'E_BROKER_ACCESS'
  | 'E_BROKER_NOT_FOUND'
  | 'E_BROKER_PRECONDITION'
  | 'E_BROKER_BLOCKED'
  | 'E_BROKER_NACK'
  | 'E_BROKER_CLOSED'
  | 'E_BROKER_CONSUMER_CANCELLED'
  | 'E_BACKEND'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_BACKEND_AUTH'
  | 'E_BACKEND_CLOSED'
  // lab state, ledger and undo
  | 'E_LOCKED'
  | 'E_LEDGER'
  | 'E_NOT_UP'
  | 'E_UNDO'
  | 'E_UNDO_UNKNOWN'
  | 'E_UNDO_REFUSED'
  | 'E_UNDO_UNSAFE'
  // providers: any host
  | 'E_PROVIDER'
  | 'E_NEED_ROOT'
  | 'E_NO_HOST'
  | 'E_HOST_DOWN'
  | 'E_COMMAND_NOT_FOUND'
  | 'E_SPAWN'
  | 'E_SIGNAL'
  | 'E_STOP'
  | 'E_PROCESS_EXITED'
  | 'E_READ'
  | 'E_WRITE'
  | 'E_MKDIR'
  | 'E_NOT_FOUND'
  | 'E_PERMISSION'
  | 'E_HOSTS_FILE'
  | 'E_RESOLVE'
  | 'E_SHELL_QUOTE'
  | 'E_SETUP'
  | 'E_NAME_IN_USE'
  | 'E_SUBNET_IN_USE'
  // ssh provider
  | 'E_SSH_CONNECT'
  | 'E_SSH_RESOLVE'
  | 'E_SSH_REFUSED'
  | 'E_SSH_UNREACHABLE'
  | 'E_SSH_TIMEOUT'
  | 'E_SSH_RESET'
  | 'E_SSH_CLOSED'
  | 'E_SSH_AUTH'
  | 'E_SSH_KEY'
  | 'E_SSH_HOST_KEY'
  | 'E_SSH_HOST_KEY_CHANGED'
  | 'E_SSH_KNOWN_HOSTS'
  | 'E_SSH_CHANNEL'
  | 'E_SSH_SFTP'
  | 'E_NO_SUDO'
  | 'E_SUDO_PASSWORD'
  | 'E_SUDO_DENIED'
  | 'E_NO_USER'
  | 'E_PREFLIGHT'
  | 'E_NODE_MISSING'
  | 'E_NODE_VERSION'
  | 'E_INSTALL'
  | 'E_SHIP'
  // docker provider
  | 'E_ENGINE'
  | 'E_ENGINE_NOT_FOUND'
  | 'E_ENGINE_UNREACHABLE'
  | 'E_IMAGE'
  | 'E_IMAGE_INCOMPLETE'
  | 'E_PULL'
  | 'E_CONTAINER_START'
  | 'E_CONTAINER_EXITED'
  | 'E_CONTAINER_GONE'
  | 'E_CONTAINER_NOT_RUNNING'
  // services on the hosts
  | 'E_SERVICE' // a service could not be configured or started
  | 'E_NOT_READY' // a service did not pass its readiness checks
  | 'E_EXTERNAL_REFUSED' // a service that already runs (inventory external: true) refused the credentials of its URL
  | 'E_EXTERNAL_UNREACHABLE' // … or could not be reached or logged into
  | 'E_TASK_MODULE' // a user's task or settings module that does not load on a host (or is not what the inventory names)
  // peer implementations (lab run --impl celery,rq,pyro)
  | 'E_PEER_MISSING' // a host that would run a peer lacks its Python or a package
  | 'E_PEER_DRIVER' // a peer's driver did not start, died, or answered what is not its protocol
  // faults (lab fault, lab run --faults)
  | 'E_FAULT_SCHEDULE' // a fault schedule that does not parse (position and bad token named)
  | 'E_FAULT_REFUSED' // a fault this lab cannot apply (no proxy for a slow link, an unknown target)
  | 'E_FAULT' // a fault that could not be applied
  | 'E_FAULT_HEAL' // a fault that could not be healed (kept in the ledger)
  // role images (lab images build) and Node brought to ssh hosts
  | 'E_ARCH' // an architecture lab cannot build for or bring Node to, or that the engine cannot run
  | 'E_MIRROR' // the Debian mirror cannot be reached
  | 'E_IMAGE_BUILD' // building a role image failed
  | 'E_NODE_FETCH' // the Node binary package could not be fetched from the npm registry
  | 'E_CHECKSUM'; // a download or a shipped file is not what its checksum says

export class LabError extends Error {
  readonly code: LabErrorCode;
  readonly exitCode: 1 | 2;

  constructor(code: LabErrorCode, message: string, options: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Is `err` a lab error with this code (or one of these codes)? The one way to test for a condition. */
export function hasCode(err: unknown, ...codes: LabErrorCode[]): err is LabError {
  return err instanceof LabError && codes.includes(err.code);
}

/** Bad command-line usage: unknown scenario, a flag value out of range. */
export class UsageError extends LabError {
  constructor(message: string) {
    super('E_USAGE', message, { exitCode: 2 });
  }
}

/** A configuration or inventory mistake, located as precisely as we know (file, line, field). */
export class ConfigError extends LabError {
  readonly file?: string;
  readonly line?: number;
  readonly field?: string;

  constructor(message: string, where: { file?: string; line?: number; field?: string } = {}) {
    const at = [where.file, where.line].filter((x) => x !== undefined).join(':');
    const prefix = at ? `${at}: ` : '';
    const field = where.field ? `${where.field}: ` : '';
    super('E_CONFIG', `${prefix}${field}${message}`, { exitCode: 2 });
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }
}

/** Something a provider could not do on a host (create a namespace, reach sshd, start a container). */
export class ProviderError extends LabError {
  readonly host?: string;

  constructor(message: string, options: { host?: string; cause?: unknown; code?: LabErrorCode } = {}) {
    super(options.code ?? 'E_PROVIDER', options.host ? `${options.host}: ${message}` : message, { cause: options.cause });
    this.host = options.host;
  }
}

/** A scenario run that could not complete or whose result failed verification. */
export class RunError extends LabError {
  constructor(message: string, options: { cause?: unknown; code?: LabErrorCode } = {}) {
    super(options.code ?? 'E_RUN', message, { cause: options.cause });
  }
}

/** The user pressed Ctrl-C (or the run was otherwise aborted). */
export class InterruptedError extends LabError {
  constructor(message = 'interrupted') {
    super('E_INTERRUPTED', message);
  }
}

/** Mask the password in a URL so it can be printed: amqp://lab:s3cret@h/ → amqp://lab:****@h/ */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, (_m, scheme: string, user: string) => `${scheme}${user}:****@`);
}

/** A service on a host (RabbitMQ, Redis, workers, the quote server) could not be configured, started or checked. */
export class ServiceError extends LabError {
  readonly host?: string;

  constructor(message: string, options: { host?: string; cause?: unknown; code?: LabErrorCode } = {}) {
    super(options.code ?? 'E_SERVICE', options.host ? `${options.host}: ${message}` : message, { cause: options.cause });
    this.host = options.host;
  }
}
