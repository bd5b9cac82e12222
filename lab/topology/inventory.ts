/**
 * loadInventory: read an inventory file (native lab format or an Ansible-style YAML inventory), validate it
 * completely, and return the Topology. This module and its sections (inventory-sections.ts) are the only place
 * inventories are validated.
 *
 * The native format is documented in hosts/README.md and by the commented examples in hosts/. Every problem is
 * reported as file:line:column, field path, "expected …, got …"; all problems found are reported together in one
 * InventoryError (a ConfigError, exit code 2).
 */
import { lookup } from 'node:dns/promises';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { isMap } from '../vendor/yaml.js';
import { ConfigError } from '../errors.js';
import { fromAnsible, isAnsibleDocument } from './ansible.js';
import {
  assignAddresses,
  brokerBackend,
  checkPortClashes,
  checkRoles,
  dockerSpec,
  giveQuotesToMaster,
  hostSpecs,
  isObj,
  moduleSettings,
  servicePorts,
  subnetOf,
  userServices,
  type ModuleFile,
  type Obj,
  type SectionContext,
  type SshName,
} from './inventory-sections.js';
import { formatCidr, gatewayOf, isIPv4 } from './net.js';
import { LAB_NAME_PATTERN } from './patterns.js';
import { inventoryValidator, schemaIssues } from './schema.js';
import { documentLocator, Issues, parseYaml, reportDuplicateKeys, reportSyntax } from './source.js';
import { DEFAULT_PORTS, PROVIDERS, topologyFromData, type LinkMode, type ProviderKind, type Topology, type TopologyData } from './topology.js';

export { InventoryError, type InventoryIssue } from './source.js';

/** Resolve a host name to an IPv4 address, or null when it does not resolve. */
export type Resolver = (name: string) => Promise<string | null>;

export interface LoadOptions {
  /** DNS lookup for ssh hosts given by name (default: the system resolver, 5 s timeout). Tests inject one. */
  resolve?: Resolver;
  /** What `~` expands to (default: os.homedir()). */
  home?: string;
}

const defaultResolver: Resolver = async (name) => {
  const timeout = new Promise<null>((r) => setTimeout(() => r(null), 5000).unref());
  const found = lookup(name, { family: 4 })
    .then((a) => a.address)
    .catch(() => null);
  return Promise.race([found, timeout]);
};

/** Read, parse and validate an inventory file. Throws ConfigError (exit code 2) naming file, line and field. */
export async function loadInventory(path: string, options: LoadOptions = {}): Promise<Topology> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : String(err);
    throw new ConfigError(`cannot read the inventory: ${why}`, { file });
  }
  return parseInventory(text, file, options);
}

/** Validate inventory text as if it came from `file` (used by loadInventory and tests). */
export async function parseInventory(text: string, file: string, options: LoadOptions = {}): Promise<Topology> {
  let parsed = parseYaml(text);
  const issues = new Issues(file, parsed.lines);
  if (reportSyntax(parsed, issues)) issues.throwIfAny();
  if (parsed.doc.contents === null || parsed.doc.contents === undefined) {
    issues.errorAt({ offset: 0 }, 'expected a mapping with provider and hosts, got an empty file');
    issues.throwIfAny();
  }
  if (!isMap(parsed.doc.contents)) {
    issues.errorAt({ offset: parsed.doc.contents?.range?.[0] ?? 0 }, `expected a mapping with provider and hosts, got ${kindOf(parsed.doc.contents)}`);
    issues.throwIfAny();
  }

  let data: unknown;
  let format: 'lab' | 'ansible' = 'lab';
  if (isAnsibleDocument(parsed.doc)) {
    // Ansible reads YAML 1.1 (yes/no are booleans); parse again that way.
    format = 'ansible';
    parsed = parseYaml(text, '1.1');
    const ai = new Issues(file, parsed.lines);
    reportDuplicateKeys(parsed, ai);
    const converted = fromAnsible(parsed.doc, file, ai);
    ai.locate = converted.locate;
    data = converted.data;
    return validateAndBuild(data, format, file, ai, options);
  }
  reportDuplicateKeys(parsed, issues);
  issues.locate = documentLocator(parsed.doc);
  try {
    data = parsed.doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // merge of a non-map (<<: *scalar), an alias bomb…: the yaml package says what, not where
    issues.errorAt({ offset: 0 }, `YAML error: ${err instanceof Error ? err.message : String(err)}`);
    issues.throwIfAny();
  }
  return validateAndBuild(data, format, file, issues, options);
}

function kindOf(node: unknown): string {
  const n = node as { items?: unknown; value?: unknown } | null;
  if (!n) return 'nothing';
  if (Array.isArray(n.items)) return 'a list';
  return `a scalar ${JSON.stringify(n.value)}`;
}

const LAB_RE = new RegExp(LAB_NAME_PATTERN);

