"""The compose target: the resolved stack as a docker compose file (`make compose`, and the
benchmark's peer in bench/stack.py), rendered from the same container plan as the docker
target (components/plan/container.py), so it runs what `pulumi up -s dev` runs, without Pulumi.

- `render.py`: `compose_document` (the file as a dict) and `write_compose_file`;
- `secrets.py`: the stack's secret values, generated once into the file.
"""
