"""What the local stack serves, read from a synthesized CloudFormation template.

:func:`read_template` turns the template the CDK app synthesizes into a :class:`LocalSpec`: the WebSocket
API (its route selection expression, each route's integration, timeout and route response, the stage's name
and throttling), the HTTP API, each Lambda function reachable from them or from a schedule (its code folder,
handler, layers, environment as CloudFormation values, timeout, memory and reserved concurrency), the
DynamoDB tables, the S3 buckets the functions name, the schedules, the SQS queues and the Lambda event
source mappings that poll them (with the functions they invoke). Nothing here is chat-specific: any
template of Lambda-proxy APIs reads the same way. Environment values that point at AWS resources are mapped
to the local stand-ins later, in one place (:mod:`chat_local.stand_ins`).

The defaults are AWS's where the template leaves a value out: a function's 3 s timeout and 128 MB,
an integration's 29 s timeout (``TimeoutInMillis``), the account's throttle when a stage sets none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: A Lambda function's timeout and memory when the template gives none (AWS's defaults).
DEFAULT_FUNCTION_TIMEOUT = 3.0
DEFAULT_FUNCTION_MEMORY_MB = 128
#: API Gateway's integration timeout (the most an integration may take; ``TimeoutInMillis``, 50 ms to 29 s).
DEFAULT_INTEGRATION_TIMEOUT = 29.0
#: An HTTP API's Lambda integration: 30 s at most.
DEFAULT_HTTP_INTEGRATION_TIMEOUT = 30.0
#: SQS's defaults for a queue (``VisibilityTimeout``, ``MessageRetentionPeriod``) and Lambda's for an SQS
#: event source mapping (``BatchSize``).
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_RETENTION = 4 * 24 * 3600
DEFAULT_SQS_BATCH_SIZE = 10
#: ``aws:asset:path``: where CDK records an asset's source (absolute when asset staging is disabled).
ASSET_PATH = "aws:asset:path"


class TemplateError(ValueError):
    """The template has something the local stack cannot serve; the message names it."""


@dataclass(frozen=True)
class Throttle:
    """A token bucket: ``rate`` requests per second refilled, ``burst`` at most at once (None: no limit here)."""

    rate: float | None = None
    burst: int | None = None

    @property
    def limited(self) -> bool:
        return self.rate is not None or self.burst is not None


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Lambda::Function``, as the local stack runs it."""

    logical_id: str
    label: str
    """A short name for logs and ``/_local/*`` (the code folder's name, e.g. ``message``)."""
    function_name: str
    """``AWS_LAMBDA_FUNCTION_NAME``: the ``FunctionName`` property, else ``<stack>-<logical id>``."""
    code_dir: str
    handler: str
    runtime: str
    layers: tuple[str, ...]
    """The layers' folders, in order (Lambda unpacks each into ``/opt``: their ``python/`` is importable)."""
    environment: dict[str, Any]
    """``Environment.Variables`` as in the template: strings, or CloudFormation intrinsics."""
    timeout: float = DEFAULT_FUNCTION_TIMEOUT
    memory_mb: int = DEFAULT_FUNCTION_MEMORY_MB
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class RouteSpec:
    """One route and its Lambda-proxy integration."""

    key: str
    function: str | None
    """The target function's logical id (None: the route has no Lambda integration the local stack runs)."""
    timeout: float = DEFAULT_INTEGRATION_TIMEOUT
    two_way: bool = False
    """A route response is configured: the integration's ``body`` goes back to the client."""
    throttle: Throttle = field(default_factory=Throttle)
    """The route's own throttle (``RouteSettings``), else the stage's (``DefaultRouteSettings``)."""


@dataclass(frozen=True)
class ApiSpec:
    """An ``AWS::ApiGatewayV2::Api`` (WebSocket or HTTP) with its first stage."""

    logical_id: str
    name: str
    protocol: str
    stage: str
    routes: dict[str, RouteSpec]
    route_selection_expression: str = ""
    cors: dict[str, Any] | None = None


