"""What botocore's clients redo on every call although the answer cannot have changed since the last one.

1. The User-Agent header. `BaseClient._convert_to_request_dict` calls `UserAgentString.to_string()` on
   every call, which builds ~12 UserAgentComponent objects (SDK, OS, Python, config, features...),
   sanitizes each (devstack.overhead item 4 memoizes that part) and joins them. Everything it reads is the
   client's UserAgentString (fixed when the client is made), the client's Config and the feature ids
   registered so far (the client's and the current botocore context's). py-spy --gil on the soak
   (bench.soak, 300 runs): 1.9% of all samples were in `to_string` after overhead's memo. Here
   `to_string` keeps one string per client and per key of everything it reads (the features in the
   order botocore would join them, and the Config's user-agent and retry fields): the same key gives
   the same string botocore would build, so the header sent is byte for byte the same. A Config that
   overrides the User-Agent (`user_agent`) takes botocore's own path.

`install()` checks the source of what it relies on and raises at start if a botocore upgrade changed it;
tests/emulator/test_client_memo.py fails if the patch is gone or gives another string than botocore's.
"""

import inspect
import threading
import weakref
from typing import Any

from devstack.once import installs_once

_MAX_PER_CLIENT = 64


def _check_user_agent() -> Any:
    from botocore import useragent

    cls: Any = useragent.UserAgentString
    source = inspect.getsource(cls)
    features = inspect.getsource(cls._build_feature_metadata)
    expected_fields = {
        "_platform_name",
        "_platform_version",
        "_platform_machine",
        "_python_version",
        "_python_implementation",
        "_execution_env",
        "_crt_version",
        "_session_user_agent_name",
        "_session_user_agent_version",
        "_session_user_agent_extra",
        "_client_config",
        "_client_features",
    }
    fields = set(useragent.UserAgentString.from_environment().__dict__)
    if (
        fields != expected_fields
        or "client_features.union(context_features)" not in features
        or "ctx.features" not in features
        or "self._client_config.retries" not in source
        or "self._client_config.endpoint_discovery_enabled" not in source
        or "self._client_config.user_agent_appid" not in source
        or "self._client_config.user_agent_extra" not in source
        or "_supplied_user_agent" not in source
        or useragent.modify_components.__module__ != "botocore.useragent"  # no botocore customization
    ):
        raise RuntimeError("botocore's UserAgentString changed: revisit devstack.client_memo")
    return useragent


def _memoize_user_agent() -> None:
    useragent = _check_user_agent()
    from botocore.context import get_context

    cls = useragent.UserAgentString
    to_string = cls.to_string
    memo: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], str]] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def memoized_to_string(self: Any) -> str:
        config = self._client_config
        if (
            config is not None
            and (
                config._supplied_user_agent if hasattr(config, "_supplied_user_agent") else config.user_agent
            )
            is not None
        ):
            return to_string(self)  # a legacy User-Agent override: botocore's own path
        ctx = get_context()
        context_features = set() if ctx is None else ctx.features
        client_features = self._client_features or set()
        # The order botocore's ','.join(features) would give: the same union of the same sets.
        features = tuple(client_features.union(context_features))
        key = (
            features,
            self._session_user_agent_name,
            self._session_user_agent_version,
            self._session_user_agent_extra,
            self._execution_env,
            config,
            None
            if config is None
            else (
                repr(config.retries),
                config.endpoint_discovery_enabled,
                config.user_agent_appid,
                config.user_agent_extra,
            ),
        )
        with lock:
            strings = memo.get(self)
            if strings is None:
                strings = memo[self] = {}
            string = strings.get(key)
        if string is None:
            string = to_string(self)
            with lock:
                if len(strings) >= _MAX_PER_CLIENT:
                    strings.clear()
                strings[key] = string
        return string

    memoized_to_string.__wrapped__ = to_string  # type: ignore[attr-defined]
    cls.to_string = memoized_to_string


@installs_once
def install() -> None:
    """Memoize what botocore's clients rebuild per call (idempotent)."""
    _memoize_user_agent()
