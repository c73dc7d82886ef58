#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal of 24 rows and 80 columns, prints what it wrote there
and exits with its exit code. Its input is the terminal, with nothing typed unless asked:

    run_in_pty.py [--type-after TEXT KEYS]... COMMAND [ARG...]

Each --type-after types KEYS (Python escapes allowed: '\\x10' is ctrl-p, '\\r' is enter) once
TEXT has appeared in the output after the previous typing (an empty TEXT: at once). Waiting for
the program's own output makes the typing deterministic: the program is ready to read it.
"""
import fcntl
import os
import pty
import struct
import sys
import termios

args = sys.argv[1:]
typing = []  # (text to wait for, bytes to type)
while len(args) >= 3 and args[0] == "--type-after":
    typing.append((args[1].encode(), args[2].encode().decode("unicode_escape").encode("latin-1")))
    args = args[3:]

pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(args[0], args)
output = bytearray()
seen_up_to = 0  # output before this offset was seen before the last typing


def type_what_is_due():
    global seen_up_to
    while typing and typing[0][0] in output[seen_up_to:]:
        text, keys = typing.pop(0)
        seen_up_to = output.find(text, seen_up_to) + len(text)
        os.write(master, keys)


type_what_is_due()
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:  # EIO once the command and its children closed the terminal
        break
    if not chunk:
        break
    output += chunk
    type_what_is_due()
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(output))
sys.exit(os.waitstatus_to_exitcode(status))
