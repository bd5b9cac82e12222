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

export function hostsOption<T>(y: Argv<T>): Argv<T & HostsFlag> {
  return y.option('hosts', { type: 'string', describe: 'inventory file (hosts.yaml or an Ansible YAML inventory); default: the active lab', normalize: true });
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
}

/** --broker / --backend, else LAB_BROKER_URL / LAB_BACKEND_URL, else the active lab. */
export function connectionOptions<T>(y: Argv<T>): Argv<T & ConnectionFlags> {
  return y
    .option('broker', { type: 'string', describe: 'broker URL, e.g. amqp://user:pass@HOST1:5672// (env LAB_BROKER_URL; default: the active lab)' })
    .option('backend', { type: 'string', describe: 'result backend URL, e.g. redis://:pass@HOST2:6379/0 (env LAB_BACKEND_URL; default: the active lab)' });
}
