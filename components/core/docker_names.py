"""The names of what the program creates on a Docker engine, made so that no two stacks and no
two services can meet on one engine, whatever names people pick.

Every name is `dockyard-<stack><separator><tail>`, the tail being the service's name or the
service's name and what the object is. Service names hold no '.' and no '_' (the catalog's
grammar: lower-case letters, digits and '-'); stack names may hold '-', '.' and '_'.

- A stack whose name holds no '-' (dev, staging, prod) keeps the names it always had,
  `dockyard-dev-postgres`: the first '-' after `dockyard-` ends the stack's name, so two such
  stacks cannot meet.
- A stack whose name holds a '-' is separated from the tail by '.', which no tail holds:
  `dockyard-dev-x.a` (stack dev-x, service a), where the old names made stack dev + service
  x-a and stack dev-x + service a both `dockyard-dev-x-a`. The last '.' ends the stack's name;
  and such a name cannot equal one of the first kind, whose tail would then hold a '.'.
- The tails of one stack differ by kind: a service's container is its name, the container that
  writes a generated config is `<service>_config` ('_': no service is named so), its volumes
  `<service>-data` and `<service>-config` (volumes and containers are apart on an engine).

Changing these changes existing resources: docs/dev-stack.md ("Names on the engine") says
what an upgrade replaces.
"""

from __future__ import annotations

PREFIX = "dockyard-"
# Between the tail and a stack name that holds '-': a character no tail holds.
DASHED_STACK_SEPARATOR = "."
# Marks the program's own container among a stack's containers (no service name holds it).
OWN_MARK = "_"


def _name(stack: str, tail: str) -> str:
    separator = DASHED_STACK_SEPARATOR if "-" in stack else "-"
    return f"{PREFIX}{stack}{separator}{tail}"


def network_name(stack: str) -> str:
    """The stack's one network (networks are apart from containers and volumes on an engine)."""
    return f"{PREFIX}{stack}-net"


def container_name(stack: str, service: str) -> str:
    return _name(stack, service)


def data_volume_name(stack: str, service: str) -> str:
    return _name(stack, f"{service}-data")


def config_volume_name(stack: str, service: str) -> str:
    """The volume a generated config (the monitoring service's scrape config) is written to."""
    return _name(stack, f"{service}-config")


def config_writer_name(stack: str, service: str) -> str:
    """The never-started container that writes the generated config into its volume."""
    return _name(stack, f"{service}{OWN_MARK}config")
