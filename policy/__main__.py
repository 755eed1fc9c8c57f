"""Entry point the Pulumi CLI runs for `--policy-pack policy`: build the pack, nothing else."""

import os
import sys

# The analyzer runs this directory; make the rules package importable however it is started.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dockyard_policies.pack import DEFAULT_ENFORCEMENT, PACK_NAME, build_policies  # noqa: E402
from pulumi_policy import PolicyPack  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    enforcement_level=DEFAULT_ENFORCEMENT,
    policies=build_policies(),
)
