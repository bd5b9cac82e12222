/** Flags defined once and shared by the commands that take them. */
import type { Argv } from 'yargs';

export interface GlobalFlags {
  json: boolean;
  verbose: boolean;
}

export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalFlags> {
  return y
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output on stdout (no progress, no tables)', global: true })
    .option('verbose', { type: 'boolean', alias: 'v', default: false, describe: 'more detail, and stack traces on errors', global: true });
}

export interface HostsFlag {
  hosts?: string;
}

export function hostsOption<T>(y: Argv<T>, defaultText = 'the active lab'): Argv<T & HostsFlag> {
  return y.option('hosts', { type: 'string', describe: `inventory file (hosts.yaml or an Ansible YAML inventory); default: ${defaultText}`, normalize: true });
}

export interface ReportsFlag {
  reports: string;
}

export function reportsOption<T>(y: Argv<T>): Argv<T & ReportsFlag> {
  return y.option('reports', { type: 'string', default: process.env.LAB_REPORTS_DIR ?? 'reports', describe: 'directory of run records (env LAB_REPORTS_DIR)' });
}

export interface ConnectionFlags {
  broker?: string;
  backend?: string;
  config?: string;
}

/** How the broker and backend are found, for the --help of the commands that take connectionOptions. */
export const CONNECTION_HELP =
  'Broker and backend come from one place: --broker/--backend, else LAB_BROKER_URL/LAB_BACKEND_URL, else --config, ' +
  'else the active lab. The lab is used only when you give neither URL: a broker you give alone has no backend ' +
  '(results off), never the lab\'s. -v prints where each came from.';

/** --broker / --backend / --config (sources in CONNECTION_HELP; urls.ts decides). */
export function connectionOptions<T>(y: Argv<T>): Argv<T & ConnectionFlags> {
  return y
    .option('broker', { type: 'string', describe: 'broker URL, e.g. amqp://user:pass@HOST1:5672// (env LAB_BROKER_URL; default: the active lab)', group: 'Connection:' })
    .option('backend', { type: 'string', describe: 'result backend URL, e.g. redis://:pass@HOST2:6379/0 (env LAB_BACKEND_URL; default: the active lab)', group: 'Connection:' })
    .option('config', {
      type: 'string',
      describe: "a JavaScript module of Celery settings, like the book's config.py: BROKER_URL, CELERY_RESULT_BACKEND, CELERY_ROUTES, task_acks_late… (a .ts module: compile it first with tsc)",
      group: 'Connection:',
    });
}

export interface SerializerFlag {
  serializer?: 'json' | 'msgpack';
}

/** --serializer json|msgpack: how task bodies are encoded (Celery's task_serializer; content types in README). */
export function serializerOption<T>(y: Argv<T>, describe = 'task message bodies: json (application/json, default) or msgpack (application/x-msgpack)'): Argv<T & SerializerFlag> {
  return y.option('serializer', { type: 'string', choices: ['json', 'msgpack'], describe }) as Argv<T & SerializerFlag>;
}

export interface VerdictOptionFlags {
  junit?: string;
  tap: boolean;
}

/** --junit FILE / --tap on lab run: the verdicts for CI (cli/verdict-output.ts). */
export function verdictOptions<T>(y: Argv<T>): Argv<T & VerdictOptionFlags> {
  return y
    .option('junit', { type: 'string', describe: 'also write the verdicts as JUnit XML to this file (its folder is made): a test case per scenario × implementation × mode × point', group: 'CI:' })
    .option('tap', { type: 'boolean', default: false, describe: 'print the verdicts as TAP on stdout (the summary goes to stderr)', group: 'CI:' });
}
