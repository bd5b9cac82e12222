/** Patterns names must match, in a module of their own so using them does not load the validator (ajv). */
export const LAB_NAME_PATTERN = '^[a-z][a-z0-9-]{0,30}$';
/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens; ≤ 63 per label, ≤ 253 in all. */
export const HOSTNAME_PATTERN =
  '^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';
/** POSIX-portable user name (no leading hyphen). */
export const USER_PATTERN = '^[A-Za-z_][A-Za-z0-9_.-]{0,31}$';
export const QUEUE_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$';
/** A name of a host's own service (`services:`): also a file name and part of a ledger key. */
export const SERVICE_NAME_PATTERN = '^[a-z][a-z0-9-]{0,30}$';
/** A POSIX environment variable name. */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
