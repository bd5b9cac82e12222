/**
 * Ansible-style YAML inventories → the native inventory shape (then validated like any native file).
 *
 *   all:
 *     vars: { lab_name: pis, lab_provider: ssh, ansible_user: pi, ansible_become: yes }
 *     children:
 *       broker:  { hosts: { HOST1: { ansible_host: 192.168.1.11 } } }
 *       backend: { hosts: { HOST2: { ansible_host: 192.168.1.12 } } }
 *       workers: { hosts: { HOST3: { ansible_host: 192.168.1.13, lab_concurrency: 4 } } }
 *       master:  { hosts: { HOST4: { ansible_host: 192.168.1.14 } } }
 *
 * Groups named by role (singular or plural: broker/brokers, backend/backends, worker/workers, master/masters,
 * quote/quotes) give their hosts — including hosts of nested child groups — that role. Other group names are
 * plain groups (their vars are inherited), except names a small typo away from a role group, which are errors.
 * Variables: all.vars < parent group vars < child group vars < host vars (Ansible's precedence).
 *   ansible_host/ansible_ssh_host → address · ansible_user/ansible_ssh_user → user · ansible_port/ansible_ssh_port → port
 *   ansible_ssh_private_key_file/ansible_private_key_file → key · ansible_become → sudo
 *   ansible_password/ansible_ssh_pass → password (discouraged)
 *   lab_concurrency, lab_pool, lab_queues, lab_image, lab_mounts, lab_roles, lab_tasks, lab_config, lab_services
 *   → the native host fields
 *   all.vars only: lab_name → lab (default: from the file name), lab_provider → provider (default ssh),
 *   lab_subnet → subnet, lab_ports → ports, lab_docker → docker, lab_broker → broker, lab_backend → backend
 * Other ansible_* and non-lab variables belong to playbooks and are ignored; unknown lab_* variables are errors.
 */
import { isMap, isScalar } from '../vendor/yaml.js';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import { closest, type Seg } from './schema.js';
import { findPair, formatField, keyString, startOf, unalias, type Issues, type Locate } from './source.js';
import type { Role } from './topology.js';

const ROLE_GROUPS: Record<string, Role> = {
  broker: 'broker',
  brokers: 'broker',
  backend: 'backend',
  backends: 'backend',
  worker: 'workers',
  workers: 'workers',
  master: 'master',
  masters: 'master',
  quote: 'quotes',
  quotes: 'quotes',
};

const HOST_VARS: Record<string, string> = {
  ansible_host: 'address',
  ansible_ssh_host: 'address',
  ansible_user: 'user',
  ansible_ssh_user: 'user',
  ansible_port: 'port',
  ansible_ssh_port: 'port',
  ansible_ssh_private_key_file: 'key',
  ansible_private_key_file: 'key',
  ansible_become: 'sudo',
  ansible_password: 'password',
  ansible_ssh_pass: 'password',
  ansible_ssh_password: 'password',
  lab_concurrency: 'concurrency',
  lab_pool: 'pool',
  lab_queues: 'queues',
  lab_image: 'image',
  lab_mounts: 'mounts',
  lab_roles: 'roles',
  lab_tasks: 'tasks',
  lab_config: 'config',
  lab_services: 'services',
};

const LAB_VARS: Record<string, string> = {
  lab_name: 'lab',
  lab_provider: 'provider',
  lab_subnet: 'subnet',
  lab_ports: 'ports',
  lab_docker: 'docker',
  lab_broker: 'broker',
  lab_backend: 'backend',
  lab_links: 'links',
};

const GROUP_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Top-level `all:` and no native `hosts:`/`provider:` keys. */
export function isAnsibleDocument(doc: Document): boolean {
  const c = doc.contents;
  if (!isMap(c)) return false;
  return findPair(c, 'all') !== undefined && findPair(c, 'hosts') === undefined && findPair(c, 'provider') === undefined;
}

interface Origin {
  keyOffset: number;
  valueOffset: number;
  field: string;
}

