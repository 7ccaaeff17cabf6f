"""CloudWatch, CloudWatch Logs, SQS, SNS and CloudFormation events.

CloudWatch records come from ``monitoring.amazonaws.com`` while the actions are ``cloudwatch:*``.
``DescribeAlarms`` without names applies to every alarm of the region (``alarm:*``), dashboards have
region-less ARNs, a log stream's ARN nests in its group's, and ``CreateStack``/``UpdateStack`` pass their
service role (``roleARN``) to CloudFormation.
"""

from __future__ import annotations

from collections.abc import Callable

from trailsmith.synth.catalog import JSON, Call, Ctx, Template
from trailsmith.synth.ids import hex_string

MONITORING, LOGS = "monitoring.amazonaws.com", "logs.amazonaws.com"
SQS, SNS, CFN = "sqs.amazonaws.com", "sns.amazonaws.com", "cloudformation.amazonaws.com"
_DAY_MS = 86_400_000


def _star(request: JSON | None) -> Callable[[Ctx], Call]:
    """A call on no particular resource (the action has no resource-level permissions)."""

    def build(c: Ctx) -> Call:
        return Call(request, ("*",))

    return build


# CloudWatch -----------------------------------------------------------------------------------------------


def _alarm_arn(c: Ctx, name: str) -> str:
    return f"{c.pool.prefix('cloudwatch')}alarm:{name}"


def _describe_alarms(c: Ctx) -> Call:
    if c.rng.random() < 0.5:
        names = c.rng.sample(c.pool.alarms, 2)
        return Call({"alarmNames": names}, (tuple(_alarm_arn(c, n) for n in names),))
    return Call({"stateValue": "ALARM", "maxRecords": 100}, (_alarm_arn(c, "*"),))


def _put_metric_alarm(c: Ctx) -> Call:
    name = c.pick(c.pool.alarms)
    request = {
        "alarmName": name,
        "metricName": "CPUUtilization",
        "namespace": "AWS/EC2",
        "statistic": "Average",
        "dimensions": [{"name": "InstanceId", "value": c.pick(c.pool.instances)}],
        "period": 300,
        "evaluationPeriods": 3,
        "threshold": 80.0,
        "comparisonOperator": "GreaterThanThreshold",
        "alarmActions": [f"{c.pool.prefix('sns')}alerts"],
        "treatMissingData": "missing",
    }
    return Call(request, (_alarm_arn(c, name),))


def _describe_alarm_history(c: Ctx) -> Call:
    name = c.pick(c.pool.alarms)
    return Call(
        {"alarmName": name, "historyItemType": "StateUpdate", "maxRecords": 50}, (_alarm_arn(c, name),)
    )


def _dashboard(write: bool) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        name = c.pick(c.pool.dashboards)
        request: JSON = {"dashboardName": name}
        if write:
            request["dashboardBody"] = '{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6}]}'
        return Call(
            request,
            (f"arn:aws:cloudwatch::{c.acct}:dashboard/{name}",),
            {"dashboardValidationMessages": []} if write else None,
        )

    return build


# CloudWatch Logs ------------------------------------------------------------------------------------------


def _group_arn(c: Ctx, group: str) -> str:
    return f"{c.pool.prefix('logs')}log-group:{group}"


def _create_log_stream(c: Ctx) -> Call:
    if c.session in {fn.name for fn in c.pool.functions}:
        group = f"/aws/lambda/{c.session}"
        stream = f"{c.day}/[$LATEST]{c.pick(c.pool.container_ids)}"
    else:
        group = "/ecs/orders-worker"
        stream = f"ecs/orders-worker/{c.pick(c.pool.container_ids)}"
    request = {"logGroupName": group, "logStreamName": stream}
    return Call(request, (f"{_group_arn(c, group)}:log-stream:{stream}",))


def _put_retention(c: Ctx) -> Call:
    group = c.pick(c.pool.log_groups)
    return Call(
        {"logGroupName": group, "retentionInDays": c.rng.choice((14, 30, 90))}, (_group_arn(c, group),)
    )


def _filter_log_events(c: Ctx) -> Call:
    group = c.pick(c.pool.log_groups)
    start = 1722470400000 + c.rng.randrange(30) * _DAY_MS
    request = {
        "logGroupName": group,
        "startTime": start,
        "endTime": start + 3_600_000,
        "filterPattern": "ERROR",
        "interleaved": True,
        "limit": 10000,
    }
    return Call(request, (_group_arn(c, group),))


def _start_query(c: Ctx) -> Call:
    groups = c.rng.sample(c.pool.log_groups, 2)
    request = {
        "logGroupNames": groups,
        "startTime": 1722470400,
        "endTime": 1722556800,
        "limit": 1000,
        "queryString": "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc",
    }
    return Call(
        request,
        (tuple(_group_arn(c, g) for g in groups),),
        {"queryId": f"{hex_string(c.rng, 8)}-{hex_string(c.rng, 4)}"},
    )


