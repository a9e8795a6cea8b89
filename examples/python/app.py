#!/usr/bin/env python3
"""The orders pipeline in Python, through the jsii-generated bindings of cdk-phoenix-pipelines.

An order service puts one event per change of an order on a Kinesis stream. The pipeline validates each event,
derives its record id from ``orderId``, writes the newest version of every order to DynamoDB, keeps bad records as
dead letters with their payload, profiles completeness and volume, and alarms through a CorrelatedMonitor.

Run it with ``cdk synth --app "python3 app.py"`` once the bindings and ``aws-cdk-lib`` are installed in the Python
environment (README, "Python").
"""
import aws_cdk as cdk
import cdk_phoenix_pipelines as phx

ORDER_SCHEMA = {
    "type": "object",
    "required": ["orderId", "status", "total", "eventTime"],
    "properties": {
        "orderId": {"type": "string", "minLength": 1},
        "status": {"type": "string", "enum": ["created", "paid", "shipped", "cancelled"]},
        "total": {"type": "number", "minimum": 0},
        "eventTime": {"type": "string", "format": "date-time"},
    },
}


class OrdersStack(cdk.Stack):
    """One orders pipeline with quality rules and a monitor."""

    def __init__(self, scope, construct_id, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
        pipeline = phx.DataPipeline(
            self,
            "Orders",
            pipeline_name="orders-py",
            phoenix_mode=phx.PhoenixMode.EPHEMERAL,
            ingest=phx.IngestStageOptions(
                schema=ORDER_SCHEMA,
                key_fields=["orderId"],
                event_time_field="eventTime",
            ),
            sink=phx.IngestSink.dynamo_db(),
            quality=phx.QualityProfilerOptions(
                rules=[
                    phx.QualityRule(
                        name="status-present",
                        kind=phx.QualityRuleKind.COMPLETENESS,
                        column="status",
                        fail=phx.QualityBounds(min=0.99),
                    ),
                    phx.QualityRule(name="volume", kind=phx.QualityRuleKind.VOLUME, warn=phx.QualityBounds(min=1)),
                ],
            ),
        )
        phx.CorrelatedMonitor(self, "Monitor", pipeline=pipeline)


app = cdk.App()
OrdersStack(app, "PhoenixOrdersPy")
app.synth()
