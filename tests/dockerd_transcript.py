#!/usr/bin/env python3
"""Transcripts of the docker CLI script of tests/dockerd_e2e.sh, normalized so that two dockerd
builds can be compared, and their comparison.

    dockerd_transcript.py normalize DIR     DIR/steps/NNN/* and DIR/events.jsonl -> DIR/transcript.txt
    dockerd_transcript.py diff A.txt B.txt  prints each differing step; exit code 1 if any

A step directory holds `name` (what the step checks), `command`, `rc`, `stdout`, `stderr` and
optionally `normalize` (extra rules: `top`, `numbers`, `shell`). DIR/replace holds `string<TAB>token`
lines for what differs by design between the runs (the run's own directory).

What normalization hides: container ids (full or 12-digit) become <id NAME> with the container's
name, exec ids <exec NAME.N> (Nth exec of that container, in the order of dockerd's events),
other 64-digit hex <hex>; times, ages, durations; in `top` steps the PID, PPID, STIME and TIME
columns, and the order of the rows. dockerd's events (container and network ones) are listed per container, in their
order, with ids, times and execDuration hidden.
"""
import difflib
import json
import os
import re
import sys

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
HEX12 = re.compile(r"\b[0-9a-f]{12}\b")
TIMES = [
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?( ?(Z|[+-]\d\d:?\d\d))?( [A-Z]{3,4})?"), "<time>"),
    (re.compile(r"\b(Less than a second|About a minute|About an hour|\d+ (seconds|minutes|hours))( ago)?\b"), "<age>"),
    (re.compile(r"\b\d+(\.\d+)?(ns|µs|us|ms|s)\b(?= |$|\))"), "<duration>"),
]


def read(path, default=""):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "backslashreplace")
    except FileNotFoundError:
        return default


class Names:
    """Container and exec ids -> stable tokens, learnt from dockerd's events."""

    def __init__(self, events):
        self.container = {}  # full id -> name
        self.execs = {}  # exec id -> token
        exec_count = {}
        for event in events:
            actor = event.get("Actor", {})
            attributes = actor.get("Attributes", {}) or {}
            if event.get("Type") == "container" and attributes.get("name"):
                self.container.setdefault(actor.get("ID", ""), attributes["name"])
            exec_id = attributes.get("execID")
            if exec_id and exec_id not in self.execs:
                name = self.container.get(actor.get("ID", ""), "?")
                exec_count[name] = exec_count.get(name, 0) + 1
                self.execs[exec_id] = f"<exec {name}.{exec_count[name]}>"
        self.short = {i[:12]: n for i, n in self.container.items()}

    def text(self, text):
        def full(m):
            h = m.group(0)
            if h in self.container:
                return f"<id {self.container[h]}>"
            return self.execs.get(h, "<hex>")

        text = HEX64.sub(full, text)
        text = HEX12.sub(lambda m: f"<id {self.short[m.group(0)]}>" if m.group(0) in self.short else m.group(0), text)
        return text