/** A lab name from a file name: raspberry-pi.example.yaml → raspberry-pi-example. */
export function labNameFromFile(file: string): string {
  let n = basename(file)
    .replace(/\.(ya?ml|json)$/i, '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(n)) n = `lab-${n}`;
  n = n.slice(0, 31).replace(/-+$/, '');
  return LAB_RE.test(n) ? n : 'lab';
}

async function validateAndBuild(data: unknown, format: 'lab' | 'ansible', file: string, issues: Issues, options: LoadOptions): Promise<Topology> {
  const validate = await inventoryValidator();
  if (!validate(data)) for (const i of schemaIssues(validate.errors ?? [], data)) issues.error(i.path, i.at, i.message);
  const topo = build(isObj(data) ? data : {}, format, file, issues, options);
  await Promise.all([resolveSshNames(topo, issues, options.resolve ?? defaultResolver), checkModuleFiles(topo.files, issues)]);
  issues.throwIfAny();
  topo.data.warnings = issues.warningLines();
  return topologyFromData(topo.data);
}

interface Pending {
  data: TopologyData;
  /** ssh hosts given by name: resolve before returning. */
  names: SshName[];
  /** The user's modules (tasks, config): they must exist before returning. */
  files: ModuleFile[];
}

/** Run the sections (inventory-sections.ts) in order; each reads what the ones before it built. */
function build(d: Obj, format: 'lab' | 'ansible', file: string, issues: Issues, options: LoadOptions): Pending {
  const provider = (PROVIDERS as readonly unknown[]).includes(d.provider) ? (d.provider as ProviderKind) : undefined;
  const ctx: SectionContext = { issues, provider, baseDir: dirname(file), home: options.home ?? homedir() };
  const lab = typeof d.lab === 'string' && LAB_RE.test(d.lab) ? d.lab : labNameFromFile(file);
  const data: TopologyData = { name: lab, provider: provider ?? 'local', file, format, hosts: [], ports: { ...DEFAULT_PORTS }, warnings: [] };

  const cidr = subnetOf(d, lab, ctx);
  if (cidr) {
    data.subnet = formatCidr(cidr);
    data.gateway = gatewayOf(cidr);
  }
  const { hosts, given, rolesBroken } = hostSpecs(d, ctx);
  data.hosts = hosts;
  const files = moduleSettings(d, hosts, ctx);
  userServices(d, hosts, ctx);
  const names = assignAddresses(hosts, given, cidr, ctx);
  // with hosts or roles missing from the data, whole-inventory role checks would only add noise
  const rolesKnown = !rolesBroken && !issues.structural && hosts.length > 0;
  if (rolesKnown) {
    checkRoles(hosts, isObj(d.hosts) ? d.hosts : {}, issues);
    giveQuotesToMaster(hosts);
  }
  const { broker, backend } = brokerBackend(d, hosts, isObj(d.hosts) ? d.hosts : {}, issues, rolesKnown);
  data.broker = broker;
  data.backend = backend;
  data.ports = servicePorts(d);
  if (!rolesBroken && !issues.hasErrorUnder(['ports'])) checkPortClashes(d, data.ports, hosts, issues, broker.kind === 'redis');
  const docker = dockerSpec(d, lab, ctx);
  if (docker) data.docker = docker;
  data.links = linkMode(d, data.provider, issues);
  return { data, names, files };
}

/**
 * `links: proxy`: every service host runs lab's link proxy in front of its services (services/link-proxy.ts), so
 * slow-link faults work without tc netem. A local lab's hosts are this machine: there is no link to put it on.
 */
export function linkMode(d: Obj, provider: string, issues: Issues): LinkMode {
  if (d.links !== 'proxy') return 'direct';
  if (provider === 'local') {
    issues.error(['links'], 'value', "expected links: direct on a local lab (its hosts are this machine: there is no link between them for lab's proxy to slow), got proxy");
    return 'direct';
  }
  return 'proxy';
}

/** Every module the inventory names must be a file (checked once per place it is written). */
async function checkModuleFiles(files: ModuleFile[], issues: Issues): Promise<void> {
  const seen = new Set<string>();
  await Promise.all(
    files.map(async (f) => {
      const k = `${JSON.stringify(f.path)}\0${f.file}`;
      if (seen.has(k)) return;
      seen.add(k);
      const st = await stat(f.file).catch((err: NodeJS.ErrnoException) => err);
      if (st instanceof Error) {
        const why = st.code === 'ENOENT' ? 'no such file' : st.code === 'EACCES' ? 'permission denied' : (st.code ?? st.message);
        issues.error(f.path, 'value', `expected an existing JavaScript module, got ${f.file} (${why})`);
      } else if (!st.isFile()) issues.error(f.path, 'value', `expected a JavaScript module file, got ${f.file}, which is not a file`);
    }),
  );
}

/** Resolve the ssh hosts given by name; one that does not resolve is an error at its name. */
async function resolveSshNames(p: Pending, issues: Issues, resolver: Resolver): Promise<void> {
  await Promise.all(
    p.names.map(async (n) => {
      const ip = await resolver(n.name).catch(() => null);
      if (ip && isIPv4(ip)) n.host.address = ip;
      else if (n.at === 'value') issues.error(n.path, 'value', `expected an IPv4 address or a resolvable host name, got ${JSON.stringify(n.name)}, which does not resolve`);
      else issues.error(n.path, 'key', `expected an address (ssh hosts need an address or a resolvable host name), got none, and ${JSON.stringify(n.name)} does not resolve`);
    }),
  );
}
