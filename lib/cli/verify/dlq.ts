/** The dead-letters observation of `phoenix verify`: the DLQ's depth (SQS GetQueueAttributes), on AWS or a local endpoint. */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Observed } from '../../core/verify';

/** The DLQ's ApproximateNumberOfMessages; an error when the pipeline has no DlqUrl output. */
export async function deadLetters(sqs: SQSClient, queue: string | undefined): Promise<Observed<{ queue: string; messages: number }>> {
  if (!queue) return { error: 'the stack has no DlqUrl output for this pipeline' };
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return queueDepth(queue, res.Attributes?.ApproximateNumberOfMessages);
}

/** The DLQ depth from the ApproximateNumberOfMessages attribute (an error when it is missing or not a count). */
export function queueDepth(queue: string, attribute: string | undefined): Observed<{ queue: string; messages: number }> {
  if (attribute === undefined || !/^\d+$/.test(attribute)) return { error: `GetQueueAttributes gave no ApproximateNumberOfMessages count for ${queue} (got ${JSON.stringify(attribute)})` };
  return { queue, messages: Number(attribute) };
}
