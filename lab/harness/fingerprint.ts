/** Where a run ran: enough to tell two machines (or two commits) apart when comparing numbers. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { arch, cpus, hostname, release, totalmem, type } from 'node:os';
import { PACKAGE_ROOT } from '../paths.js';
import type { Fingerprint } from '../report/run-record.js';

async function labVersion(): Promise<string> {
  try {
    return (JSON.parse(await readFile(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function gitCommit(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_ROOT, timeout: 2000 }, (err, stdout) => resolve(err ? null : stdout.trim() || null));
  });
}

export async function fingerprint(): Promise<Fingerprint> {
  const [version, commit] = await Promise.all([labVersion(), gitCommit()]);
  const cpuList = cpus();
  return {
    node: process.version,
    os: type(),
    kernel: release(),
    arch: arch(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpus: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    hostname: hostname(),
    labVersion: version,
    gitCommit: commit,
  };
}
