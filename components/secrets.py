"""`StackSecrets`: the secret values the catalog's `{secret:…}` templates name.

In dev nothing has to be set by hand: the database password is generated and
kept (encrypted) in the stack's state. An external database replaces the
generated one through the `dockyard:databaseUrl` config secret.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_random as random

from components.catalog import render_template

DATABASE_URL_TEMPLATE = "postgresql+psycopg://{user}:{password}@{host}:{port}/{database}"


def database_url(user: str, password: str, host: str, port: int, database: str) -> str:
    return DATABASE_URL_TEMPLATE.format(user=user, password=password, host=host, port=port, database=database)


class StackSecrets(pulumi.ComponentResource):
    """Named secret Outputs: `postgres-password` and `database-url`."""

    values: Mapping[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        *,
        postgres_env: Mapping[str, str] | None,
        postgres_host: str,
        postgres_port: int,
        external_database_url: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("dockyard:index:StackSecrets", name, None, opts)
        values: dict[str, pulumi.Output[str]] = {}
        if postgres_env is not None:
            # Letters and digits only: the password goes into a URL unescaped.
            password = random.RandomPassword(
                f"{name}-postgres-password", length=32, special=False,
                opts=pulumi.ResourceOptions(parent=self),
            ).result
            values["postgres-password"] = pulumi.Output.secret(password)
            values["database-url"] = pulumi.Output.secret(password.apply(lambda pw: database_url(
                postgres_env["POSTGRES_USER"], pw, postgres_host, postgres_port, postgres_env["POSTGRES_DB"],
            )))
        if external_database_url is not None:
            values["database-url"] = pulumi.Output.secret(external_database_url)
        self.values = values
        self.register_outputs({})


def render_env_value(
    template: str,
    hosts: Mapping[str, str],
    ports: Mapping[str, int],
    secrets: Mapping[str, pulumi.Output[str]],
) -> pulumi.Input[str]:
    """A catalog env template as a plain string, or a secret Output when it names a secret."""
    filled = render_template(template, hosts, ports)
    names = [part.split("}", 1)[0] for part in filled.split("{secret:")[1:]]
    if not names:
        return filled
    missing = [name for name in names if name not in secrets]
    if missing:
        raise KeyError(f"no secret named {', '.join(missing)}; known: {', '.join(sorted(secrets))}")

    def substitute(values: list[str]) -> str:
        result = filled
        for name, value in zip(names, values, strict=True):
            result = result.replace(f"{{secret:{name}}}", value, 1)
        return result

    return pulumi.Output.secret(pulumi.Output.all(*(secrets[name] for name in names)).apply(substitute))
