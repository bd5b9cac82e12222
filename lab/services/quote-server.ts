/**
 * The lab's quote server: answers the book's Yahoo Finance path, /d/quotes.csv?s=EURUSD=X&f=p, with a
 * deterministic price per pair after a configurable latency (default 200 ms) — the "fetch" the currency
 * scenario fans out, served from inside the lab because lab machines have no internet.
 * `latency_ms` in the query overrides the server's latency for that request.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PAIR_PATTERN, quotePrice } from './quotes.js';

export interface QuoteServerOptions {
  host?: string;
  port?: number;
  latencyMs?: number;
}

export interface QuoteServer {
  readonly url: string;
  /** The book's URL template: "{}" stands for the pair. */
  readonly template: string;
  readonly requests: number;
  close(): Promise<void>;
}

export const QUOTES_PATH = '/d/quotes.csv';

export function quotesTemplate(base: string, latencyMs?: number): string {
  return `${base}${QUOTES_PATH}?s={}=X&f=p${latencyMs === undefined ? '' : `&latency_ms=${latencyMs}`}`;
}

export async function startQuoteServer(options: QuoteServerOptions = {}): Promise<QuoteServer> {
  const defaultLatency = options.latencyMs ?? 200;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://quotes');
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url.pathname !== QUOTES_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${url.pathname} (try ${QUOTES_PATH}?s=EURUSD=X&f=p)\n`);
      return;
    }
    requests++;
    const symbol = (url.searchParams.get('s') ?? '').replace(/=X$/, '');
    const latencyParam = url.searchParams.get('latency_ms');
    const latency = latencyParam !== null && /^\d{1,6}$/.test(latencyParam) ? Number(latencyParam) : defaultLatency;
    const answer = (): void => {
      if (!PAIR_PATTERN.test(symbol)) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`N/A: ${JSON.stringify(symbol)} is not a currency pair like EURUSD\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/csv' }).end(`${quotePrice(symbol)}\n`);
    };
    if (latency > 0) setTimeout(answer, latency);
    else answer();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  return {
    url,
    template: quotesTemplate(url),
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
