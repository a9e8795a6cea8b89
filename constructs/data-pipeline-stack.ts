import { CfnOutput, NestedStack, type NestedStackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DataPipeline, type DataPipelineProps } from './data-pipeline';

/**
 * Properties of a {@link DataPipelineStack}: the pipeline's props and the nested stack's.
 */
export interface DataPipelineStackProps extends DataPipelineProps, NestedStackProps {}

/**
 * A {@link DataPipeline} in a CloudFormation nested stack of its own (`aws-cdk-lib` `NestedStack`), so that an app
 * holds more pipelines than one stack's 500-resource limit allows: a DataPipeline is about 57 resources bare, 74 with
 * `quality` and 102 with quality and a {@link CorrelatedMonitor} (see docs/scaling.md), so about five full pipelines
 * fit in one stack, 20 or more as nested stacks of one parent.
 *
 * The nested stack is also the scope for what belongs to the pipeline: create its monitor, drift detector or
 * producers in it (`new CorrelatedMonitor(pipelineStack, 'Monitor', { pipeline: pipelineStack.pipeline })`) so that
 * their resources count in the nested stack. References between the nested stack and its parent (a shared alarm
 * topic created in the parent) become stack parameters and outputs, as CDK does for any nested stack. Dead letters
 * are the pipeline's own: shared from the parent, their bucket's notification to the pipeline's normalizer would be a
 * dependency cycle (synth error).
 *
 * The pipeline's outputs (`StreamName`, `DlqUrl`, ...) are outputs of the nested stack: pass the nested stack's name
 * to the `phoenix` CLI (`--stack`). The parent stack gets one output, `<id>StackName` (a sibling of the nested stack), holding that name. Names that
 * default to `<stackName>-<region>` (the deployment id, the dashboard, the saved queries) take the nested stack's
 * generated name, unique in the account and region, so pipelines in two nested stacks of one parent never share them.
 *
 * @example
 * for (const name of ['orders', 'payments']) {
 *   const pipelineStack = new DataPipelineStack(this, name, { pipelineName: name, quality: { rules } });
 *   new CorrelatedMonitor(pipelineStack, 'Monitor', { pipeline: pipelineStack.pipeline, alarmTopic });
 * }
 */
export class DataPipelineStack extends NestedStack {
  /** The pipeline (construct id `Pipeline` in this nested stack). */
  public readonly pipeline: DataPipeline;

  constructor(scope: Construct, id: string, props: DataPipelineStackProps) {
    const { description, parameters, timeout, notificationArns, removalPolicy, ...pipelineProps } = props;
    super(scope, id, {
      description: description ?? `Phoenix pipeline ${props.pipelineName} (cdk-phoenix-pipelines DataPipelineStack)`,
      parameters,
      timeout,
      notificationArns,
      removalPolicy,
    });
    this.pipeline = new DataPipeline(this, 'Pipeline', pipelineProps);
    // A sibling of the nested stack, in the parent stack.
    new CfnOutput(scope, `${id}StackName`, {
      value: this.stackName,
      description: `Nested stack of pipeline ${props.pipelineName}: its outputs are the pipeline's (phoenix --stack <this name>)`,
    });
  }
}
