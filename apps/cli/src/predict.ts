import { runMain } from './errors.js';
import { predictCommand } from './predict-command.js';

runMain('predict', async () => {
  await predictCommand(process.argv, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
});