interface VarVal {
  value: unknown;
  origin: Origin;
}

interface GroupLayer {
  id: number;
  depth: number;
  vars: Map<string, VarVal>;
}

interface HostAcc {
  name: string;
  origin: Origin;
  roles: Map<Role, Origin>;
  groups: Map<number, GroupLayer>;
  hostVars: Map<string, VarVal>[];
}

export interface AnsibleConversion {
  data: Record<string, unknown>;
  locate: Locate;
}

/** Convert an Ansible inventory; problems of the Ansible structure itself go to `issues`. */
export function fromAnsible(doc: Document, _file: string, issues: Issues): AnsibleConversion {
  const originOf = (pair: Pair, fieldPath: Seg[]): Origin => {
    const keyOffset = startOf(pair.key) ?? 0;
    const v = pair.value as Node | null;
    const empty = !v || (isScalar(v) && v.value === null && !v.source);
    return { keyOffset, valueOffset: empty ? keyOffset : (startOf(v) ?? keyOffset), field: formatField(fieldPath) };
  };
  const at = (o: Origin, which: 'key' | 'value'): { offset: number; field: string } => ({
    offset: which === 'key' ? o.keyOffset : o.valueOffset,
    field: o.field,
  });

  const hosts = new Map<string, HostAcc>();
  let nextGroupId = 0;
  const globals = new Map<string, VarVal>();

  const readVars = (node: unknown, fieldPath: Seg[], isAllVars: boolean): Map<string, VarVal> => {
    const out = new Map<string, VarVal>();
    const n = unalias(node, doc);
    if (n === null || n === undefined || (isScalar(n) && n.value === null)) return out;
    if (!isMap(n)) {
      issues.errorAt({ offset: startOf(n) ?? 0, field: formatField(fieldPath) }, 'expected a mapping of variables, got a list or a scalar');
      return out;
    }
    for (const pair of n.items) {
      const k = keyString(pair.key);
      const o = originOf(pair as Pair, [...fieldPath, k]);
      let value: unknown;
      try {
        value = toJS(pair.value, doc);
      } catch (err) {
        issues.errorAt(at(o, 'value'), `YAML error: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      if (LAB_VARS[k]) {
        if (isAllVars) globals.set(k, { value, origin: o });
        else issues.errorAt(at(o, 'key'), `expected ${k} under all.vars only, got it in ${formatField(fieldPath.slice(0, -1))}`);
        continue;
      }
      if (k.startsWith('lab_') && !HOST_VARS[k]) {
        const guess = closest(k, [...Object.keys(LAB_VARS), ...Object.keys(HOST_VARS).filter((x) => x.startsWith('lab_'))]);
        issues.errorAt(at(o, 'key'), `expected a known lab_ variable, got unknown ${JSON.stringify(k)}${guess ? ` (did you mean ${guess}?)` : ''}`);
        continue;
      }
      if (HOST_VARS[k]) out.set(k, { value, origin: o });
    }
    return out;
  };

  const walkGroup = (name: string, pair: Pair | null, node: unknown, fieldPath: Seg[], depth: number, chain: GroupLayer[], chainRoles: Map<Role, Origin>): void => {
    const n = unalias(node, doc);
    if (n === null || n === undefined || (isScalar(n) && n.value === null)) return;
    if (!isMap(n)) {
      const o = pair ? originOf(pair, fieldPath) : { keyOffset: startOf(n) ?? 0, valueOffset: startOf(n) ?? 0, field: formatField(fieldPath) };
      issues.errorAt(at(o, 'value'), 'expected a group mapping with hosts, children or vars, got a list or a scalar', true);
      return;
    }
    const layer: GroupLayer = { id: nextGroupId++, depth, vars: new Map() };
    const varsPair = findPair(n, 'vars');
    if (varsPair) layer.vars = readVars(varsPair.value, [...fieldPath, 'vars'], name === 'all' && depth === 0);
    const myChain = [...chain, layer];

    for (const p of n.items) {
      const k = keyString(p.key);
      if (k === 'vars' || k === 'hosts' || k === 'children') continue;
      const guess = closest(k, ['hosts', 'children', 'vars']);
      issues.errorAt(at(originOf(p as Pair, [...fieldPath, k]), 'key'), `expected hosts, children or vars in a group, got ${JSON.stringify(k)}${guess ? ` (did you mean ${guess}?)` : ''}`, true);
    }

    const hostsMap = mappingUnder(n, 'hosts', fieldPath, 'a mapping of host names (host: vars)');
    for (const hp of hostsMap?.items ?? []) {
      const hname = keyString(hp.key);
      const hField = [...fieldPath, 'hosts', hname];
      const o = originOf(hp as Pair, hField);
      if (/\[[^\]]*:[^\]]*\]/.test(hname)) {
        issues.errorAt(at(o, 'key'), `expected a single host name, got the host range ${JSON.stringify(hname)} (ranges are not supported; list each host)`, true);
        continue;
      }
      let acc = hosts.get(hname);
      if (!acc) {
        acc = { name: hname, origin: o, roles: new Map(), groups: new Map(), hostVars: [] };
        hosts.set(hname, acc);
      }
      for (const r of chainRoles.keys()) if (!acc.roles.has(r)) acc.roles.set(r, { ...o, valueOffset: o.keyOffset });
      for (const g of myChain) acc.groups.set(g.id, g);
      const hv = unalias(hp.value, doc);
      if (hv !== null && hv !== undefined && !(isScalar(hv) && hv.value === null) && !isMap(hv)) {
        issues.errorAt(at(o, 'value'), 'expected a mapping of host variables (or nothing), got a list or a scalar', true);
      } else acc.hostVars.push(readVars(hv, hField, false));
    }

    const childrenMap = mappingUnder(n, 'children', fieldPath, 'a mapping of child groups');
    for (const cp of childrenMap?.items ?? []) visitGroupPair(cp as Pair, [...fieldPath, 'children'], depth + 1, myChain, chainRoles);
  };

  /**
   * The mapping under `key` in a group (hosts, children); undefined when the key is absent or empty. Anything
   * else there is a structural error (hosts or roles may go missing).
   */
  const mappingUnder = (group: YAMLMap, key: 'hosts' | 'children', fieldPath: Seg[], expected: string): YAMLMap | undefined => {
    const pair = findPair(group, key);
    if (!pair) return undefined;
    const node = unalias(pair.value, doc);
    if (node === null || (isScalar(node) && node.value === null)) return undefined;
    if (isMap(node)) return node;
    issues.errorAt(at(originOf(pair, [...fieldPath, key]), 'value'), `expected ${expected}, got a list or a scalar`, true);
    return undefined;
  };

  const visitGroupPair = (p: Pair, parentField: Seg[], depth: number, chain: GroupLayer[], chainRoles: Map<Role, Origin>): void => {
    const g = keyString(p.key);
    const field = [...parentField, g];
    const o = originOf(p, field);
    const roles = new Map(chainRoles);
    const role = ROLE_GROUPS[g.toLowerCase()];
    if (role) {
      if (!roles.has(role)) roles.set(role, o);
    } else if (g !== 'all' && g !== 'ungrouped') {
      if (!GROUP_NAME_RE.test(g)) {
        issues.errorAt(at(o, 'key'), `expected a group name of letters, digits, _ and -, got ${JSON.stringify(g)}`, true);
        return;
      }
      const guess = closest(g.toLowerCase(), Object.keys(ROLE_GROUPS));
      if (guess) {
        issues.errorAt(
          at(o, 'key'),
          `expected a role group (broker, backend, workers, master, quotes) or a plain group name, got ${JSON.stringify(g)} (did you mean ${guess}?)`,
          true,
        );
        return;
      }
    }
    walkGroup(g, p, p.value, field, depth, chain, roles);
  };

  // top level: `all`, plus any other top-level groups (implicitly children of all)
  const top = doc.contents;
  if (isMap(top)) {
    const allPair = findPair(top, 'all')!;
    walkGroup('all', allPair, allPair.value, ['all'], 0, [], new Map());
    for (const p of top.items) if (keyString(p.key) !== 'all') visitGroupPair(p as Pair, [], 1, [], new Map());
  }

  // ---- assemble native-shaped data, remembering where every value came from
  const origins = new Map<string, Origin>();
  const remember = (path: Seg[], o: Origin): void => void origins.set(JSON.stringify(path), o);
  const data: Record<string, unknown> = { provider: 'ssh' };
  for (const [k, v] of globals) {
    const native = LAB_VARS[k]!;
    data[native] = v.value;
    remember([native], v.origin);
  }
  const hostData: Record<string, unknown> = {};
  for (const acc of hosts.values()) {
    const path: Seg[] = ['hosts', acc.name];
    remember(path, acc.origin);
    const merged = new Map<string, VarVal>();
    const layers = [...acc.groups.values()].sort((a, b) => a.depth - b.depth || a.id - b.id);
    for (const l of layers) for (const [k, v] of l.vars) merged.set(k, v);
    for (const hv of acc.hostVars) for (const [k, v] of hv) merged.set(k, v);
    const h: Record<string, unknown> = {};
    for (const [k, v] of merged) {
      const native = HOST_VARS[k]!;
      h[native] = coerce(native, v.value);
      remember([...path, native], v.origin);
    }
    if (acc.roles.size > 0) {
      const explicit = Array.isArray(h.roles) ? (h.roles as unknown[]) : [];
      h.roles = [...new Set([...acc.roles.keys(), ...explicit])];
      if (explicit.length === 0) remember([...path, 'roles'], [...acc.roles.values()][0]!);
    }
    hostData[acc.name] = h;
  }
  data.hosts = hostData;
  // whole-inventory problems (no broker, no hosts at all) are reported at `all:`
  const allPair = isMap(top) ? findPair(top, 'all') : undefined;
  remember(['hosts'], allPair ? originOf(allPair, ['all']) : { keyOffset: 0, valueOffset: 0, field: 'all' });

  const locate: Locate = (path, which) => {
    for (let n = path.length; n >= 0; n--) {
      const o = origins.get(JSON.stringify(path.slice(0, n)));
      if (o) {
        // deeper than what we know (e.g. queues[1]): point at the known value, name the full field
        const rest = formatField(path.slice(n));
        const field = rest ? (rest.startsWith('[') ? `${o.field}${rest}` : `${o.field}.${rest}`) : o.field;
        return { offset: n === path.length ? (which === 'key' ? o.keyOffset : o.valueOffset) : o.valueOffset, field };
      }
    }
    return { offset: startOf(doc.contents) ?? 0, field: formatField(path) || undefined };
  };
  return { data, locate };
}

function toJS(node: unknown, doc: Document): unknown {
  const n = node as (Node & { toJS?: (d: Document, o: { maxAliasCount: number }) => unknown }) | null | undefined;
  return n && typeof n.toJS === 'function' ? n.toJS(doc, { maxAliasCount: 100 }) : null;
}

/** Ansible values are often strings ("22", "yes"); make the obvious ones typed. */
function coerce(field: string, v: unknown): unknown {
  if ((field === 'port' || field === 'concurrency') && typeof v === 'string' && /^[0-9]+$/.test(v)) return Number(v);
  if (field === 'sudo' && typeof v === 'string') {
    const s = v.toLowerCase();
    if (['yes', 'true', 'on', '1'].includes(s)) return true;
    if (['no', 'false', 'off', '0'].includes(s)) return false;
  }
  if (field === 'queues' && typeof v === 'string') return v.split(',').map((q) => q.trim()).filter(Boolean);
  if (field === 'tasks' && typeof v === 'string') return [v];
  return v;
}
