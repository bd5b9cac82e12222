/**
 * `lab dashboard`: Celery events (and remote-control and queue polls) → DashboardState → a page on loopback, live
 * over Server-Sent Events (node:http only). Every request needs the generated token (in the URL the CLI prints);
 * anything else is 403. Background polls never throw: their failures are emitted as 'warning'.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { EventReceiver, MailboxClient, surveyWorkers } from '../queue/index.js';
import type { Broker } from '../queue/index.js';
import { DashboardState } from './dashboard-state.js';
import type { RecordedFault } from './dashboard-state.js';
import { dashboardPage } from './dashboard-page.js';

export interface DashboardOptions {
  broker: Broker;
  /** Address to listen on; loopback by default (the page shows task arguments and tracebacks). */
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /** Queues to show besides those clients name in task-sent events. */
  queues?: string[];
  /** How often the page is updated, and the broker's queues polled (ms). */
  pushIntervalMs?: number;
  surveyIntervalMs?: number;
  /** The lab's faults recorded now (its ledger), polled with the queues; absent when no lab is up. */
  faults?: () => Promise<RecordedFault[]>;
}

export interface DashboardEvents {
  warning: [message: string];
}

export class Dashboard extends EventEmitter<DashboardEvents> {
  readonly token = randomBytes(16).toString('hex');
  readonly state = new DashboardState();
  private server: Server | null = null;
  private receiver: EventReceiver | null = null;
  private client: MailboxClient | null = null;
  private readonly clients = new Set<ServerResponse>();
  private timers: NodeJS.Timeout[] = [];
  private address: AddressInfo | null = null;

  constructor(private readonly options: DashboardOptions) {
    super();
  }

  get url(): string {
    if (!this.address) throw new Error('dashboard not started');
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}/?token=${this.token}`;
  }

  async start(): Promise<void> {
    const { broker } = this.options;
    this.receiver = new EventReceiver(broker);
    this.receiver.on('event', (e) => this.state.event(e));
    await this.receiver.start();
    this.client = new MailboxClient(broker);
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    this.address = this.server.address() as AddressInfo;
    const push = this.options.pushIntervalMs ?? 1000;
    const survey = this.options.surveyIntervalMs ?? 5000;
    void this.poll();
    void this.survey();
    this.timers.push(setInterval(() => this.pushAll(), push), setInterval(() => void this.poll(), Math.max(push, 1000)), setInterval(() => void this.survey(), survey));
  }

  private async poll(): Promise<void> {
    const names = [...new Set([...(this.options.queues ?? []), ...this.state.queuesSeen()])];
    const stats = [];
    for (const q of names) {
      try {
        stats.push(await this.options.broker.stats(q));
      } catch (err) {
        this.emit('warning', `queue ${q}: ${(err as Error).message}`);
      }
    }
    this.state.queueStats(stats);
    if (this.options.faults) {
      try {
        this.state.faultsRecorded(await this.options.faults());
      } catch (err) {
        this.emit('warning', `faults: ${(err as Error).message}`);
      }
    }
  }

  private async survey(): Promise<void> {
    try {
      if (this.client) this.state.survey(await surveyWorkers(this.client, 1000));
    } catch (err) {
      this.emit('warning', `remote control: ${(err as Error).message}`);
    }
  }

  private pushAll(): void {
    if (this.clients.size === 0) return;
    const data = `data: ${JSON.stringify(this.state.snapshot())}\n\n`;
    for (const res of this.clients) res.write(data);
  }

  private authorized(url: URL): boolean {
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const want = Buffer.from(this.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    // Browsers ask for it on their own, without the token: nothing to hide, nothing to send.
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'GET' || !this.authorized(url)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: open the URL lab dashboard printed (it carries the token)\n');
      return;
    }
    if (url.pathname === '/') {
      const nonce = randomBytes(16).toString('base64');
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'`,
        'referrer-policy': 'no-referrer',
        'x-content-type-options': 'nosniff',
      });
      res.end(dashboardPage(nonce, `/events?token=${this.token}`));
      return;
    }
    if (url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`data: ${JSON.stringify(this.state.snapshot())}\n\n`);
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const res of this.clients) res.end();
    this.clients.clear();
    const server = this.server;
    this.server = null;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await this.receiver?.stop();
    await this.client?.close();
  }
}
