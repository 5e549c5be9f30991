"""Subprocess entry point that runs a user's Pulumi program against the StackRunner's monitor.

``python -u _program.py --monitor ADDR --engine ADDR --project P --stack S
--dry_run true|false --pwd DIR --root_directory DIR PROGRAM``

It does what the CLI's Python language host does (``sdk/python/cmd/pulumi-language-python-exec``): read
the config from ``PULUMI_CONFIG`` / ``PULUMI_CONFIG_SECRET_KEYS``, configure ``pulumi.runtime.Settings``,
``chdir`` to the project, and run the program with ``runpy.run_path(PROGRAM, run_name="__main__")`` inside
``pulumi.runtime.run_in_stack``, which registers the root ``pulumi:pulumi:Stack`` resource and, at the end,
its outputs (everything ``pulumi.export``-ed). Errors are reported through ``pulumi.log.error`` (the
engine's Log service), exit code 1 (32 when a message has already been shown), as the real host does.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import runpy
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

import pulumi
import pulumi.runtime

# Exit code the language host uses after it has already shown the user an actionable message.
_EXIT_AFTER_MESSAGE = 32


def _user_traceback(program: str) -> str:
    """The traceback with the runner's and runpy's frames removed, as the language host does."""
    frames = traceback.extract_tb(sys.exc_info()[2])
    keep = [f for f in frames if os.path.abspath(f.filename).startswith(program)] or list(frames)
    lines = traceback.format_list(keep)
    lines.extend(traceback.format_exception_only(*sys.exc_info()[:2]))
    return "Traceback (most recent call last):\n" + "".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the program; return the process exit code."""
    parser = argparse.ArgumentParser(description="Execute a Pulumi Python program (StackRunner)")
    parser.add_argument("--project", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--monitor", required=True)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--dry_run", default="false")
    parser.add_argument("--parallel", default="16")
    parser.add_argument("--pwd")
    parser.add_argument("--root_directory")
    parser.add_argument("--organization", default="organization")
    parser.add_argument("PROGRAM")
    parser.add_argument("ARGS", nargs="*")
    args = parser.parse_args(argv)

    # Config arrives exactly as the CLI passes it: a JSON object of "<namespace>:<key>" -> string (structured
    # values as JSON text, which pulumi.Config.get_object parses), plus the list of secret keys.
    pulumi.runtime.set_all_config(pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env())

    parallel = int(args.parallel)
    settings_kwargs = {
        "project": args.project,
        "stack": args.stack,
        "monitor": args.monitor,
        "engine": args.engine,
        "parallel": parallel,
        "dry_run": args.dry_run == "true",
        "organization": args.organization,
        "root_directory": args.root_directory,
    }
    try:
        settings = pulumi.runtime.Settings(**settings_kwargs)
    except TypeError:  # older SDKs lack organization/root_directory; the language host drops them too
        for key in ("organization", "root_directory"):
            settings_kwargs.pop(key)
        settings = pulumi.runtime.Settings(**settings_kwargs)
    pulumi.runtime.configure(settings)

    program = os.path.abspath(args.PROGRAM)
    sys.argv = [program, *args.ARGS]
    if args.pwd:
        os.chdir(args.pwd)
    if os.path.isfile(program):
        # runpy puts a directory program on sys.path itself; do the same for a single-file `main:`.
        sys.path.insert(0, os.path.dirname(program))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(max_workers=max(parallel, 1) * 4)
    loop.set_default_executor(executor)
    # The language host silences asyncio's complaints about futures left unobserved after a failure.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    exit_code = 1
    try:
        def run() -> None:
            runpy.run_path(program, run_name="__main__")

        coro = pulumi.runtime.run_in_stack(run)
        loop.run_until_complete(coro)
        exit_code = 0
    except pulumi.RunError as exc:
        pulumi.log.error(str(exc))
    except Exception:
        pulumi.log.error("Program failed with an unhandled exception:\n" + _user_traceback(program))
        exit_code = _EXIT_AFTER_MESSAGE
    finally:
        executor.shutdown(wait=True)
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
