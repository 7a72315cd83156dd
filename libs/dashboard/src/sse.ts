/**
 * Server-Sent Events fan-out: holds the open `/events` responses, writes each message to all of
 * them, and forgets clients that disconnect, fail or fall too far behind.
 */
import type { ServerResponse } from 'node:http';

/** A client whose unsent backlog exceeds this many bytes is dropped (bounds memory). */
export const MAX_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Comment lines keep idle connections open and reveal dead ones. */
export const HEARTBEAT_MS = 15_000;

/** The open event streams. */
export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor() {
    this.heartbeat = setInterval(() => this.writeAll(': ping\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Open streams right now. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Turns `res` into an event stream (headers, 2 s reconnect delay), sends `first` as its first
   * message and adds it to the broadcast set until it closes.
   */
  open(res: ServerResponse, first: unknown): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    res.on('error', () => this.drop(res));
    this.write(res, `retry: 2000\n\n${frame(first)}`);
  }

  /** Sends one JSON message to every open stream. */
  broadcast(message: unknown): void {
    if (this.clients.size > 0) this.writeAll(frame(message));
  }

  /** Ends every stream and stops the heartbeat. */
  closeAll(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private writeAll(chunk: string): void {
    for (const res of this.clients) this.write(res, chunk);
  }

  private write(res: ServerResponse, chunk: string): void {
    if (res.writableLength > MAX_BACKLOG_BYTES) this.drop(res);
    else res.write(chunk);
  }

  private drop(res: ServerResponse): void {
    this.clients.delete(res);
    res.destroy();
  }
}

/** One SSE message: JSON never contains a raw newline, so a single `data:` line suffices. */
function frame(message: unknown): string {
  return `data: ${JSON.stringify(message)}\n\n`;
}
