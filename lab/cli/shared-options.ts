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
