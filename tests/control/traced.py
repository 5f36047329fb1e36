"""Run code in a fresh Python process whose global tracer provider records every span.

A provider is installed once per process (OpenTelemetry refuses a second), and the test process
keeps the no-op one, so code whose spans come from ``uqo.control.tracing.TRACER`` is run here:

    spans = run_traced("async def main():\\n    ...")   # or plain statements
    [s for s in spans if s["name"] == "log.commit"]

``code`` may define ``async def main()`` (run with ``asyncio.run``). Each span comes back as a
dict: name, kind (``SERVER``...), trace_id, span_id, parent_id ("" for a root), attributes,
status (``UNSET``/``OK``/``ERROR``), links [(trace_id, span_id)], events (names). Whatever
``main`` returns comes back as ``spans.result`` (JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

_PRELUDE = """
import asyncio, json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)
"""

_EPILOGUE = """
_result = asyncio.run(main()) if "main" in globals() else None
def _span(s):
    return {"name": s.name, "kind": s.kind.name, "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "parent_id": f"{s.parent.span_id:016x}" if s.parent else "",
            "attributes": dict(s.attributes), "status": s.status.status_code.name,
            "links": [(f"{l.context.trace_id:032x}", f"{l.context.span_id:016x}")
                      for l in s.links],
            "events": [e.name for e in s.events]}
print("\\n" + json.dumps({"spans": [_span(s) for s in EXPORTER.get_finished_spans()],
                         "result": _result}))
"""


class Spans(list):
    result: object = None

    def named(self, name: str) -> list[dict]:
        return [s for s in self if s["name"] == name]


def run_traced(code: str, timeout_s: float = 120.0) -> Spans:
    source = _PRELUDE + textwrap.dedent(code) + _EPILOGUE
    out = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                         check=False, timeout=timeout_s, env=os.environ.copy())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    spans = Spans(doc["spans"])
    spans.result = doc["result"]
    return spans
