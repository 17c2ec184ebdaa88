"""Lists a pickle's opcodes as pickletools reads them: reads one pickle in hex on stdin, writes
`OFFSET NAME` for each opcode, a line each."""

import pickletools
import sys

for opcode, arg, offset in pickletools.genops(bytes.fromhex(sys.stdin.read().strip())):
    print(offset, opcode.name)
