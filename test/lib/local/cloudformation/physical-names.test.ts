import { describe, expect, it } from 'vitest';
import { explicitName, fairSplit, generatePhysicalName, physicalId, randomUuid } from '../../../../lib/local/cloudformation/physical-names';
import { Random } from '../../../../lib/local/random';

const seeded = (seed: number): (() => number) => { const r = new Random(seed); return () => r.next(); };

describe('generated physical names', () => {
  it('cuts the stack name of a Lambda function as CloudFormation did in the published example', () => {
    // 0.99 for both halves of the 63-bit suffix: a 13-character suffix (the longest), as in the example.
    const name = generatePhysicalName('AWS::Lambda::Function', 'MyStackDev-MyNestedApplicationStack', 'MyLambdaFunctionName', () => 0.99);
    expect(name).toMatch(/^MyStackDev-MyNestedApplicatio-MyLambdaFunctionName-1[A-Z0-9]{12}$/);
    expect(name).toHaveLength(64);
  });

  it('legacy suffixes are 63-bit integers in base 36: 12-13 upper-case characters, 13 only when starting with 1', () => {
    const rng = seeded(7);
    const lengths = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const sfx = generatePhysicalName('AWS::DynamoDB::Table', 'S', 'T', rng).split('-')[2];
      expect(sfx).toMatch(/^[A-Z0-9]{1,13}$/);
      if (sfx.length === 13) expect(sfx[0]).toBe('1');
      lengths.add(sfx.length);
    }
    expect(lengths.has(12) && lengths.has(13)).toBe(true);
  });

  it('S3 bucket names are lower case, at most 63 characters, with 12 random lower-case characters', () => {
    const name = generatePhysicalName('AWS::S3::Bucket', 'PhoenixClickstream-With-A-Long-Stack-Name', 'RawArchiveBucketF1234567ABCDEFGH', seeded(1));
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9-]+-[a-z0-9]{12}$/);
    expect(name.startsWith('phoenixclickstream-')).toBe(true);
  });

  it('registry types fair-split stack name and logical id over the limit (IdentifierUtils)', () => {
    const stack = 'S'.repeat(40);
    const logical = 'L'.repeat(40);
    const name = generatePhysicalName('AWS::Scheduler::Schedule', stack, logical, seeded(2));
    expect(name).toMatch(/^S{25}-L{25}-[A-Za-z0-9]{12}$/);
    expect(fairSplit(50, [35, 20])).toEqual([30, 20]);
    expect(fairSplit(50, [3, 4])).toEqual([3, 4]);
  });

  it('Firehose and log groups cut `<stack>-<logicalId>` at the end (their resource providers)', () => {
    const name = generatePhysicalName('AWS::KinesisFirehose::DeliveryStream', 'PhoenixClickstream', 'RawArchiveDeliveryStreamABCDEF12345678', seeded(3));
    expect(name).toMatch(/^PhoenixClickstream-RawArchiveDeliveryStreamABCDEF12-[A-Za-z0-9]{12}$/);
    expect(name).toHaveLength(64);
  });

  it('FIFO queues keep .fifo within the 80-character limit; explicit names are used as given', () => {
    const fifo = physicalId('AWS::SQS::Queue', 'A'.repeat(60), 'Q'.repeat(60), { FifoQueue: true }, seeded(4));
    expect(fifo.id.endsWith('.fifo')).toBe(true);
    expect(fifo.id.length).toBeLessThanOrEqual(80);
    expect(physicalId('AWS::SQS::Queue', 'S', 'Q', { QueueName: 'my-queue' }, seeded(4))).toEqual({ id: 'my-queue', explicit: true });
    expect(explicitName('AWS::Kinesis::Stream', { Name: 'events' })).toBe('events');
    expect(explicitName('AWS::Kinesis::Stream', {})).toBeUndefined();
  });

  it('is new on every creation and reproducible from the same random numbers', () => {
    const rng = seeded(5);
    const a = generatePhysicalName('AWS::SQS::Queue', 'Stack', 'Dlq', rng);
    const b = generatePhysicalName('AWS::SQS::Queue', 'Stack', 'Dlq', rng);
    expect(a).not.toBe(b);
    expect(generatePhysicalName('AWS::SQS::Queue', 'Stack', 'Dlq', seeded(5))).toBe(a);
  });

  it('KMS key ids are UUIDs; unnamed types get legacy-style ids; a type without a name rule is refused by name', () => {
    expect(physicalId('AWS::KMS::Key', 'S', 'Key', {}, seeded(6)).id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(randomUuid(seeded(6))).not.toBe(randomUuid(seeded(7)));
    expect(physicalId('AWS::S3::BucketPolicy', 'S', 'Policy', {}, seeded(6)).id).toMatch(/^S-Policy-[A-Z0-9]+$/);
    expect(() => generatePhysicalName('AWS::EC2::VPC', 'S', 'V', seeded(6))).toThrow(/AWS::EC2::VPC has no generated name.*AWS::Kinesis::Stream/);
  });
});
