/**
 * The one place where the library constructs AWS SDK clients: the Lambda handlers (region and credentials from the
 * function's environment), the replay tooling and the local environment (explicit endpoints and local credentials).
 *
 * Each SDK package is loaded when its first client is made, not when this module is: the handlers keep the SDK
 * external (the Lambda runtime's copy) and a cold start loads only the packages of the clients that function uses.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading of the SDK packages, see above */
import type { CloudFormationClient, CloudFormationClientConfig } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient, CloudWatchClientConfig } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { KinesisClient, KinesisClientConfig } from '@aws-sdk/client-kinesis';
import type { LambdaClient, LambdaClientConfig } from '@aws-sdk/client-lambda';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';

/**
 * Options of every KinesisClient: requests share one HTTP/2 session. The SDK's Node default
 * (`disableConcurrentStreams: true`) opens a session, i.e. a connection, per request (aws/aws-sdk-js-v3#8279);
 * sharing is safe since @smithy/node-http-handler 4.6 (aws/aws-sdk-js-v3#7936). Measurements: docs/performance.md.
 */
export const KINESIS_CLIENT_OPTIONS: Pick<KinesisClientConfig, 'requestHandler'> = {
  requestHandler: { disableConcurrentStreams: false },
};

/** Dummy credentials of the emulators: the local environment never uses the user's AWS credentials. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'LOCALACCESSKEY', secretAccessKey: 'local-secret-access-key' };

/** A Kinesis client whose requests share one HTTP/2 session ({@link KINESIS_CLIENT_OPTIONS}). */
export function kinesisClient(config: KinesisClientConfig = {}): KinesisClient {
  const sdk = require('@aws-sdk/client-kinesis') as typeof import('@aws-sdk/client-kinesis');
  return new sdk.KinesisClient({ ...config, ...KINESIS_CLIENT_OPTIONS });
}

/** An SQS client that sends to its own endpoint, never to the host of a queue URL (local queue URLs do not resolve). */
export function sqsClient(config: SQSClientConfig = {}): SQSClient {
  const sdk = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  return new sdk.SQSClient({ ...config, useQueueUrlAsEndpoint: false });
}

export function s3Client(config: S3ClientConfig = {}): S3Client {
  const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  return new sdk.S3Client(config);
}

export function dynamoDbClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  const sdk = require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb');
  return new sdk.DynamoDBClient(config);
}

export function cloudFormationClient(config: CloudFormationClientConfig = {}): CloudFormationClient {
  const sdk = require('@aws-sdk/client-cloudformation') as typeof import('@aws-sdk/client-cloudformation');
  return new sdk.CloudFormationClient(config);
}

export function cloudWatchClient(config: CloudWatchClientConfig = {}): CloudWatchClient {
  const sdk = require('@aws-sdk/client-cloudwatch') as typeof import('@aws-sdk/client-cloudwatch');
  return new sdk.CloudWatchClient(config);
}

export function lambdaClient(config: LambdaClientConfig = {}): LambdaClient {
  const sdk = require('@aws-sdk/client-lambda') as typeof import('@aws-sdk/client-lambda');
  return new sdk.LambdaClient(config);
}

/** The data-plane clients of the replay tooling and the local environment. */
export interface ServiceClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** Closes every client's connections. */
  destroy(): void;
}

/** Endpoint per service; a service without one uses the SDK's own resolution (AWS). */
export interface ServiceEndpoints {
  readonly kinesis?: string;
  readonly dynamodb?: string;
  readonly sqs?: string;
  /** S3 with an endpoint is addressed path-style (emulators have no per-bucket host names). */
  readonly s3?: string;
}

/** Settings every client of a {@link serviceClients} set shares. */
export interface CommonClientSettings {
  readonly region: string;
  readonly maxAttempts?: number;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Kinesis, DynamoDB, SQS and S3 clients with common settings and, per service, an optional endpoint. */
export function serviceClients(common: CommonClientSettings, endpoints: ServiceEndpoints = {}): ServiceClients {
  const kinesis = kinesisClient({ ...common, ...(endpoints.kinesis ? { endpoint: endpoints.kinesis } : {}) });
  const dynamodb = dynamoDbClient({ ...common, ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb } : {}) });
  const sqs = sqsClient({ ...common, ...(endpoints.sqs ? { endpoint: endpoints.sqs } : {}) });
  const s3 = s3Client({ ...common, ...(endpoints.s3 ? { endpoint: endpoints.s3, forcePathStyle: true } : {}) });
  return {
    kinesis,
    dynamodb,
    sqs,
    s3,
    destroy: () => { kinesis.destroy(); dynamodb.destroy(); sqs.destroy(); s3.destroy(); },
  };
}
