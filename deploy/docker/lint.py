#!/usr/bin/python3
"""A small offline Dockerfile linter for the rules that matter here (hadolint is not in Debian).

Usage: python3 deploy/docker/lint.py deploy/docker/Dockerfile [more Dockerfiles]

Rules (hadolint's number where there is one):
  from-arg     every FROM names its image through an ARG declared before the first FROM (or an
               earlier stage), so the base is chosen (and pinned) in one place; a literal image
               must carry an explicit tag that is not `latest` (DL3006, DL3007)
  user         the final stage switches to a user that is not root (DL3002)
  healthcheck  the final stage has a HEALTHCHECK (not NONE)
  add          no ADD: COPY for local files, and no ADD of URLs (DL3020)
  apt          apt-get install with -y and --no-install-recommends (DL3014, DL3015); the same RUN
               deletes /var/lib/apt/lists (DL3009); no apt-get update on its own (DL3059-ish);
               no upgrade/dist-upgrade (DL3005); apt, not apt-get, is for people (DL3027)
  sudo         no sudo in RUN (DL3004)
  exec-form    ENTRYPOINT and CMD in JSON (exec) form, so signals reach the process (DL3025)
  copy-from    COPY --from names a stage defined earlier (or an image reference with a tag)
  expose       the final stage EXPOSEs a port
Exit status 1 when any rule fails; each failure names the file, the line and the rule.
"""
import json
import re
import shlex
import sys


def instructions(path):
    """Yields (line number, INSTRUCTION, arguments) with continuation lines joined."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i, escape = 0, "\\"
    while i < len(lines):
        line = lines[i]
        start = i + 1
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            m = re.match(r"#\s*escape\s*=\s*(\S)", line.strip())
            if m and start == 1:
                escape = m.group(1)
            continue
        text = line
        while text.rstrip().endswith(escape) and i < len(lines):
            text = text.rstrip()[:-1] + " "
            while i < len(lines) and lines[i].lstrip().startswith("#"):
                i += 1  # a comment inside a continuation is dropped; the instruction goes on
            if i < len(lines):
                text += lines[i]
                i += 1
        parts = text.strip().split(None, 1)
        yield start, parts[0].upper(), (parts[1] if len(parts) > 1 else "")


def lint(path):
    problems = []

    def fail(line, rule, msg):
        problems.append(f"{path}:{line}: [{rule}] {msg}")

    global_args = set()
    stages = []  # dicts: name, line, instructions
    for line, ins, args in instructions(path):
        if ins == "FROM":
            words = args.split()
            flags = [w for w in words if w.startswith("--")]
            rest = [w for w in words if not w.startswith("--")]
            image = rest[0] if rest else ""
            name = rest[2] if len(rest) >= 3 and rest[1].upper() == "AS" else None
            stages.append({"name": name, "line": line, "image": image, "ins": [], "flags": flags})
            known = {s["name"] for s in stages[:-1] if s["name"]}
            if "$" in image:
                for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", image):
                    if var not in global_args:
                        fail(line, "from-arg", f"FROM {image}: ${var} is not an ARG declared before the first FROM")
            elif image in known or image == "scratch":
                pass
            else:
                tag = image.split("@")[0].rsplit("/", 1)[-1]
                if "@" not in image and (":" not in tag or tag.endswith(":latest")):
                    fail(line, "from-arg", f"FROM {image}: no explicit tag (or latest); pin it")
                else:
                    fail(line, "from-arg", f"FROM {image}: literal base image; choose it with an ARG (ARG BASE_IMAGE=...)")
            continue
        if not stages:
            if ins == "ARG":
                global_args.add(args.split("=", 1)[0].strip())
            continue
        stages[-1]["ins"].append((line, ins, args))

    if not stages:
        fail(1, "from-arg", "no FROM")
        return problems

    stage_names = set()
    for s in stages:
        for line, ins, args in s["ins"]:
            if ins == "ADD":
                what = "a URL" if re.search(r"(https?|git|ftp)://", args) else "local files"
                fail(line, "add", f"ADD of {what}: use COPY (and curl/wget with a checksum for URLs)")
            if ins == "COPY":
                m = re.search(r"--from=(\S+)", args)
                if m:
                    ref = m.group(1)
                    if not (ref in stage_names or ref.isdigit() and int(ref) < len(stage_names) or
                            ("/" in ref or ":" in ref) and not ref.endswith(":latest")):
                        fail(line, "copy-from", f"COPY --from={ref}: not an earlier stage")
            if ins == "RUN":
                body = args
                if body.startswith("["):
                    try:
                        body = " ".join(json.loads(body))
                    except ValueError:
                        pass
                if re.search(r"(^|[;&|]\s*)sudo\b", body):
                    fail(line, "sudo", "sudo in RUN: the build runs as root already; use USER")
                if re.search(r"\bapt-get\s+(-\S+\s+)*(upgrade|dist-upgrade)\b", body):
                    fail(line, "apt", "apt-get upgrade in an image build: update the base image instead")
                if re.search(r"(^|[;&|]\s*)apt\s+(install|update)", body):
                    fail(line, "apt", "use apt-get in scripts (apt's interface is not stable)")
                for cmd in re.split(r"&&|;|\|\|", body):
                    cmd = cmd.strip()
                    if re.search(r"\bapt-get\b.*\binstall\b", cmd):
                        try:
                            words = shlex.split(cmd)
                        except ValueError:
                            words = cmd.split()
                        if not ({"-y", "--yes", "-qy", "-yq", "--assume-yes"} & set(words)):
                            fail(line, "apt", "apt-get install without -y")
                        if "--no-install-recommends" not in words:
                            fail(line, "apt", "apt-get install without --no-install-recommends")
                if re.search(r"\bapt-get\b[^;&|]*\binstall\b", body):
                    if "apt-get update" not in body:
                        fail(line, "apt", "apt-get install without apt-get update in the same RUN (stale lists from the cache)")
                    if not re.search(r"rm\s+-(rf|fr)\s+/var/lib/apt/lists", body):
                        fail(line, "apt", "apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN")
                elif re.search(r"\bapt-get\s+update\b", body):
                    fail(line, "apt", "apt-get update alone in a RUN: cached apart from the install")
        if s["name"]:
            stage_names.add(s["name"])

    final = stages[-1]
    ins_final = final["ins"]
    users = [(line, args) for line, ins, args in ins_final if ins == "USER"]
    if not users:
        fail(final["line"], "user", "the final stage has no USER: it runs as root")
    else:
        line, user = users[-1]
        u = user.split(":")[0].strip()
        if u in ("root", "0") or u.startswith("$"):
            fail(line, "user", f"USER {user}: the final stage must run as a fixed non-root user")
    hcs = [(line, args) for line, ins, args in ins_final if ins == "HEALTHCHECK"]
    if not hcs or hcs[-1][1].strip().upper() == "NONE":
        fail(final["line"], "healthcheck", "the final stage has no HEALTHCHECK")
    if not any(ins == "EXPOSE" for _, ins, _ in ins_final):
        fail(final["line"], "expose", "the final stage EXPOSEs no port")
    for s in stages:
        for line, ins, args in s["ins"]:
            if ins in ("ENTRYPOINT", "CMD") and not args.strip().startswith("["):
                fail(line, "exec-form", f"{ins} in shell form: PID 1 would be /bin/sh, which does not pass on SIGTERM")
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    problems = []
    for path in argv[1:]:
        p = lint(path)
        print(f"dockerfile-lint: {path}: {'ok' if not p else str(len(p)) + ' problem(s)'}")
        problems += p
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
