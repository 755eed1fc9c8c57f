#!/usr/bin/env python3
"""STAND-IN for the Pulumi `random` resource provider 4.21.4.

This is not Pulumi's provider (a bridge of terraform-provider-random whose Go module cannot
be built or downloaded on our machines). Installed as `pulumi-resource-random` 4.21.4 by
engine/plugins/install.sh, it serves the two resources the program uses, and every log
line says it is a stand-in:

- `random:index/randomPassword:RandomPassword`: `length`, `keepers`, `lower`/`upper`/
  `numeric`/`special` (default true; the deprecated `number` follows `numeric`),
  `minLower`/`minUpper`/`minNumeric`/`minSpecial` (default 0), `overrideSpecial`.
  Outputs `result` and `bcryptHash`, both secret, with every input echoed.
- `random:index/randomBytes:RandomBytes`: `length`, `keepers`; outputs `hex` and `base64`,
  both secret.

As the Terraform resources behave: values come from the OS CSPRNG (`secrets`) once, at
create; any input change replaces the resource (a new value); read returns the state as
it is; delete forgets. Previews show the values as unknown. The ID is `none`.

`bcryptHash` (the program never reads it: only `result` and `hex` are used) is a real
bcrypt hash, cost 10, from the `bcrypt` module when installed, else from the system's
libcrypt (libxcrypt's `$2b$`). With neither it is the empty string and a warning says so.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import secrets
import string
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.provider.experimental import server
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
)
from standin_wire import UNKNOWN, EngineLog, plain, resource_token, without_dependencies

NAME = "random"
VERSION = "4.21.4"
PASSWORD_TOKEN = "random:index/randomPassword:RandomPassword"
BYTES_TOKEN = "random:index/randomBytes:RandomBytes"
LOG_PREFIX = f"[stand-in {NAME} {VERSION}]"
RESOURCE_ID = "none"  # what terraform-provider-random sets as these resources' ID
SPECIAL_CHARS = "!@#$%&*()-_=+[]{}<>:?"  # terraform-provider-random's default special set
BCRYPT_COST = 10

PASSWORD_DEFAULTS: dict[str, Any] = {
    "lower": True, "upper": True, "numeric": True, "special": True,
    "minLower": 0.0, "minUpper": 0.0, "minNumeric": 0.0, "minSpecial": 0.0,
}
INPUTS = {
    PASSWORD_TOKEN: ("keepers", "length", "lower", "upper", "number", "numeric", "special",
                     "minLower", "minUpper", "minNumeric", "minSpecial", "overrideSpecial"),
    BYTES_TOKEN: ("keepers", "length"),
}


# --- property values -------------------------------------------------------------------------

def secret(text: str) -> PropertyValue:
    return PropertyValue(text, is_secret=True)


def is_known_number(value: Any) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)




# --- values ----------------------------------------------------------------------------------

def character_classes(args: Mapping[str, Any]) -> list[tuple[str, bool, int]]:
    """(characters, enabled, minimum) per class, as terraform-provider-random's CreateString."""
    special = args.get("overrideSpecial") or SPECIAL_CHARS
    return [
        (string.ascii_uppercase, bool(args["upper"]), int(args["minUpper"])),
        (string.ascii_lowercase, bool(args["lower"]), int(args["minLower"])),
        (string.digits, bool(args["numeric"]), int(args["minNumeric"])),
        (special, bool(args["special"]), int(args["minSpecial"])),
    ]


