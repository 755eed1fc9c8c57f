"""`python -m bench` (make bench): every benchmark; each prints a table and writes JSON to bench/results/."""

import sys

from bench import catalog, images, program, stack

program.main()
catalog.main([])
status = images.main([])
stack.main()
sys.exit(status)
