import { createLocalClients, type LocalClients } from '../clients';
import { startEmulators, type RunningEmulators } from '../emulators';
import type { Lifecycle } from '../lifecycle';
import type { ProvisionedStack } from '../provision';
import type { LocalStack } from '../template/stack';

export interface LocalServices {
  readonly emulators: RunningEmulators;
  readonly clients: LocalClients;
}

/** Starts the emulators and the SDK clients on them (both stopped with `life`), and binds the stack's queue URLs. */
export async function startServices(
  stack: LocalStack,
  runDir: string,
  life: Lifecycle,
  o: { portBase?: number; onUnexpectedExit?: (message: string) => void; guard?: <T>(p: Promise<T>) => Promise<T> } = {},
): Promise<LocalServices> {
  const guard = o.guard ?? ((p) => p);
  const emulators = await guard(startEmulators({ runDir, region: stack.region, portBase: o.portBase, onUnexpectedExit: o.onUnexpectedExit }));
  life.add('emulators', () => emulators.stop());
  const untrack = life.track(emulators.pid);
  life.add('emulator pid', () => untrack());
  stack.bindEndpoints({ sqs: emulators.endpoints.fauxqs });
  const clients = createLocalClients(emulators.endpoints, stack.region);
  life.add('clients', () => clients.destroy());
  return { emulators, clients };
}

/** The URL of the stack's queue with this ARN (event source mappings and destinations name queues by ARN). */
export function queueUrlLookup(provisioned: ProvisionedStack, fail: (message: string) => Error): (arn: string) => string {
  return (arn) => {
    const q = provisioned.queues.find((x) => x.arn === arn);
    if (!q) throw fail(`queue ${arn} is not a queue of this stack`);
    return q.url;
  };
}
