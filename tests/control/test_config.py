"""Configuration: precedence, validation naming the setting and its source, describe()."""

import pytest
from uqo.control.config import ConfigError, describe, load_config, load_config_sources


def test_file_then_env_then_flags(tmp_path):
    path = tmp_path / "uqo.toml"
    path.write_text('port = 9001\nfsync = false\n[server]\nhost = "127.0.0.2"\n')
    cfg, src = load_config_sources(str(path), {"UQO_PORT": "9002", "HOME": "/x"},
                                   {"host": "127.0.0.3", "data_dir": None})
    assert (cfg.port, cfg.host, cfg.fsync, cfg.data_dir) == (9002, "127.0.0.3", False,
                                                            "./uqo-data")
    assert src["port"] == "env UQO_PORT" and src["fsync"].startswith("file ")
    text = describe(cfg, src)
    assert "port" in text and "(env UQO_PORT)" in text and "(default)" in text


@pytest.mark.parametrize("kwargs, needle", [
    ({"overrides": {"bogus": 1}}, "unknown setting 'bogus'"),
    ({"overrides": {"port": 70000}}, "'port' = 70000"),
    ({"env": {"UQO_TICK_INTERVAL_S": "-1"}}, "env UQO_TICK_INTERVAL_S"),
    ({"env": {"UQO_BACKEND": "quantum-annealer"}}, "'backend'"),
    ({"overrides": {"fsync": "yes"}}, "'fsync'"),
])
def test_bad_settings_are_named(kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(**kwargs)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(str(bad))


def test_tracing_takes_the_opentelemetry_names_below_our_own(tmp_path):
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    cfg, src = load_config_sources(None, otel)
    assert (cfg.otlp_endpoint, cfg.otlp_protocol) == ("http://general:4317", "http/protobuf")
    assert src["otlp_endpoint"] == "env OTEL_EXPORTER_OTLP_ENDPOINT"
    traces = {**otel, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces"}
    assert load_config(env=traces).otlp_endpoint == "http://traces:4318/v1/traces"
    path = tmp_path / "uqo.toml"
    path.write_text('otlp_endpoint = "http://file:4317"\n')
    assert load_config(str(path), otel).otlp_endpoint == "http://file:4317"
    ours = {**otel, "UQO_OTLP_ENDPOINT": "https://ours:4317", "UQO_OTLP_PROTOCOL": "grpc"}
    cfg = load_config(str(path), ours)
    assert (cfg.otlp_endpoint, cfg.otlp_protocol) == ("https://ours:4317", "grpc")
    assert load_config(str(path), ours, {"otlp_endpoint": "http://flag:1"}).otlp_endpoint \
        == "http://flag:1"
    assert load_config().otlp_endpoint == ""                     # off by default


@pytest.mark.parametrize("env, needle", [
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "env OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({"UQO_OTLP_ENDPOINT": "collector:4317"}, "'otlp_endpoint' = 'collector:4317'"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, "env OTEL_EXPORTER_OTLP_ENDPOINT"),
])
def test_bad_tracing_settings_are_named(env, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(env=env)
