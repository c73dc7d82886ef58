#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal of 24 rows and 80 columns, prints what it wrote there
and exits with its exit code. Its input is the terminal, with nothing typed.

    run_in_pty.py COMMAND [ARG...]
"""
import fcntl
import os
import pty
import struct
import sys
import termios

pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
output = bytearray()
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO once the command and its children closed the terminal
        break
    if not chunk:
        break
    output += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(output))
sys.exit(os.waitstatus_to_exitcode(status))
