/**
 * The dashboard's HTTP server (node:http): `GET /` the page, `GET /events` Server-Sent Events,
 * `GET /state` the snapshot as JSON, `GET /static/<name>` Vega builds. Anything else: 405 for
 * methods other than GET, 404 for other paths.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadPage } from './page.js';
import { SseHub } from './sse.js';
import { DashboardState } from './state.js';
import { loadStaticAssets, type StaticAsset } from './static.js';
import type { DashboardEvent } from './types.js';

/** A running dashboard. */
export interface Dashboard {
  /** `http://<host>:<port>/`, with the port actually bound (useful with port 0). */
  readonly url: string;
  /** Records an event and forwards it to every open page. A no-op after close(). */
  publish(e: DashboardEvent): void;
  /** Ends every event stream and stops the server; resolves when it is closed. Idempotent. */
  close(): Promise<void>;
}

export interface DashboardOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Address to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Step points kept for the charts (thinned evenly beyond that); integer ≥ 2, default 5000. */
  maxSteps?: number;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Starts the live run page.
 * @throws RangeError for a bad `maxSteps`; Error when vega/vega-lite builds are missing; the
 *   listen error (e.g. EADDRINUSE) when the port cannot be bound
 */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  const state = new DashboardState(opts.maxSteps ?? 5000);
  const [page, assets] = await Promise.all([loadPage(), loadStaticAssets()]);
  const hub = new SseHub();
  const loopbackOnly = LOOPBACK_NAMES.has(host);

  const server = createServer((req, res) => {
    const route = routeOf(req, loopbackOnly);
    if (route.kind === 'error') return sendError(res, route.status, route.headers);
    const { pathname } = route;
    if (pathname === '/') return send(res, 'text/html; charset=utf-8', page, 'no-cache');
    if (pathname === '/state') return send(res, 'application/json', Buffer.from(JSON.stringify(state.snapshot())), 'no-store');
    if (pathname === '/events') return hub.open(res, { type: 'snapshot', state: state.snapshot() });
    const asset: StaticAsset | undefined = pathname.startsWith('/static/') ? assets.get(pathname.slice(8)) : undefined;
    if (asset) return send(res, asset.contentType, asset.body, 'max-age=3600');
    return sendError(res, 404);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    hub.closeAll();
    throw err;
  });

  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  let closing: Promise<void> | null = null;
  return {
    url,
    publish(e) {
      if (closing) return;
      hub.broadcast(state.apply(e));
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        hub.closeAll();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

type Route = { kind: 'ok'; pathname: string } | { kind: 'error'; status: number; headers?: Record<string, string> };

/**
 * GET only; when bound to loopback, only loopback Host headers (a DNS-rebinding guard: a web page
 * elsewhere cannot read the run through a name that resolves to 127.0.0.1).
 */
function routeOf(req: IncomingMessage, loopbackOnly: boolean): Route {
  if (req.method !== 'GET') return { kind: 'error', status: 405, headers: { Allow: 'GET' } };
  const hostHeader = req.headers.host ?? '';
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${hostHeader}`);
  } catch {
    return { kind: 'error', status: 400 };
  }
  if (loopbackOnly && !LOOPBACK_NAMES.has(url.hostname)) return { kind: 'error', status: 403 };
  return { kind: 'ok', pathname: url.pathname };
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  // Vega compiles its expressions with Function(), hence 'unsafe-eval'; everything else is same-origin.
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
};

function send(res: ServerResponse, contentType: string, body: Buffer, cacheControl: string): void {
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length, 'Cache-Control': cacheControl, ...SECURITY_HEADERS });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  const body = Buffer.from(`${status}\n`);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...headers, ...SECURITY_HEADERS });
  res.end(body);
}
