"""Make policy/ importable (the pack lives beside the program, not inside a package)."""

import sys
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))
