"""`StackSecrets`: the values of the secrets a stack needs, as secret Outputs.

Which secrets and where each comes from is the catalog's (resolved per stack in
components/plan/resolve.py): generated ones (letters and digits, kept encrypted in the stack's
state, so dev needs nothing set by hand), templates over other secrets, and config
secrets (`pulumi config set --secret <key> …`), such as an external database's URL.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.config.templates import secret_names
from components.core.invariants import ensured
from components.plan.resolve import StackSecret


class StackSecrets(pulumi.ComponentResource):
    """`values`: secret name -> secret Output."""

    values: Mapping[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        *,
        secrets: Mapping[str, StackSecret],
        config_secrets: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("dockyard:index:StackSecrets", name, None, opts)
        values: dict[str, pulumi.Output[str]] = {}
        for secret in secrets.values():  # dependencies first
            if secret.generate is not None:
                # Letters and digits only: a generated value may go into a URL unescaped.
                values[secret.name] = pulumi.Output.secret(
                    random.RandomPassword(
                        f"{name}-{secret.name}",
                        length=secret.generate.length,
                        special=False,
                        opts=pulumi.ResourceOptions(parent=self),
                    ).result
                )
            elif secret.template is not None:
                # An Output either way: a template that names no secret is its text as it is.
                values[secret.name] = pulumi.Output.from_input(fill_secrets(secret.template, values))
            else:
                config = ensured(secret.config, f"secret {secret.name!r} to come from a config secret")
                values[secret.name] = pulumi.Output.secret(config_secrets[config])
        self.values = values
        self.register_outputs({})


def fill_secrets(template: str, secrets: Mapping[str, pulumi.Output[str]]) -> str | pulumi.Output[str]:
    """`template` with each `{secret:name}` filled: a secret Output, or the text as it is when
    it names no secret. Names are checked against the catalog before any resource exists."""
    names = secret_names(template)
    if not names:
        return template

    def substitute(values: list[str]) -> str:
        result = template
        for secret_name, value in zip(names, values, strict=True):
            result = result.replace(f"{{secret:{secret_name}}}", value, 1)
        return result

    return pulumi.Output.secret(pulumi.Output.all(*(secrets[n] for n in names)).apply(substitute))
