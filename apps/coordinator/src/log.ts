/** One timestamped line on stderr per message, prefixed with the process's role. */
export function createLog(role: string): (msg: string) => void {
  return (msg) => process.stderr.write(`${new Date().toISOString()} [${role}] ${msg}\n`);
}
