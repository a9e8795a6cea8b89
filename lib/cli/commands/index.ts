import type { Command } from 'commander';
import { registerDlq } from './dlq';
import { registerDrill } from './drill';
import { registerLocal } from './local';
import { registerProfile } from './profile';
import { registerReplay } from './replay';
import { registerStart } from './start';
import { registerVerify } from './verify';

/** Every command module exports a register function; add new ones here. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerStart, registerLocal, registerDlq, registerReplay, registerProfile, registerDrill, registerVerify,
];