@dataclass(frozen=True)
class TableSpec:
    """An ``AWS::DynamoDB::Table``: created in the local DynamoDB with these properties."""

    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class BucketSpec:
    """An ``AWS::S3::Bucket`` a function's environment names: created in the local S3 (moto)."""

    logical_id: str
    name: str


@dataclass(frozen=True)
class ScheduleSpec:
    """An ``AWS::Events::Rule`` with a schedule expression and a Lambda target."""

    logical_id: str
    name: str
    expression: str
    function: str
    enabled: bool = True

    @property
    def interval(self) -> float | None:
        """Seconds between runs of a ``rate(...)`` expression; None for ``cron(...)`` (not run locally)."""
        text = self.expression.strip()
        if not (text.startswith("rate(") and text.endswith(")")):
            return None
        value, _, unit = text[5:-1].strip().partition(" ")
        seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
        return float(value) * seconds[unit.strip()] if unit.strip() in seconds else None


@dataclass(frozen=True)
class QueueSpec:
    """An ``AWS::SQS::Queue``: created in the local SQS (moto) with these settings."""

    logical_id: str
    name: str
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    retention: int = DEFAULT_RETENTION
    delay: int = 0
    fifo: bool = False
    content_based_deduplication: bool = False
    dead_letter_queue: str | None = None
    """The logical id of the queue ``RedrivePolicy.deadLetterTargetArn`` names."""
    max_receive_count: int | None = None
    """``RedrivePolicy.maxReceiveCount``: receives after which SQS moves a message to the dead-letter queue."""


@dataclass(frozen=True)
class EventSourceSpec:
    """An ``AWS::Lambda::EventSourceMapping`` from an SQS queue of the template to a function."""

    logical_id: str
    function: str
    queue: str
    batch_size: int = DEFAULT_SQS_BATCH_SIZE
    batching_window: float = 0.0
    """``MaximumBatchingWindowInSeconds``: how long a batch may be gathered before the function is invoked."""
    report_batch_item_failures: bool = False
    """``FunctionResponseTypes`` has ``ReportBatchItemFailures``: the function's ``batchItemFailures`` count."""
    maximum_concurrency: int | None = None
    """``ScalingConfig.MaximumConcurrency``: concurrent invocations this mapping makes at most."""
    enabled: bool = True


@dataclass(frozen=True)
class LocalSpec:
    """Everything the local stack serves, from one template."""

    stack_name: str
    resource_types: dict[str, str]
    """Every resource's type by logical id (what a stand-in is chosen by)."""
    functions: dict[str, FunctionSpec]
    websocket: ApiSpec | None
    http: ApiSpec | None
    tables: dict[str, TableSpec]
    schedules: tuple[ScheduleSpec, ...]
    buckets: dict[str, BucketSpec] = field(default_factory=dict)
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    event_sources: tuple[EventSourceSpec, ...] = ()
    source: str = ""
    """Where the template came from (shown at start)."""

    def function(self, logical_id: str) -> FunctionSpec:
        return self.functions[logical_id]

    def by_label(self, label: str) -> FunctionSpec:
        (found,) = [f for f in self.functions.values() if f.label == label]
        return found


# ---------------------------------------------------------------- CloudFormation helpers


