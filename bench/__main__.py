"""`python -m bench` (make bench): every benchmark; each prints a table and writes JSON to bench/results/."""

import sys

from bench import images, program, stack

program.main()
status = images.main([])
stack.main()
sys.exit(status)
