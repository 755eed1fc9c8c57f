"""Test support shared by the test tiers (tests/) and the benchmarks (bench/).

- `testing.harness`: runs the real `__main__.py` under Pulumi's mocks and records what it
  registers (needs the program's packages).
- `testing.reference_app`: the reference app's catalog, pinned (plain data).
- `testing.dockerlib`: Debian's docker client, test labels and clean-up, image inspection
  (standard library only).

Nothing is imported here, so `testing.reference_app` and `testing.dockerlib` load under a
plain python3 without the program's packages (bench/images.py).
"""