# The CLI logs this when it stops waiting for a container whose start failed, or not: a race
# inside the CLI (its wait request against its own cancellation), not dockerd's answer.
# The same line as the CLI logs it on a terminal: colored, with seconds since its start.
CLI_WAIT_RACE = re.compile(
    r'^(?:time="[^"]*" level=error msg="error waiting for container: context canceled"'
    r"|(?:\x1b\[31m)?ERRO(?:\x1b\[0m)?\[\d+\] error waiting for container: context canceled *)\n?",
    re.M,
)
# An exec's exit as a killed process (137) or as one moby no longer held (127).
PROBE_KILLED = re.compile(r"^(container exec_die execID=<exec [^>]+> exitCode=)(?:127|137)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROMPT = re.compile(r"^(/ # )+")


def normalize_text(text, names, replacements, rules):
    for old, new in replacements:
        text = text.replace(old, new)
    text = names.text(text.replace("\r\n", "\n"))
    text = CLI_WAIT_RACE.sub("", text)
    if "shell" in rules and text:
        # A busybox shell on a terminal, with typed lines `echo markN...`: its prompts, echoes,
        # banner and cursor queries depend on when the typing arrived; its answers do not.
        lines = []
        for line in re.split(r"[\r\n]", ANSI.sub("", text)):
            line = PROMPT.sub("", line).strip()
            if line and not line.startswith(("echo mark", "BusyBox v", "Enter 'help'", "exit ")):
                lines.append(line)
        text = "\n".join(lines) + "\n"
    for pattern, token in TIMES:
        text = pattern.sub(token, text)
    if "top" in rules:  # ps columns: UID PID PPID C STIME TTY TIME CMD
        lines = []
        for line in text.split("\n"):
            fields = line.split(None, 7)
            if len(fields) == 8 and fields[1].isdigit():
                fields[1:3] = ["<pid>", "<pid>"]
                fields[4] = "<stime>"
                fields[6] = "<time>"
            elif fields and fields[0].isdigit():
                fields[0] = "<pid>"
            lines.append(" ".join(fields))
        # ps sorts by pid, and pids wrap around: the order of the rows carries no meaning.
        text = "\n".join(lines[:1] + sorted(lines[1:]))
    if "numbers" in rules:  # figures, their units, and the table's column widths
        text = re.sub(r"\d+(\.\d+)?([kKMGT]i?)?B\b", "<size>", text)
        text = re.sub(r"\d+(\.\d+)?", "<n>", text)
        text = re.sub(r" {2,}", "  ", text)
    return text


def normalize(directory):
    events = []
    for line in read(os.path.join(directory, "events.jsonl")).splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    names = Names(events)
    replacements = [tuple(l.split("\t", 1)) for l in read(os.path.join(directory, "replace")).splitlines() if "\t" in l]
    out = []
    steps = os.path.join(directory, "steps")
    for step in sorted(os.listdir(steps)):
        d = os.path.join(steps, step)
        rules = read(os.path.join(d, "normalize")).split()
        norm = lambda t: normalize_text(t, names, replacements, rules)
        out.append(f"=== step {step}: {read(os.path.join(d, 'name')).strip()}")
        out.append(f"$ {norm(read(os.path.join(d, 'command')).strip())}")
        out.append(f"exit code: {read(os.path.join(d, 'rc'), '(none)').strip()}")
        for stream in ("stdout", "stderr"):
            text = norm(read(os.path.join(d, stream)))
            if text:
                out.append(f"--- {stream}")
                out.append(text.rstrip("\n"))
    # dockerd's events, per container in order of first appearance.
    groups = {}
    for event in events:
        kind = event.get("Type")
        actor = event.get("Actor", {})
        attributes = dict(actor.get("Attributes", {}) or {})
        if kind == "container":
            name = attributes.pop("name", "?")
        elif kind == "network" and attributes.get("container"):
            name = names.container.get(attributes.pop("container"), "?")
            attributes = {"network": attributes.get("name", "")}
        else:
            continue
        if "execDuration" in attributes:
            attributes["execDuration"] = "<n>"
        attributes.pop("image", None)
        text = f"{kind} {event.get('Action', '')}"
        if attributes:
            text += " " + " ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
        groups.setdefault(name, []).append(normalize_text(text, names, replacements, []))
    # Pairs that dockerd logs from two goroutines, in either order; put in one order:
    # - a probe that timed out is reported unhealthy without waiting for the probe's exit
    #   event (moby's health.go);
    # - "die" is logged by the exit handler after it marked the container stopped, "stop" by
    #   `docker stop` once it sees the container stopped.
    racing = [("container health_status", "container exec_die"), ("container stop", "container die")]
    # And left out: the CLI's attach to a container whose start failed ends while `--rm`
    # removes it, so dockerd logs "detach" for it or not, before "destroy" or after it (seen
    # once with v29-lcd on containerd 2: dockerd's attach goroutine races the --rm removal,
    # both after the failed start has returned).
    for name, lines in groups.items():
        groups[name] = [
            line
            for line in lines
            if not (line == "container detach" and "container destroy" in lines and "container start" not in lines)
        ]
    for lines in groups.values():
        for k in range(len(lines) - 1):
            for first, second in racing:
                if lines[k].startswith(first) and lines[k + 1].startswith(second):
                    lines[k], lines[k + 1] = lines[k + 1], lines[k]
        # The exit code of a probe killed at its timeout (its exec_die is followed by
        # "unhealthy"): moby's exit handler logs the code, 137, if it still holds the exec, and
        # 127 if the probe's ContainerExecStart, returning once its kill was sent, dropped the
        # exec first (daemon/monitor.go, daemon/exec.go). A race inside dockerd: about 1 probe
        # in 50 logs 137, with either build (4 of 190 measured).
        for k in range(len(lines) - 1):
            if lines[k + 1] == "container health_status: unhealthy":
                lines[k] = PROBE_KILLED.sub(r"\1<127 or 137>", lines[k])
    for name, lines in groups.items():
        out.append(f"=== events of {name}")
        out.extend(lines)
    with open(os.path.join(directory, "transcript.txt"), "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"{len(os.listdir(steps))} steps and {len(events)} events in {directory}/transcript.txt")


def sections(path):
    result = {}
    order = []
    current = None
    for line in read(path).splitlines():
        if line.startswith("=== "):
            current = line[4:]
            order.append(current)
            result[current] = []
        elif current is not None:
            result[current].append(line)
    return order, result


def diff(a_path, b_path):
    a_order, a = sections(a_path)
    b_order, b = sections(b_path)
    differing = 0
    for title in a_order + [t for t in b_order if t not in a]:
        if a.get(title) == b.get(title):
            continue
        differing += 1
        print(f"--- differs: {title}")
        if title not in a or title not in b:
            print(f"    only in {b_path if title not in a else a_path}")
        for line in difflib.unified_diff(a.get(title, []), b.get(title, []), a_path, b_path, n=10, lineterm=""):
            print("    " + line)
    total = len(set(a_order) | set(b_order))
    print(f"{differing} of {total} transcript sections differ between {a_path} and {b_path}")
    return 1 if differing else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["normalize"] and len(sys.argv) == 3:
        normalize(sys.argv[2])
    elif sys.argv[1:2] == ["diff"] and len(sys.argv) == 4:
        sys.exit(diff(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
