#!/usr/bin/env python3
"""Tests of tests/dockerd_transcript.py: what its normalization hides, and what it must not hide.

Each test writes two runs' events (as `docker events --format '{{json .}}'` prints them) and
compares their transcripts the way `tests/dockerd_e2e.sh compare` does.
"""
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dockerd_transcript  # noqa: E402


def event(action, container_id, name, **attributes):
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": container_id, "Attributes": dict(attributes, name=name, image="busybox:lcd-e2e")},
        "time": 1796593877,
    }


def timed_out_probe(exit_code, container_id, exec_id):
    """A container whose health probe timed out, in the order dockerd logged it."""
    probe = "exec_create: /bin/sh -c sleep 30"
    return [
        event("create", container_id, "t-health-timeout"),
        event("start", container_id, "t-health-timeout"),
        event(probe, container_id, "t-health-timeout", execID=exec_id),
        event(probe.replace("exec_create", "exec_start"), container_id, "t-health-timeout", execID=exec_id),
        event("health_status: unhealthy", container_id, "t-health-timeout"),
        event("exec_die", container_id, "t-health-timeout", execID=exec_id, exitCode=str(exit_code)),
    ]


def exec_exit(exit_code, container_id, exec_id):
    return [
        event("exec_create: sh -c exit", container_id, "t-exec", execID=exec_id),
        event("exec_start: sh -c exit", container_id, "t-exec", execID=exec_id),
        event("exec_die", container_id, "t-exec", execID=exec_id, exitCode=str(exit_code)),
    ]


class TranscriptComparison(unittest.TestCase):
    def differing_sections(self, events_a, events_b):
        with tempfile.TemporaryDirectory() as root:
            paths = []
            for side, events in (("a", events_a), ("b", events_b)):
                directory = os.path.join(root, side)
                os.makedirs(os.path.join(directory, "steps"))
                with open(os.path.join(directory, "events.jsonl"), "w") as f:
                    f.writelines(json.dumps(e) + "\n" for e in events)
                with contextlib.redirect_stdout(io.StringIO()):
                    dockerd_transcript.normalize(directory)
                paths.append(os.path.join(directory, "transcript.txt"))
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                dockerd_transcript.diff(*paths)
            return [line[len("--- differs: ") :] for line in out.getvalue().splitlines() if line.startswith("--- differs: ")]

    def test_a_timed_out_probe_killed_with_137_or_dropped_with_127_is_the_same_transcript(self):
        # moby's exit handler logs 127 for an exec it no longer holds; the probe's
        # ContainerExecStart drops the exec once its kill returned: which comes first is a race
        # inside dockerd, seen with both builds (about 1 probe in 50 logs 137).
        lcd = timed_out_probe(137, "1" * 64, "2" * 64)
        stock = timed_out_probe(127, "3" * 64, "4" * 64)
        self.assertEqual(self.differing_sections(stock, lcd), [])

    def test_a_timed_out_probe_with_another_exit_code_still_differs(self):
        lcd = timed_out_probe(1, "1" * 64, "2" * 64)
        stock = timed_out_probe(127, "3" * 64, "4" * 64)
        self.assertEqual(self.differing_sections(stock, lcd), ["events of t-health-timeout"])

    def test_an_exec_exit_code_outside_a_probe_still_differs(self):
        lcd = exec_exit(137, "1" * 64, "2" * 64)
        stock = exec_exit(127, "3" * 64, "4" * 64)
        self.assertEqual(self.differing_sections(stock, lcd), ["events of t-exec"])


if __name__ == "__main__":
    unittest.main()
