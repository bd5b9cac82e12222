/**
 * POSIX sh quoting — the ONE place where argv becomes a shell string (ssh exec takes a single command string that
 * the remote login shell parses). Every element is wrapped in single quotes, inside which sh treats every byte
 * literally; an embedded single quote becomes '\'' (close, escaped quote, reopen). Nothing else is special inside
 * single quotes: not $, `, \, ", newlines, globs, ;, &, |, spaces. So `quoteArgv(argv)` parses back to exactly argv.
 *
 * NUL cannot be carried by any shell word (nor by execve): it is refused rather than silently truncated.
 */
import { LabError } from '../errors.js';

const SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

export class ShellQuoteError extends LabError {
  constructor(message: string) {
    super('E_SHELL_QUOTE', message);
  }
}

/** Quote one word for POSIX sh. Plain words ([A-Za-z0-9_@%+:,./-]; no `=`, which would make a first word an assignment) are left bare for readable commands. */
export function quote(word: string): string {
  if (typeof word !== 'string') throw new ShellQuoteError(`expected a string to quote, got ${typeof word}`);
  if (word.includes('\0')) throw new ShellQuoteError('a shell argument cannot contain a NUL byte');
  if (word !== '' && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quote every argv element and join them with spaces: one command line that sh splits back into exactly argv. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quote).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `env 'K=V' … argv…` (quoted): run argv with extra environment variables. Names are checked (a name with `=` or a
 * space would change the meaning); values are free and quoted.
 */
export function envArgv(env: Record<string, string> | undefined, argv: readonly string[]): string[] {
  const pairs = Object.entries(env ?? {});
  if (pairs.length === 0) return [...argv];
  for (const [k] of pairs) if (!ENV_NAME.test(k)) throw new ShellQuoteError(`not an environment variable name: ${JSON.stringify(k)}`);
  // `--` is not portable for env(1) everywhere, and a command word never starts with '-' here; argv[0] with '=' would
  // be taken as an assignment, so refuse that.
  if (argv.length > 0 && argv[0]!.includes('=')) throw new ShellQuoteError(`a command name cannot contain '=': ${JSON.stringify(argv[0])}`);
  return ['env', ...pairs.map(([k, v]) => `${k}=${v}`), ...argv];
}