def references(value: Any) -> Iterator[tuple[str, str | None]]:
    """Every ``(logical id, attribute)`` ``value`` refers to: ``Ref`` (attribute None), ``Fn::GetAtt``, ``Fn::Sub``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str) and not item.startswith("AWS::"):
                yield item, None
            elif key == "Fn::GetAtt":
                parts = item.split(".", 1) if isinstance(item, str) else list(item)
                yield str(parts[0]), str(parts[1]) if len(parts) > 1 else None
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                for token in str(text).split("${")[1:]:
                    name = token.split("}", 1)[0]
                    if not name.startswith("AWS::"):
                        yield name.split(".", 1)[0], name.split(".", 1)[1] if "." in name else None
                if not isinstance(item, str):
                    yield from references(item[1:])
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def _ref_of_type(value: Any, resources: dict[str, Any], kind: str) -> str | None:
    for logical_id, _attribute in references(value):
        if resources.get(logical_id, {}).get("Type") == kind:
            return logical_id
    return None


def _asset_dir(resource: dict[str, Any], logical_id: str, base: Path) -> str:
    path = resource.get("Metadata", {}).get(ASSET_PATH)
    if not path:
        raise TemplateError(
            f"{logical_id} has no {ASSET_PATH} metadata: synthesize with asset metadata on "
            "(chat-local does) or give a template from `cdk synth`"
        )
    folder = Path(path) if Path(path).is_absolute() else base / path
    if not folder.is_dir():
        raise TemplateError(f"{logical_id}: its code folder {folder} does not exist")
    return str(folder.resolve())


def _throttle(settings: dict[str, Any] | None) -> Throttle:
    settings = settings or {}
    rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
    return Throttle(
        rate=float(rate) if rate is not None else None,
        burst=int(burst) if burst is not None else None,
    )


# ---------------------------------------------------------------- the reader


def read_template(template: dict[str, Any], *, stack_name: str, base_dir: Path, source: str = "") -> LocalSpec:
    """The :class:`LocalSpec` of ``template``; relative asset paths are taken from ``base_dir``.

    Raises :class:`TemplateError` when the template has no API, more than one of a kind, or a route whose
    function the local stack cannot run (not Python, no code folder).
    """
    resources: dict[str, dict[str, Any]] = template.get("Resources", {})

    def of_type(kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in resources.items() if v.get("Type") == kind}

    apis = of_type("AWS::ApiGatewayV2::Api")
    stages = of_type("AWS::ApiGatewayV2::Stage")
    routes = of_type("AWS::ApiGatewayV2::Route")
    integrations = of_type("AWS::ApiGatewayV2::Integration")
    route_responses = of_type("AWS::ApiGatewayV2::RouteResponse")
    wanted_functions: set[str] = set()

    def api_spec(logical_id: str, api: dict[str, Any]) -> ApiSpec:
        props = api.get("Properties", {})
        protocol = str(props.get("ProtocolType", ""))
        own_stages = [
            s
            for s in stages.values()
            if _ref_of_type(s["Properties"].get("ApiId"), resources, api["Type"]) == logical_id
        ]
        if not own_stages:
            raise TemplateError(f"API {logical_id} has no stage")
        stage = own_stages[0]["Properties"]
        default_throttle = _throttle(stage.get("DefaultRouteSettings"))
        route_settings = stage.get("RouteSettings") or {}
        specs: dict[str, RouteSpec] = {}
        for route_id, route in routes.items():
            route_props = route["Properties"]
            if _ref_of_type(route_props.get("ApiId"), resources, api["Type"]) != logical_id:
                continue
            key = str(route_props["RouteKey"])
            integration_id = _ref_of_type(route_props.get("Target"), resources, "AWS::ApiGatewayV2::Integration")
            function = None
            timeout = DEFAULT_INTEGRATION_TIMEOUT if protocol == "WEBSOCKET" else DEFAULT_HTTP_INTEGRATION_TIMEOUT
            if integration_id is not None:
                integration = integrations[integration_id]["Properties"]
                if integration.get("IntegrationType") == "AWS_PROXY":
                    function = _ref_of_type(integration.get("IntegrationUri"), resources, "AWS::Lambda::Function")
                if "TimeoutInMillis" in integration:
                    timeout = int(integration["TimeoutInMillis"]) / 1000
            two_way = bool(route_props.get("RouteResponseSelectionExpression")) and any(
                _ref_of_type(r["Properties"].get("RouteId"), resources, "AWS::ApiGatewayV2::Route") == route_id
                for r in route_responses.values()
            )
            own = _throttle(route_settings.get(key))
            throttle = Throttle(
                rate=own.rate if own.rate is not None else default_throttle.rate,
                burst=own.burst if own.burst is not None else default_throttle.burst,
            )
            if function is not None:
                wanted_functions.add(function)
            specs[key] = RouteSpec(key=key, function=function, timeout=timeout, two_way=two_way, throttle=throttle)
        cors = props.get("CorsConfiguration")
        return ApiSpec(
            logical_id=logical_id,
            name=str(props.get("Name", logical_id)),
            protocol=protocol,
            stage=str(stage.get("StageName", "$default")),
            routes=specs,
            route_selection_expression=str(props.get("RouteSelectionExpression", "")),
            cors=cors if isinstance(cors, dict) else None,
        )

    websocket: list[ApiSpec] = []
    http: list[ApiSpec] = []
    for logical_id, api in sorted(apis.items()):
        protocol = api.get("Properties", {}).get("ProtocolType")
        (websocket if protocol == "WEBSOCKET" else http).append(api_spec(logical_id, api))
    for kind, found in (("WebSocket", websocket), ("HTTP", http)):
        if len(found) > 1:
            names = [a.logical_id for a in found]
            raise TemplateError(f"the local stack serves one {kind} API; the template has {names}")
    if not websocket and not http:
        raise TemplateError("the template has no API Gateway v2 API (WebSocket or HTTP) to serve")

    schedules: list[ScheduleSpec] = []
    for logical_id, rule in sorted(of_type("AWS::Events::Rule").items()):
        props = rule.get("Properties", {})
        if "ScheduleExpression" not in props:
            continue
        for target in props.get("Targets", []):
            function = _ref_of_type(target.get("Arn"), resources, "AWS::Lambda::Function")
            if function is None:
                continue
            wanted_functions.add(function)
            schedules.append(
                ScheduleSpec(
                    logical_id=logical_id,
                    name=str(props.get("Name", logical_id)),
                    expression=str(props["ScheduleExpression"]),
                    function=function,
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                )
            )

    queues = {
        logical_id: _queue_spec(logical_id, queue, resources, stack_name)
        for logical_id, queue in sorted(of_type("AWS::SQS::Queue").items())
    }
    event_sources: list[EventSourceSpec] = []
    for logical_id, mapping in sorted(of_type("AWS::Lambda::EventSourceMapping").items()):
        event_source = _event_source_spec(logical_id, mapping, resources)
        if event_source is not None:
            wanted_functions.add(event_source.function)
            event_sources.append(event_source)

    functions: dict[str, FunctionSpec] = {}
    for logical_id in sorted(wanted_functions):
        functions[logical_id] = _function_spec(logical_id, resources, stack_name, base_dir)
    labels = [f.label for f in functions.values()]
    if len(set(labels)) != len(labels):  # two code folders of one name: the logical ids tell them apart
        functions = {k: _replace_label(f, k) for k, f in functions.items()}

    tables = {
        logical_id: TableSpec(
            logical_id=logical_id,
            name=str(table.get("Properties", {}).get("TableName") or f"{stack_name}-{logical_id}"),
            properties=dict(table.get("Properties", {})),
        )
        for logical_id, table in sorted(of_type("AWS::DynamoDB::Table").items())
    }
    named = {ref for f in functions.values() for ref, _ in references(f.environment)}
    buckets = {
        logical_id: BucketSpec(
            logical_id=logical_id,
            name=str(bucket.get("Properties", {}).get("BucketName") or f"{stack_name}-{logical_id}".lower()[:63]),
        )
        for logical_id, bucket in sorted(of_type("AWS::S3::Bucket").items())
        if logical_id in named
    }
    return LocalSpec(
        stack_name=stack_name,
        resource_types={k: str(v.get("Type")) for k, v in resources.items()},
        functions=functions,
        websocket=websocket[0] if websocket else None,
        http=http[0] if http else None,
        tables=tables,
        schedules=tuple(schedules),
        buckets=buckets,
        queues=queues,
        event_sources=tuple(event_sources),
        source=source,
    )


def _queue_spec(logical_id: str, queue: dict[str, Any], resources: dict[str, Any], stack_name: str) -> QueueSpec:
    props = queue.get("Properties", {})
    fifo = bool(props.get("FifoQueue", False))
    # CloudFormation names a queue without QueueName <stack>-<logical id>-<random>; a FIFO queue's ends in .fifo.
    name = str(props.get("QueueName") or f"{stack_name}-{logical_id}"[: 75 if fifo else 80] + (".fifo" if fifo else ""))
    redrive = props.get("RedrivePolicy") or {}
    dead_letter = _ref_of_type(redrive.get("deadLetterTargetArn"), resources, "AWS::SQS::Queue") if redrive else None
    if redrive and dead_letter is None:
        raise TemplateError(f"queue {logical_id}: its dead-letter queue is not a queue of the template")
    return QueueSpec(
        logical_id=logical_id,
        name=name,
        visibility_timeout=int(props.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT)),
        retention=int(props.get("MessageRetentionPeriod", DEFAULT_RETENTION)),
        delay=int(props.get("DelaySeconds", 0)),
        fifo=fifo,
        content_based_deduplication=bool(props.get("ContentBasedDeduplication", False)),
        dead_letter_queue=dead_letter,
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive.get("maxReceiveCount") is not None else None,
    )


def _event_source_spec(logical_id: str, mapping: dict[str, Any], resources: dict[str, Any]) -> EventSourceSpec | None:
    """The mapping, if it polls an SQS queue of the template (streams and Kafka are not emulated: None)."""
    props = mapping.get("Properties", {})
    queue = _ref_of_type(props.get("EventSourceArn"), resources, "AWS::SQS::Queue")
    if queue is None:
        return None
    function = _ref_of_type(props.get("FunctionName"), resources, "AWS::Lambda::Function")
    if function is None:
        target = props.get("FunctionName")
        raise TemplateError(f"event source mapping {logical_id} invokes {target!r}, not a function of the template")
    scaling = props.get("ScalingConfig") or {}
    return EventSourceSpec(
        logical_id=logical_id,
        function=function,
        queue=queue,
        batch_size=int(props.get("BatchSize", DEFAULT_SQS_BATCH_SIZE)),
        batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
        enabled=bool(props.get("Enabled", True)),
    )


def _replace_label(spec: FunctionSpec, label: str) -> FunctionSpec:
    from dataclasses import replace

    return replace(spec, label=label)


def _function_spec(logical_id: str, resources: dict[str, dict[str, Any]], stack_name: str, base: Path) -> FunctionSpec:
    resource = resources.get(logical_id)
    if resource is None:
        raise TemplateError(f"a route or schedule targets {logical_id}, which is not in the template")
    props = resource.get("Properties", {})
    runtime = str(props.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise TemplateError(f"function {logical_id} runs {runtime or 'a container image'}: the local stack runs Python")
    code_dir = _asset_dir(resource, logical_id, base)
    layers = []
    for layer in props.get("Layers", []):
        layer_id = _ref_of_type(layer, resources, "AWS::Lambda::LayerVersion")
        if layer_id is None:
            raise TemplateError(f"function {logical_id} uses layer {layer!r}, which is not built from a local asset")
        layers.append(_asset_dir(resources[layer_id], layer_id, base))
    reserved = props.get("ReservedConcurrentExecutions")
    return FunctionSpec(
        logical_id=logical_id,
        label=Path(code_dir).name,
        function_name=str(props.get("FunctionName") or f"{stack_name}-{logical_id}"),
        code_dir=code_dir,
        handler=str(props.get("Handler", "index.handler")),
        runtime=runtime,
        layers=tuple(layers),
        environment=dict(props.get("Environment", {}).get("Variables", {})),
        timeout=float(props.get("Timeout", DEFAULT_FUNCTION_TIMEOUT)),
        memory_mb=int(props.get("MemorySize", DEFAULT_FUNCTION_MEMORY_MB)),
        reserved_concurrency=int(reserved) if reserved is not None else None,
    )
