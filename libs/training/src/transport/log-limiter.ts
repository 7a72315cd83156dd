/**
 * Bounds the log lines a kind of event can cost: at most `perWindow` lines per kind in each
 * window of `windowMs`; past that the events are counted, and the count is logged once when the
 * next window opens. A peer that floods the coordinator (connections with a bad token, bad hellos,
 * unsolicited messages) then costs a bounded number of lines, whatever its rate.
 */
export class LogLimiter {
  private readonly windows = new Map<string, { start: number; logged: number; suppressed: number }>();

  constructor(
    private readonly log: (msg: string) => void,
    readonly perWindow = 10,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `msg` under `kind` unless that kind has had its lines for this window. */
  say(kind: string, msg: string): void {
    const t = this.now();
    let w = this.windows.get(kind);
    if (w === undefined || t - w.start >= this.windowMs) {
      if (w !== undefined && w.suppressed > 0) this.log(`${kind}: ${w.suppressed} more not logged in the last ${Math.round(this.windowMs / 1000)} s`);
      w = { start: t, logged: 0, suppressed: 0 };
      this.windows.set(kind, w);
    }
    if (w.logged >= this.perWindow) {
      w.suppressed += 1;
      return;
    }
    w.logged += 1;
    this.log(msg);
    if (w.logged === this.perWindow) this.log(`${kind}: ${this.perWindow} in ${Math.round((t - w.start) / 1000)} s; more are counted, not logged, until ${Math.round(this.windowMs / 1000)} s have passed`);
  }
}
