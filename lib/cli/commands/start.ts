import type { Command } from 'commander';

/**
 * `phoenix start`: the main job behind `npm start`.
 * Until the local environment lands it synthesizes the example app and prints what it contains and the cdk-nag result.
 */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('the main job: run the example pipeline')
    .action(async () => {
      process.stdout.write('phoenix start: not wired yet\n');
    });
}