def generate_password(args: Mapping[str, Any]) -> str:
    """Each class's minimum first (the Terraform provider honours a minimum even for a class
    that is switched off), the rest from the enabled classes, then shuffled."""
    classes = character_classes(args)
    pool = "".join(chars for chars, enabled, _ in classes if enabled)
    chosen = [secrets.choice(chars) for chars, _, minimum in classes for _ in range(minimum)]
    chosen += [secrets.choice(pool) for _ in range(int(args["length"]) - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)


def _libcrypt_bcrypt(password: str) -> str:
    """bcrypt through the system's libcrypt (libxcrypt supports `$2b$`), no Python package."""
    name = ctypes.util.find_library("crypt")
    if not name:
        return ""
    library = ctypes.CDLL(name)
    library.crypt_gensalt.restype = ctypes.c_char_p
    library.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    library.crypt.restype = ctypes.c_char_p
    library.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = library.crypt_gensalt(b"$2b$", BCRYPT_COST, None, 0)  # NULL: libcrypt draws the salt
    hashed = library.crypt(password.encode(), salt) if salt else None
    return hashed.decode() if hashed and hashed.startswith(b"$2b$") else ""


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash of the password (cost 10, as the Terraform provider), or "" with neither
    the `bcrypt` module nor a bcrypt-capable libcrypt."""
    try:
        import bcrypt  # optional: not in requirements.txt
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()
    except ImportError:
        pass
    try:
        return _libcrypt_bcrypt(password)
    except (OSError, AttributeError):
        return ""


def password_outputs(args: Mapping[str, Any], preview: bool) -> tuple[dict[str, PropertyValue], bool]:
    """`result` and `bcryptHash`, and whether the hash had to be left empty."""
    if preview:
        return {"result": secret(UNKNOWN), "bcryptHash": secret(UNKNOWN)}, False
    result = generate_password(args)
    hashed = bcrypt_hash(result)
    return {"result": secret(result), "bcryptHash": secret(hashed)}, not hashed


def bytes_outputs(args: Mapping[str, Any], preview: bool) -> dict[str, PropertyValue]:
    if preview:
        return {"hex": secret(UNKNOWN), "base64": secret(UNKNOWN)}
    data = secrets.token_bytes(int(args["length"]))
    return {"hex": secret(data.hex()), "base64": secret(base64.b64encode(data).decode())}


# --- checks ----------------------------------------------------------------------------------

def password_defaults(inputs: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
    """Terraform's defaults, filled in as the bridged provider's Check does; the deprecated
    `number` and `numeric` agree (false if either is false)."""
    result = dict(inputs)
    for key, value in PASSWORD_DEFAULTS.items():
        if result.get(key) is None or result[key].value is None:
            result[key] = PropertyValue(value)
    number, numeric = result.get("number"), result["numeric"]
    if number is None or number.value is None:
        result["number"] = numeric
    elif number.value is False or numeric.value is False:
        result["number"] = result["numeric"] = PropertyValue(False)
    return result


def length_failures(args: Mapping[str, Any], minimums: Sequence[str]) -> list[CheckFailure]:
    length = args.get("length")
    if length == UNKNOWN:
        return []
    if not is_known_number(length):
        return [CheckFailure("length", "missing required property 'length' (a number)")]
    if length < 1:
        return [CheckFailure("length", "length must be at least 1")]
    total = sum(args.get(key) or 0 for key in minimums if is_known_number(args.get(key)))
    if length < total:
        return [CheckFailure("length", f"length ({int(length)}) is less than the sum of {', '.join(minimums)}")]
    return []


def password_failures(args: Mapping[str, Any]) -> list[CheckFailure]:
    failures = length_failures(args, ("minUpper", "minLower", "minNumeric", "minSpecial"))
    if not any(args.get(key) for key in ("lower", "upper", "numeric", "special")):
        failures.append(CheckFailure("lower", "at least one of lower, upper, numeric or special must be true"))
    return failures


# --- the provider ----------------------------------------------------------------------------

def replacements(token: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, PropertyDiffKind]:
    """Every input forces replacement (Terraform's RequiresReplace on all of them)."""
    changed = {}
    for key in INPUTS[token]:
        if key not in olds and key in news:
            changed[key] = PropertyDiffKind.ADD_REPLACE
        elif key in olds and key not in news:
            changed[key] = PropertyDiffKind.DELETE_REPLACE
        elif olds.get(key) != news.get(key):
            changed[key] = PropertyDiffKind.UPDATE_REPLACE
    return changed


class RandomProvider(Provider):
    """RandomPassword and RandomBytes, generated once and replaced on any input change."""

    def __init__(self, log: EngineLog):
        self.log = log

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        # No output values on the wire: the SDK cannot unmarshal an unknown one.
        return ConfigureResponse(accept_secrets=True, supports_preview=True)

    async def check(self, request: CheckRequest) -> CheckResponse:
        if resource_token(request.type) == PASSWORD_TOKEN:
            inputs = password_defaults(request.new_inputs)
            return CheckResponse(inputs, password_failures({k: plain(v) for k, v in inputs.items()}))
        if resource_token(request.type) == BYTES_TOKEN:
            args = {k: plain(v) for k, v in request.new_inputs.items()}
            return CheckResponse(request.new_inputs, length_failures(args, ()))
        return CheckResponse(request.new_inputs, [CheckFailure("", f"{LOG_PREFIX} has no resource {resource_token(request.type)}")])

    async def diff(self, request: DiffRequest) -> DiffResponse:
        olds = {k: plain(v) for k, v in request.old_state.items()}
        news = {k: plain(v) for k, v in request.new_inputs.items()}
        changed = replacements(resource_token(request.type), olds, news)
        return DiffResponse(
            changes=bool(changed), replaces=list(changed),
            detailed_diff={key: PropertyDiff(kind, input_diff=True) for key, kind in changed.items()},
        )

    async def create(self, request: CreateRequest) -> CreateResponse:
        args = {k: plain(v) for k, v in request.properties.items()}
        state = {key: without_dependencies(value) for key, value in request.properties.items()}
        if resource_token(request.type) == PASSWORD_TOKEN:
            outputs, unhashed = password_outputs(args, request.preview)
            if unhashed:
                await self.log.warning("bcryptHash left empty: neither the bcrypt module nor a bcrypt-capable "
                                       "libcrypt is available", request.urn)
        else:
            outputs = bytes_outputs(args, request.preview)
        return CreateResponse(resource_id="" if request.preview else RESOURCE_ID, properties={**state, **outputs})

    async def delete(self, request: DeleteRequest) -> None:
        """Nothing exists outside the state."""


def engine_address(argv: list[str]) -> str | None:
    """The engine's address: the first argument that is not a flag."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main() -> None:
    server.main(sys.argv[1:], VERSION, RandomProvider(EngineLog(engine_address(sys.argv[1:]), LOG_PREFIX)))


if __name__ == "__main__":
    main()
