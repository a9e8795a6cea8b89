import { Annotations, AspectPriority, Aspects, type IAspect, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { acknowledge } from '../../private/nag';

/** Warning id of an alarm that notifies nobody (no action, no composite parent with one). */
export const ALARM_WITHOUT_ACTION = 'cdk-phoenix-pipelines:alarmWithoutAction';
/** Warning id of a SyntheticCanary whose alarms notify nobody. */
export const CANARY_WITHOUT_TOPIC = 'cdk-phoenix-pipelines:canaryWithoutAlarmTopic';

/** Constructs whose alarms are a SyntheticCanary's (warned as a canary without an alarm topic). */
export const canaryAlarmOwners = new WeakSet<IConstruct>();
/** Stacks that already have the coverage check. */
const checkedStacks = new WeakSet<Stack>();

/**
 * Gives `alarms` an SNS action on `topic`; without one, acknowledges the cdk-nag alarm-action finding (the alarm is
 * meant to join a CorrelatedMonitor's pipeline-health composite) and leaves it to the stack's coverage check.
 */
export function routeAlarms(owner: IConstruct, alarms: cloudwatch.Alarm[], topic?: sns.ITopic): void {
  checkAlarmCoverage(owner);
  const action = topic ? new cw_actions.SnsAction(topic) : undefined;
  for (const alarm of alarms) {
    if (action) {
      alarm.addAlarmAction(action);
    } else {
      acknowledge(alarm,
        'No alarmTopic given: the alarm is meant to join a CorrelatedMonitor\'s pipeline-health composite alarm, which notifies (a synth warning names it otherwise).',
        'NIST.800.53.R5-CloudWatchAlarmAction', 'HIPAA.Security-CloudWatchAlarmAction');
    }
  }
}

/** Adds the {@link AlarmCoverageCheck} to the stack of `scope` (once per stack). */
export function checkAlarmCoverage(scope: IConstruct): void {
  const stack = Stack.of(scope);
  if (checkedStacks.has(stack)) return;
  checkedStacks.add(stack);
  Aspects.of(stack).add(new AlarmCoverageCheck(stack), { priority: AspectPriority.READONLY });
}

/**
 * A synth-time check of every metric alarm of a stack: it must have an alarm action, or appear in the rule of a
 * composite alarm that has one (one level: a composite without actions does not count). Else a warning names it;
 * an alarm of a SyntheticCanary warns on the canary that it has no alarm topic.
 */
export class AlarmCoverageCheck implements IAspect {
  private notifyingRules?: string;

  /** @param stack the stack checked: an aspect also visits its nested stacks, which have checks (and logical ids) of their own */
  constructor(private readonly stack: Stack) {}

  public visit(node: IConstruct): void {
    if (!(node instanceof cloudwatch.CfnAlarm)) return;
    const stack = Stack.of(node);
    if (stack !== this.stack) return;
    if (hasActions(stack, node.alarmActions)) return;
    this.notifyingRules ??= notifyingCompositeRules(stack);
    if (this.notifyingRules.includes(`"${stack.getLogicalId(node)}"`)) return;
    const owner = node.node.scope?.node.scope;
    if (owner && canaryAlarmOwners.has(owner)) {
      Annotations.of(owner).addWarningV2(CANARY_WITHOUT_TOPIC,
        `the canary's alarm ${node.node.path} notifies nobody: give the canary an alarmTopic, or create it through a CorrelatedMonitor (enableCanary)`);
      return;
    }
    Annotations.of(node).addWarningV2(ALARM_WITHOUT_ACTION,
      `alarm ${node.node.path} notifies nobody: it has no alarm action and no composite alarm with an action lists it; `
      + 'pass an alarmTopic to its construct, or add it to a CorrelatedMonitor (addAlarm)');
  }
}

function hasActions(stack: Stack, actions: unknown): boolean {
  const resolved = stack.resolve(actions) as unknown[] | undefined;
  return Array.isArray(resolved) && resolved.length > 0;
}

/** The resolved rules (JSON) of the stack's composite alarms that have an alarm action. */
function notifyingCompositeRules(stack: Stack): string {
  return JSON.stringify(stack.node.findAll()
    .filter((c): c is cloudwatch.CfnCompositeAlarm => c instanceof cloudwatch.CfnCompositeAlarm && Stack.of(c) === stack)
    .filter((c) => hasActions(stack, c.alarmActions))
    .map((c) => stack.resolve(c.alarmRule)));
}
