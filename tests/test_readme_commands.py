"""Every command example in README.md and docs/*.md parses with the real parser (`--help` would
not catch a flag that does not exist)."""

import argparse
import re
import shlex

from pipeline import cli, configs

README = configs.REPO_ROOT / "README.md"
# The pages whose prose names flowers' flags; benchmarks.md also names other scripts' flags.
PAGES = [README, *sorted(p for p in (configs.REPO_ROOT / "docs").glob("*.md") if p.name != "benchmarks.md")]


def readme_commands(text: str) -> list[list[str]]:
    """`flowers ...` lines of code blocks and inline code, and `make run ARGS="..."`."""
    commands = []
    for block in re.findall(r"```(?:sh)?\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix(".venv/bin/")
            if line.startswith("flowers "):
                commands.append([t.strip("[]") for t in shlex.split(line, comments=True)[1:]])  # [optional]
    for span in re.findall(r"`([^`\n]+)`", text):
        span = span.strip().removeprefix(".venv/bin/")
        if span.startswith("flowers ") and "--help" not in span:
            commands.append(shlex.split(span.replace("\\|", "|"))[1:])  # `\|`: a pipe in a table
    for args in re.findall(r'make run ARGS="([^"]*)"', text):
        commands.append(["run", *shlex.split(args)])
    return commands


def test_every_readme_command_parses():
    commands = readme_commands(README.read_text())
    assert {c[0] for c in commands} == {"run", "ingest", "preview", "bench", "compile", "predict", "data-service"}
    assert len(commands) >= 12
    commands += [c for page in [*PAGES[1:], configs.REPO_ROOT / "docs" / "benchmarks.md"]
                 for c in readme_commands(page.read_text())]
    assert len(commands) >= 30
    parser = cli.build_parser()
    for args in commands:
        parsed = parser.parse_args(args)
        assert parsed.command == args[0]


def test_every_flag_the_readme_names_exists():
    """Flags named in prose (`--max-quarantined`) too, in the README and the docs."""
    def options(parser):
        """Every flag of a parser and of its subcommands, at any depth (`data-service worker`)."""
        for action in parser._actions:
            yield from action.option_strings
            for sub in (action.choices or {}).values() if isinstance(action, argparse._SubParsersAction) else ():
                yield from options(sub)

    known = set(options(cli.build_parser()))
    named = set()
    for span in re.findall(r"`(--[^`]+)`", "\n".join(p.read_text() for p in PAGES)):
        if not re.match(r"--[a-z_-]+=", span):  # Beam's and XLA's flags: `--runner=...`, `--xla_cpu_...=`
            # ours are kebab-case; Beam's (`--setup_file`) have underscores
            named |= set(re.findall(r"(?<![=\w-])--[a-z][a-z-]*(?![\w])", span))
    assert len(named) >= 8
    assert named <= known, sorted(named - known)


def test_an_unknown_flag_fails_the_parse(capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["ingest", "--max-pixels", "100"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "flowers: unrecognized arguments: --max-pixels 100 (see flowers --help).\n"
    )
