"""A real OTLP trace receiver for tests: opentelemetry-proto's gRPC ``TraceService`` on a
loopback port (what a collector or Jaeger serves on 4317), plus the same over HTTP
(``POST /v1/traces``, protobuf, what they serve on 4318). It keeps every span it is sent.

Use cases::

    with GrpcReceiver() as rx:                 # rx.endpoint == "http://127.0.0.1:PORT"
        ...processes export to rx.endpoint...
    spans = rx.spans                           # [Span(service, name, kind, ids, ...)]
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as pb_grpc

SERVER, CLIENT, CONSUMER, INTERNAL = 2, 3, 5, 1      # opentelemetry.proto.trace.v1 SpanKind
STATUS_ERROR = 2


@dataclass(frozen=True)
class Span:
    service: str
    instance: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str                  # "" for a root span
    attributes: dict = field(hash=False)
    links: tuple[tuple[str, str], ...]   # (trace id, span id)
    status: int
    resource: dict = field(hash=False)


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attrs(kvs) -> dict:
    return {kv.key: _value(kv.value) for kv in kvs}


def decode(request: pb.ExportTraceServiceRequest) -> list[Span]:
    out = []
    for rs in request.resource_spans:
        resource = _attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(Span(
                    service=resource.get("service.name", ""),
                    instance=resource.get("service.instance.id", ""), name=s.name,
                    kind=s.kind, trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_id=s.parent_span_id.hex(), attributes=_attrs(s.attributes),
                    links=tuple((ln.trace_id.hex(), ln.span_id.hex()) for ln in s.links),
                    status=s.status.code, resource=resource))
    return out


class _Collector:
    def __init__(self):
        self.spans: list[Span] = []
        self.requests = 0
        self._lock = threading.Lock()

    def take(self, request: pb.ExportTraceServiceRequest) -> None:
        spans = decode(request)
        with self._lock:
            self.spans.extend(spans)
            self.requests += 1


class GrpcReceiver(_Collector, pb_grpc.TraceServiceServicer):
    def __init__(self):
        super().__init__()
        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        pb_grpc.add_TraceServiceServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def Export(self, request, context):   # the gRPC service's method name
        self.take(request)
        return pb.ExportTraceServiceResponse()

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop(grace=None)


class HttpReceiver(_Collector):
    """OTLP/HTTP: ``POST /v1/traces`` with a protobuf body; anything else is a 404."""

    def __init__(self):
        super().__init__()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):                    # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.take(pb.ExportTraceServiceRequest.FromString(body))
                data = pb.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
