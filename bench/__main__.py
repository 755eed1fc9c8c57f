"""`python -m bench` (make bench): every benchmark; each prints a table and writes JSON to bench/results/."""

import sys

from bench import catalog, images, node, page_load, program, stack

program.main()
catalog.main([])
status = images.main([])
stack.main()
status = page_load.main([]) or status
status = node.main() or status
sys.exit(status)
