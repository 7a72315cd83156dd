/** Maps a thrown error to a process exit code at the edge (errors carry a stable `code`). */
export function exitCodeFor(err: unknown): number {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return 1;
  if (code.startsWith('E_DATA')) return 3;
  if (code.startsWith('E_PROTO')) return 4;
  if (code === 'E_TRAIN_CONFIG' || code === 'E_BACKEND_UNAVAILABLE') return 2;
  if (code.startsWith('E_TRAIN')) return 5;
  return 1;
}
