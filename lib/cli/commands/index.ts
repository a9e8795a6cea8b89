import type { Command } from 'commander';
import { registerStart } from './start';

/** Every command module exports a register function; add new ones here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [registerStart];
