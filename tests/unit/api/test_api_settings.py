"""Settings: validation, environment variables, keys hidden from repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from hybrid.errors import ConfigError


def test_from_env_fills_unset_values():
    env = {"HYBRID_PORT": "7000", "HYBRID_API_KEY": "secret", "HYBRID_DATA": "/tmp/d"}
    s = Settings.from_env(env, host="0.0.0.0", port=None)
    assert (s.host, s.port, s.api_key, s.data) == ("0.0.0.0", 7000, "secret", Path("/tmp/d"))
    assert Settings.from_env(env, port=8000).port == 8000  # arguments win
    assert Settings().grpc_port == 6334 and Settings.from_env({"HYBRID_GRPC_PORT": "0"}).grpc_port == 0


def test_keys_never_in_repr():
    s = Settings(api_key="top-secret", read_only_api_key="also-secret")
    assert "secret" not in repr(s) and s.auth_enabled


@pytest.mark.parametrize("bad, field", [
    ({"port": 70000}, "port"), ({"grpc_port": -1}, "grpc_port"), ({"threads": 0}, "threads"), ({"api_key": ""}, "api_key"),
    ({"api_key": "same", "read_only_api_key": "same"}, "read_only_api_key"),
    ({"max_request_bytes": -1}, "max_request_bytes"),
])
def test_invalid_settings_name_the_field(bad, field):
    with pytest.raises(ConfigError, match=field):
        Settings(**bad)


@pytest.mark.parametrize("env, variable", [({"HYBRID_PORT": "80a"}, "HYBRID_PORT"),
                                           ({"HYBRID_WARM_UP": "maybe"}, "HYBRID_WARM_UP")])
def test_bad_environment_variables_are_named(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)
    assert Settings.from_env({"HYBRID_WARM_UP": "false"}).warm_up is False
