#!/usr/bin/env python3
"""Runs docs/tutorial.md as written and checks what it shows (acceptance suite 70-tutorial).

Every ```sh block runs, in order, in one bash (aliases and exports carry over from block to block, as in the
reader's shell), from the repository's root. A plain ``` block that follows an sh block (prose between is
fine) is the output the tutorial promises for it: each of its lines must appear in what the block printed,
in order, after numbers that differ from run to run are masked (durations, sizes, rates, ages). Step result
lines (`  ok`, `  skipped`, `  FAILED`) of steps that run in parallel on different nodes finish in any order:
those are checked to be there, in any order. A ```yaml block right after a line naming a file of examples/ must
be that file, byte for byte. Every sh block must exit 0.

The tutorial is written for sandbox instance 0 (addresses 10.77.0.x); the commands and the expected output are
read with the addresses of instance $FLOCKER_SANDBOX_ID. `make release` is not run again: the suite runs the
release binary that `make test` built.

Usage: tutorial.py TUTORIAL WORKDIR. Prints one line per check: `PASS name` or `FAIL name<TAB>detail`.
"""
import os
import re
import subprocess
import sys


def blocks(text):
    """The fenced blocks of `text`: (language, body, first line number, the prose lines before it)."""
    out = []
    lines = text.split("\n")
    i = 0
    prose = []
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            prose.append(lines[i])
            i += 1
            continue
        lang = m.group(1)
        start = i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        out.append((lang, "\n".join(lines[start:j]), start + 1, prose))
        prose = []
        i = j + 1
    return out


def mask(line):
    """A line with what differs between runs masked."""
    line = re.sub(r"\(Up [^)]*\)", "(Up <t>)", line)
    line = re.sub(r"\b\d+m\d\ds\b", "<t>", line)
    line = re.sub(r"\b\d+(\.\d+)?s\b", "<t>", line)
    line = re.sub(r"\b\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)\b", "<size>", line)
    line = re.sub(r"\b\d+[smhd] ago\b", "<age> ago", line)
    return line.rstrip()


def is_result(line):
    return re.match(r"^  (ok|skipped|FAILED) ", line) is not None


def compare(expected, actual):
    """None when every expected line is found, else what is missing."""
    got = [mask(l) for l in actual.split("\n")]
    pos = 0
    results = [g for g in got if is_result(g)]
    for raw in expected.split("\n"):
        want = mask(raw)
        if not want.strip() or want.strip() == "...":
            continue
        if is_result(want):
            if want in results:
                results.remove(want)
                continue
            return "missing step line: %r" % raw
        try:
            pos = got.index(want, pos) + 1
        except ValueError:
            return "missing (or out of order): %r" % raw
    return None


def main():
    tutorial, work = sys.argv[1], sys.argv[2]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sid = os.environ.get("FLOCKER_SANDBOX_ID", "0")
    text = open(tutorial).read()

    def local(s):
        return s.replace("10.77.0.", "10.77.%s." % sid)

    found = blocks(text)
    # Files the tutorial shows.
    for lang, body, line, prose in found:
        if lang != "yaml":
            continue
        names = re.findall(r"`(examples/[^`]+\.ya?ml)`", "\n".join(prose[-3:]))
        name = "tutorial.md:%d: %s" % (line, names[-1] if names else "yaml block")
        if not names:
            print("FAIL %s\tno examples/ file named just before it" % name)
            continue
        shown = open(os.path.join(root, names[-1])).read()
        if shown.rstrip("\n") == body.rstrip("\n"):
            print("PASS %s is shown as it is" % name)
        else:
            print("FAIL %s\tthe block differs from the file" % name)

    # The commands, with the output each promises.
    steps = []
    for lang, body, line, prose in found:
        if lang == "sh":
            steps.append({"line": line, "body": body, "expected": []})
        elif lang == "" and steps:
            steps[-1]["expected"].append((line, body))
    script = ["shopt -s expand_aliases", "cd %s" % subprocess.list2cmdline([root])]
    for n, step in enumerate(steps):
        body = "\n".join(
            ": make release is built already by make test" if l.startswith("make release") else local(l)
            for l in step["body"].split("\n"))
        path = os.path.join(work, "block%d.sh" % n)
        with open(path, "w") as f:
            f.write(body + "\n")
        script.append('source %s > %s 2>&1; echo $? > %s' % (path, os.path.join(work, "out%d" % n), os.path.join(work, "rc%d" % n)))
    with open(os.path.join(work, "run.sh"), "w") as f:
        f.write("\n".join(script) + "\n")
    subprocess.run(["bash", os.path.join(work, "run.sh")], stdin=subprocess.DEVNULL)
    for n, step in enumerate(steps):
        first = step["body"].split("\n")[0]
        name = "tutorial.md:%d: %s" % (step["line"], first.split("#")[0].strip())
        try:
            rc = open(os.path.join(work, "rc%d" % n)).read().strip()
            out = open(os.path.join(work, "out%d" % n)).read()
        except OSError:
            print("FAIL %s\tdid not run" % name)
            continue
        tail = " | ".join(out.strip().split("\n")[-6:])
        if rc == "0":
            print("PASS %s exits 0" % name)
        else:
            print("FAIL %s exits 0\texit %s: %s" % (name, rc, tail))
        for line, expected in step["expected"]:
            problem = compare(local(expected), out)
            if problem is None:
                print("PASS %s prints what tutorial.md:%d shows" % (name, line))
            else:
                print("FAIL %s prints what tutorial.md:%d shows\t%s; it printed: %s" % (name, line, problem, " | ".join(out.strip().split("\n"))))


if __name__ == "__main__":
    main()
