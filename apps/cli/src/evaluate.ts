import { runMain } from './errors.js';
import { evaluateCommand } from './evaluate-command.js';

runMain('evaluate', async () => {
  await evaluateCommand(process.argv, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
});
