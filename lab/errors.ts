/**
 * Error classes shared by every part of lab. Callers branch on `instanceof` or `code`, never on message text.
 * `exitCode` is what the CLI's single error boundary exits with: 2 for a user/config mistake, 1 for a failed run.
 */
export class LabError extends Error {
  readonly code: string;
  readonly exitCode: 1 | 2;

  constructor(code: string, message: string, options: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
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

  constructor(message: string, options: { host?: string; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'E_PROVIDER', options.host ? `${options.host}: ${message}` : message, { cause: options.cause });
    this.host = options.host;
  }
}

/** A scenario run that could not complete or whose result failed verification. */
export class RunError extends LabError {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
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
