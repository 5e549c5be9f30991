"""The gRPC services a Pulumi program talks to: ``pulumirpc.ResourceMonitor`` and ``pulumirpc.Engine``.

The Python SDK (``pulumi.runtime.settings.Settings(monitor=..., engine=...)``) connects to these exactly as
it connects to the CLI's. The servicers only translate gRPC; the step logic lives in the
:class:`Deployment` they are given (``runner._Deployment``).
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Final, Protocol

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, resource_pb2, resource_pb2_grpc

from .errors import StackRunnerError, UnsupportedResourceError

# The engine serves registrations concurrently and steps independent resources in parallel (the CLI's
# default --parallel is unbounded); 16 workers here means the provider host's own 4-worker pool is the limit.
MONITOR_WORKERS: Final = 16
_MAX_MESSAGE: Final = 400 * 1024 * 1024
SERVER_OPTIONS: Final = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]

# Engine rule (pkg/resource/deploy/source_eval.go SupportsFeature): the features this monitor implements.
# Secrets: yes. resourceReferences / outputValues: no, so the SDK sends resources as plain IDs/URNs and
# unknowns as the unknown sentinel. Everything else (transforms, hooks, deletedWith, parameterization...):
# no, so the SDK refuses those options itself with a clear message.
SUPPORTED_FEATURES: Final = {"secrets": resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS}


class MonitorShutdown(Exception):
    """Raised by a :class:`Deployment` to refuse a request because the deployment already failed."""


@dataclass(frozen=True)
class LogEntry:
    """One ``Engine.Log`` message from the program (``severity`` is ``debug``/``info``/``warning``/``error``)."""

    severity: str
    message: str
    urn: str = ""


class Deployment(Protocol):
    """What the monitor needs from the deployment it serves."""

    def register_resource(self, request: resource_pb2.RegisterResourceRequest
                          ) -> resource_pb2.RegisterResourceResponse: ...

    def register_resource_outputs(self, request: resource_pb2.RegisterResourceOutputsRequest) -> None: ...

    def fail(self, error: StackRunnerError) -> None: ...

    def log(self, entry: LogEntry) -> None: ...


class ResourceMonitorServicer(resource_pb2_grpc.ResourceMonitorServicer):
    """``pulumirpc.ResourceMonitor`` backed by a :class:`Deployment`."""

    def __init__(self, deployment: Deployment, *, project: str, stack: str) -> None:
        self._deployment = deployment
        self._project = project
        self._stack = stack

    def _refuse(self, context: Any, error: StackRunnerError) -> None:
        # Engine rule: once a step fails the engine cancels the deployment and its monitor answers
        # Unavailable ("resource monitor shut down ..."); the SDK turns that into a RunError and the program
        # exits. The runner reports the recorded error itself, readably.
        self._deployment.fail(error)
        context.abort(grpc.StatusCode.UNAVAILABLE, f"resource monitor shut down: {error}")

    def GetDeploymentInfo(self, request: Any, context: Any) -> resource_pb2.DeploymentInfo:
        return resource_pb2.DeploymentInfo(project=self._project, stack=self._stack, organization="organization",
                                           supportedFeatures=list(SUPPORTED_FEATURES.values()))

    def SupportsFeature(self, request: resource_pb2.SupportsFeatureRequest,
                        context: Any) -> resource_pb2.SupportsFeatureResponse:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in SUPPORTED_FEATURES)

    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest,
                         context: Any) -> resource_pb2.RegisterResourceResponse:
        try:
            return self._deployment.register_resource(request)
        except MonitorShutdown:
            context.abort(grpc.StatusCode.UNAVAILABLE, "resource monitor shut down after an earlier failure")
        except StackRunnerError as exc:
            self._refuse(context, exc)
        except Exception as exc:  # a bug in the runner: report it rather than hang the program
            self._refuse(context, StackRunnerError(f"internal error registering {request.name!r}: {exc!r}"))
        raise AssertionError("unreachable")  # context.abort raises

    def RegisterResourceOutputs(self, request: resource_pb2.RegisterResourceOutputsRequest,
                                context: Any) -> empty_pb2.Empty:
        try:
            self._deployment.register_resource_outputs(request)
        except MonitorShutdown:
            context.abort(grpc.StatusCode.UNAVAILABLE, "resource monitor shut down after an earlier failure")
        except StackRunnerError as exc:
            self._refuse(context, exc)
        return empty_pb2.Empty()

    def ReadResource(self, request: resource_pb2.ReadResourceRequest,
                     context: Any) -> resource_pb2.ReadResourceResponse:
        self._refuse(context, UnsupportedResourceError(
            f"reading an existing resource ({request.type} {request.name!r}, id {request.id!r}, e.g. with .get()) "
            "is not supported by the offline StackRunner; use the import_ resource option instead"))
        raise AssertionError("unreachable")

    def Invoke(self, request: resource_pb2.ResourceInvokeRequest, context: Any) -> Any:
        self._refuse(context, UnsupportedResourceError(
            f"invoke of {request.tok!r} is not supported by the offline StackRunner: it runs only Python dynamic "
            "resources, which have no functions"))
        raise AssertionError("unreachable")

    def Call(self, request: Any, context: Any) -> Any:
        self._refuse(context, UnsupportedResourceError(
            f"method call {request.tok!r} is not supported by the offline StackRunner"))
        raise AssertionError("unreachable")

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> empty_pb2.Empty:
        # Registrations are served synchronously, so every step has finished by the time the SDK asks.
        return empty_pb2.Empty()


_SEVERITIES: Final = {
    engine_pb2.DEBUG: "debug",
    engine_pb2.INFO: "info",
    engine_pb2.WARNING: "warning",
    engine_pb2.ERROR: "error",
}


class EngineServicer(engine_pb2_grpc.EngineServicer):
    """``pulumirpc.Engine``: collects the program's log messages (``pulumi.log.*`` and program errors)."""

    def __init__(self, deployment: Deployment) -> None:
        self._deployment = deployment
        self._root = ""
        self._lock = threading.Lock()

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        self._deployment.log(LogEntry(_SEVERITIES.get(request.severity, "info"), request.message, request.urn))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> engine_pb2.GetRootResourceResponse:
        with self._lock:
            return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(self, request: engine_pb2.SetRootResourceRequest,
                        context: Any) -> engine_pb2.SetRootResourceResponse:
        with self._lock:
            self._root = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(self, request: Any, context: Any) -> empty_pb2.Empty:
        # The runner is not a CLI; it accepts any range (the installed SDK is what actually runs).
        return empty_pb2.Empty()


class MonitorServer:
    """A localhost gRPC server hosting both services for one program run."""

    def __init__(self, deployment: Deployment, *, project: str, stack: str) -> None:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=MONITOR_WORKERS,
                                                              thread_name_prefix="stackrunner-monitor"),
                                   options=SERVER_OPTIONS)
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(
            ResourceMonitorServicer(deployment, project=project, stack=stack), self._server)
        engine_pb2_grpc.add_EngineServicer_to_server(EngineServicer(deployment), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        if not port:
            raise StackRunnerError("cannot bind a localhost port for the resource monitor")
        self.address = f"127.0.0.1:{port}"
        self._server.start()

    def stop(self) -> None:
        """Stop serving (in-flight calls get a short grace period)."""
        self._server.stop(grace=2).wait(5)
