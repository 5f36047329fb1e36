"""The Python SDK: the seed's async API over HTTP (``UnifiedOrchestrator``), the same API in
process (``EmbeddedOrchestrator``), and the legacy synchronous shim (``LegacyOrchestrator``)."""
