"""The env the program gives a service, computed from the resolved stack for tests that run
the app images directly with `docker run` (hosts and ports filled, secrets given)."""

from __future__ import annotations

import re

from components.plan.resolve import ResolvedStack, Service

_SECRET = re.compile(r"\{secret:([a-z0-9-]+)\}")


def service_env(service: Service, stack: ResolvedStack, values: dict[str, str]) -> dict[str, str]:
    """The env the program gives `service`, in the catalog's order: hosts and ports filled,
    each secret from `values` (a generated or config secret) or its template."""

    def filled(template: str) -> str:
        def secret(match: re.Match) -> str:
            name = match[1]
            if name in values:
                return values[name]
            if stack.secrets[name].template is None:
                raise KeyError(f"secret {name!r} needs a value")
            return filled(stack.secrets[name].template)

        return _SECRET.sub(secret, template)

    return {
        key: service.plain_env[key] if key in service.plain_env else filled(service.secret_env[key])
        for key in service.spec.env
    }
