/** Where a command writes: `out` for results (stdout), `err` for notes and warnings (stderr). */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}
