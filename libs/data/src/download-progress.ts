import cliProgress from 'cli-progress';

/** Reports bytes received for one download. */
export interface DownloadProgress {
  update(bytes: number): void;
  stop(): void;
}

const MB = 1024 * 1024;

function mb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

/**
 * A cli-progress bar on `stream` when it is a TTY (and `enabled`), else plain log lines (at most
 * one per 10 % or, with no known total, per 16 MB) so that logs piped to a file stay readable.
 *
 * @param total expected size in bytes, or undefined when the server sent no Content-Length
 */
export function createDownloadProgress(
  title: string,
  total: number | undefined,
  log: (msg: string) => void,
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): DownloadProgress {
  if (enabled && stream.isTTY && total !== undefined && total > 0) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${title} [{bar}] {percentage}% | {got}/{size} MB | ETA {eta_formatted}`,
        hideCursor: true,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { got: mb(0), size: mb(total) });
    return {
      update: (bytes) => bar.update(bytes, { got: mb(bytes) }),
      stop: () => bar.stop(),
    };
  }
  let nextReport = 0;
  const step = total !== undefined && total > 0 ? total / 10 : 16 * MB;
  return {
    update(bytes) {
      if (bytes < nextReport) return;
      nextReport = (Math.floor(bytes / step) + 1) * step;
      const pct = total !== undefined && total > 0 ? ` (${Math.floor((100 * bytes) / total)}%)` : '';
      log(`${title}: ${mb(bytes)}${total !== undefined ? `/${mb(total)}` : ''} MB${pct}`);
    },
    stop() {},
  };
}
