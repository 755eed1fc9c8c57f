"""The stack's secrets as plain values for a compose file: a generated secret is generated once,
into the file (letters and digits, as the program's), a template is filled from those. A secret
the stack reads from config (an external service's, `pulumi config set --secret`) has no value
here: the file cannot be written, and the refusal names each such secret and its key."""

from __future__ import annotations

import secrets as random_source
import string
from collections.abc import Mapping

from components.config.settings import NAMESPACE
from components.core.invariants import ensured
from components.core.problems import OMITTED, Problem, Refusal
from components.plan.resolve import ResolvedStack, StackSecret

ALPHABET = string.ascii_letters + string.digits  # as the program's RandomPassword (special=False)


class ComposeRefusal(Refusal):
    """The stack cannot be written as a compose file; every reason at once."""

    def __init__(self, stack: str, problems: list[Problem]):
        self.stack = stack
        super().__init__(f"stack '{stack}' cannot be written as a compose file", problems, f"{NAMESPACE}:")


def config_secret_problems(stack: ResolvedStack) -> list[Problem]:
    """One problem per secret the stack reads from config: the file would have no value for it."""
    return [
        Problem(_config_key(secret), OMITTED, f"secret {secret.name!r} is read from this config secret, which a compose "
                "file cannot read (only generated secrets, and templates over them, are written into it)")
        for secret in stack.secrets.values()
        if secret.generate is None and secret.template is None
    ]  # fmt: skip


def _config_key(secret: StackSecret) -> str:
    """The config key of a secret neither generated nor a template (each is exactly one of the three)."""
    return ensured(secret.config, f"secret {secret.name!r}, neither generated nor a template, to come from config")


def secret_values(stack: ResolvedStack) -> dict[str, str]:
    """secret name -> its value, dependencies first (as `stack.secrets` lists them)."""
    if problems := config_secret_problems(stack):
        raise ComposeRefusal(stack.settings.stack, problems)
    values: dict[str, str] = {}
    for secret in stack.secrets.values():
        if secret.generate is not None:
            values[secret.name] = "".join(random_source.choice(ALPHABET) for _ in range(secret.generate.length))
        else:  # a template: config_secret_problems refused the others
            template = ensured(secret.template, f"secret {secret.name!r} to be a template")
            values[secret.name] = fill_secrets(template, values)
    return values


def fill_secrets(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `{secret:name}` replaced by its value."""
    for name, value in values.items():
        template = template.replace(f"{{secret:{name}}}", value)
    return template
