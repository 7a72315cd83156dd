import { choosePriorCommand } from './choose-prior-command.js';
import { runMain } from './errors.js';

runMain('choose-prior', async () => {
  await choosePriorCommand(process.argv, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
});