# SQS and SNS ----------------------------------------------------------------------------------------------


def _queue(c: Ctx) -> tuple[str, str, str]:
    name = c.pick(c.pool.queues)
    return name, f"https://sqs.{c.region}.amazonaws.com/{c.acct}/{name}", f"{c.pool.prefix('sqs')}{name}"


def _create_queue(c: Ctx) -> Call:
    name, url, arn = _queue(c)
    request = {
        "queueName": name,
        "attribute": {"VisibilityTimeout": "60", "MessageRetentionPeriod": "1209600"},
    }
    return Call(request, (arn,), {"queueUrl": url})


def _get_queue_attributes(c: Ctx) -> Call:
    _, url, arn = _queue(c)
    return Call({"queueUrl": url, "attributeNames": ["All"]}, (arn,))


def _get_queue_url(c: Ctx) -> Call:
    name, url, arn = _queue(c)
    return Call({"queueName": name}, (arn,), {"queueUrl": url})


def _set_queue_attributes(c: Ctx) -> Call:
    _, url, arn = _queue(c)
    return Call({"queueUrl": url, "attributes": {"ReceiveMessageWaitTimeSeconds": "20"}}, (arn,))


def _topic_arn(c: Ctx) -> str:
    return f"{c.pool.prefix('sns')}{c.pick(c.pool.topics)}"


def _create_topic(c: Ctx) -> Call:
    arn = _topic_arn(c)
    return Call({"name": arn.rsplit(":", 1)[1]}, (arn,), {"topicArn": arn})


def _topic_call(c: Ctx) -> Call:
    arn = _topic_arn(c)
    return Call({"topicArn": arn}, (arn,))


def _subscribe(c: Ctx) -> Call:
    arn = _topic_arn(c)
    queue = f"{c.pool.prefix('sqs')}{c.pool.queues[0]}"
    response = {
        "subscriptionArn": f"{arn}:{hex_string(c.rng, 8)}-{hex_string(c.rng, 4)}-4{hex_string(c.rng, 3)}"
        f"-a{hex_string(c.rng, 3)}-{hex_string(c.rng, 12)}"
    }
    return Call(
        {"topicArn": arn, "protocol": "sqs", "endpoint": queue, "returnSubscriptionArn": True},
        (arn,),
        response,
    )


# CloudFormation -------------------------------------------------------------------------------------------


def _stack(c: Ctx) -> tuple[str, str]:
    stack = c.pick(c.pool.stacks)
    return stack.name, f"{c.pool.prefix('cloudformation')}stack/{stack.name}/{stack.stack_id}"


def _create_stack(c: Ctx) -> Call:
    name, arn = _stack(c)
    role = c.account.roles["cfn-exec"]
    request = {
        "stackName": name,
        "parameters": [{"parameterKey": "Environment", "parameterValue": c.account.alias}],
        "capabilities": ["CAPABILITY_NAMED_IAM"],
        "roleARN": role.arn,
        "onFailure": "ROLLBACK",
        "tags": [{"key": "team", "value": "platform"}],
    }
    return Call(request, (arn, role.arn), {"stackId": arn})


def _update_stack(c: Ctx) -> Call:
    name, arn = _stack(c)
    role = c.account.roles["cfn-exec"]
    request = {
        "stackName": name,
        "usePreviousTemplate": True,
        "capabilities": ["CAPABILITY_NAMED_IAM"],
        "roleARN": role.arn,
        "parameters": [{"parameterKey": "Environment", "usePreviousValue": True}],
    }
    return Call(request, (arn, role.arn), {"stackId": arn})


def _by_stack(extra: JSON) -> Callable[[Ctx], Call]:
    def build(c: Ctx) -> Call:
        name, arn = _stack(c)
        return Call({"stackName": name, **extra}, (arn,))

    return build


