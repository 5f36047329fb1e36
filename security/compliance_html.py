"""The compliance report as one readable HTML page (no scripts, no external resources).

Use case::

    html = render_html(build_report(...))      # write it next to compliance.json
"""

from __future__ import annotations

import json
from html import escape

_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "partial": "#9a6700",
            "not_checked": "#57606a"}
_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em}"
          "table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;"
          "padding:.4em;vertical-align:top;text-align:left}pre{margin:0;white-space:pre-wrap;"
          "font-size:.85em}.s{font-weight:bold}")


def _row(control: dict) -> str:
    colour = _COLOURS.get(control["status"], "#000")
    evidence = escape(json.dumps(control["evidence"], indent=1, sort_keys=True, default=str))
    return (f"<tr><td>{escape(control['id'])}</td><td>{escape(control['title'])}</td>"
            f"<td class='s' style='color:{colour}'>{escape(control['status'])}</td>"
            f"<td><pre>{evidence}</pre></td></tr>")


def render_html(report: dict) -> str:
    summary = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(report["summary"].items()))
    rows = "\n".join(_row(c) for c in report["controls"])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>uqo compliance evidence"
            f"</title><style>{_STYLE}</style></head><body>"
            f"<h1>uqo compliance evidence</h1><p>{escape(report['standard'])}; generated "
            f"{escape(report['generated_utc'])}.</p><p>{summary}</p>"
            f"<p>Each status comes from a check made when this page was generated; "
            f"<em>not_checked</em> means no evidence was available.</p>"
            f"<table><tr><th>Control</th><th>Title</th><th>Status</th><th>Evidence</th></tr>"
            f"{rows}</table></body></html>\n")
