import { describe, expect, it } from 'vitest';
import { archiveReplayTarget } from '../../../lib/replay/archive-target';
import { InputError } from '../../../lib/replay/filter';
import { thrownBy } from '../../support/errors';

const OUTPUTS = {
  PipelineName: 'clickstream',
  StreamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/new',
  ArchiveBucket: 'archive',
  ArchivePrefix: 'raw/',
};

describe('archiveReplayTarget', () => {
  it('with a pipeline\'s outputs: its archive, onto its current stream, as that pipeline', () => {
    expect(archiveReplayTarget(OUTPUTS, {}, 'stack S')).toEqual({
      source: { kind: 'archive', bucket: 'archive', prefix: 'raw/' },
      pipeline: { name: 'clickstream', stream: OUTPUTS.StreamArn },
    });
  });

  it('flags override the outputs; without a pipeline name, a plain target stream (or none: each record\'s own)', () => {
    expect(archiveReplayTarget(OUTPUTS, { bucket: 'b', prefix: 'p/', targetStream: 'other' }, 'stack S')).toEqual({
      source: { kind: 'archive', bucket: 'b', prefix: 'p/' },
      pipeline: { name: 'clickstream', stream: 'other' },
    });
    expect(archiveReplayTarget({}, { bucket: 'b', targetStream: 's' }, '--bucket')).toEqual({
      source: { kind: 'archive', bucket: 'b', prefix: 'raw/' }, targetStream: 's',
    });
    expect(archiveReplayTarget({}, { bucket: 'b' }, '--bucket')).toEqual({ source: { kind: 'archive', bucket: 'b', prefix: 'raw/' }, targetStream: undefined });
  });

  it('no bucket in the outputs or flags: an error naming where it looked', () => {
    expect(thrownBy(InputError, () => archiveReplayTarget({ StreamArn: 'x' }, {}, 'stack S')).message)
      .toBe('stack S has no ArchiveBucket output (is a RawArchive deployed?): pass --bucket');
  });
});