TEMPLATES = (
    # CloudWatch: the event source is monitoring.amazonaws.com, the action prefix cloudwatch
    Template(
        "cloudwatch.DescribeAlarms",
        MONITORING,
        "DescribeAlarms",
        ("cloudwatch:DescribeAlarms",),
        _describe_alarms,
        read_only=True,
    ),
    Template(
        "cloudwatch.PutMetricAlarm",
        MONITORING,
        "PutMetricAlarm",
        ("cloudwatch:PutMetricAlarm",),
        _put_metric_alarm,
    ),
    Template(
        "cloudwatch.DescribeAlarmHistory",
        MONITORING,
        "DescribeAlarmHistory",
        ("cloudwatch:DescribeAlarmHistory",),
        _describe_alarm_history,
        read_only=True,
    ),
    Template(
        "cloudwatch.ListDashboards",
        MONITORING,
        "ListDashboards",
        ("cloudwatch:ListDashboards",),
        _star({}),
        read_only=True,
    ),
    Template(
        "cloudwatch.GetDashboard",
        MONITORING,
        "GetDashboard",
        ("cloudwatch:GetDashboard",),
        _dashboard(False),
        read_only=True,
    ),
    Template(
        "cloudwatch.PutDashboard", MONITORING, "PutDashboard", ("cloudwatch:PutDashboard",), _dashboard(True)
    ),
    # CloudWatch Logs
    Template("logs.CreateLogStream", LOGS, "CreateLogStream", ("logs:CreateLogStream",), _create_log_stream),
    Template(
        "logs.DescribeLogGroups",
        LOGS,
        "DescribeLogGroups",
        ("logs:DescribeLogGroups",),
        _star({"logGroupNamePrefix": "/aws/lambda/", "limit": 50}),
        read_only=True,
    ),
    Template(
        "logs.PutRetentionPolicy", LOGS, "PutRetentionPolicy", ("logs:PutRetentionPolicy",), _put_retention
    ),
    Template(
        "logs.FilterLogEvents",
        LOGS,
        "FilterLogEvents",
        ("logs:FilterLogEvents",),
        _filter_log_events,
        read_only=True,
    ),
    Template("logs.StartQuery", LOGS, "StartQuery", ("logs:StartQuery",), _start_query, read_only=True),
    # SQS and SNS (management events)
    Template("sqs.CreateQueue", SQS, "CreateQueue", ("sqs:CreateQueue",), _create_queue),
    Template(
        "sqs.GetQueueAttributes",
        SQS,
        "GetQueueAttributes",
        ("sqs:GetQueueAttributes",),
        _get_queue_attributes,
        read_only=True,
    ),
    Template(
        "sqs.GetQueueUrl",
        SQS,
        "GetQueueUrl",
        ("sqs:GetQueueUrl",),
        _get_queue_url,
        read_only=True,
        not_found=("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."),
    ),
    Template(
        "sqs.ListQueues",
        SQS,
        "ListQueues",
        ("sqs:ListQueues",),
        _star({"queueNamePrefix": "orders"}),
        read_only=True,
    ),
    Template(
        "sqs.SetQueueAttributes",
        SQS,
        "SetQueueAttributes",
        ("sqs:SetQueueAttributes",),
        _set_queue_attributes,
    ),
    Template("sns.CreateTopic", SNS, "CreateTopic", ("sns:CreateTopic",), _create_topic),
    Template("sns.ListTopics", SNS, "ListTopics", ("sns:ListTopics",), _star(None), read_only=True),
    Template(
        "sns.GetTopicAttributes",
        SNS,
        "GetTopicAttributes",
        ("sns:GetTopicAttributes",),
        _topic_call,
        read_only=True,
    ),
    Template(
        "sns.ListSubscriptionsByTopic",
        SNS,
        "ListSubscriptionsByTopic",
        ("sns:ListSubscriptionsByTopic",),
        _topic_call,
        read_only=True,
    ),
    Template("sns.Subscribe", SNS, "Subscribe", ("sns:Subscribe",), _subscribe),
    # CloudFormation: the service role in roleARN is passed to CloudFormation
    Template(
        "cloudformation.CreateStack",
        CFN,
        "CreateStack",
        ("cloudformation:CreateStack", "iam:PassRole"),
        _create_stack,
        passed_to="cloudformation.amazonaws.com",
    ),
    Template(
        "cloudformation.UpdateStack",
        CFN,
        "UpdateStack",
        ("cloudformation:UpdateStack", "iam:PassRole"),
        _update_stack,
        passed_to="cloudformation.amazonaws.com",
    ),
    Template(
        "cloudformation.DescribeStacks",
        CFN,
        "DescribeStacks",
        ("cloudformation:DescribeStacks",),
        _by_stack({}),
        read_only=True,
    ),
    Template(
        "cloudformation.DescribeStackEvents",
        CFN,
        "DescribeStackEvents",
        ("cloudformation:DescribeStackEvents",),
        _by_stack({}),
        read_only=True,
    ),
    Template(
        "cloudformation.GetTemplate",
        CFN,
        "GetTemplate",
        ("cloudformation:GetTemplate",),
        _by_stack({"templateStage": "Original"}),
        read_only=True,
    ),
    Template(
        "cloudformation.ListStacks",
        CFN,
        "ListStacks",
        ("cloudformation:ListStacks",),
        _star({"stackStatusFilter": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]}),
        read_only=True,
    ),
    Template(
        "cloudformation.ValidateTemplate",
        CFN,
        "ValidateTemplate",
        ("cloudformation:ValidateTemplate",),
        _star(None),
        read_only=True,
    ),
)
