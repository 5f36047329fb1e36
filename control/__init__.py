"""uqo.control: the control plane, in rooms named for their roles (docs/architecture.md).

* ``state``     the replicated core: commands, the deterministic state machine, its applier
                and read-only views (what every replica computes the same way)
* ``log``       how commands become durable and ordered: the ``Log`` interface, the fsync'd
                write-ahead log, snapshots, the single-node log (later etcd and PBFT logs)
* ``leader``    the running orchestrator: a pure leader core (soft state, decisions as
                actions) driven by a loop, the scheduler thread, status and metrics
* ``scheduler`` eligibility and placement strategies over the engine register
* ``api``       the aiohttp application: routes (with their authorisation), codec, OpenAPI
* ``server``    the ``uqo serve`` process: start-up, security bootstrap, graceful shutdown
* ``sdk``       the seed's Python API, over HTTP or embedded in process
* ``client``    client-side helpers: the agent worker, retries and circuit breaking, a
                server child process for tests and benchmarks
* ``sim``       the discrete-event simulator comparing scheduling strategies

Leaf modules shared by all rooms: ``errors`` (``ControlError``), ``config``
(``ServerConfig``) and ``tracing`` (OpenTelemetry spans and trace context). Rooms import each other without cycles (tests/project/test_imports.py).
"""
