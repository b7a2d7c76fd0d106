"""The command line speaks the shell's language: every `--help`, click's own words and
the commands' messages, in French under LANG=fr_FR.UTF-8 and in English otherwise."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest

from tests.conftest import make_user
from tracker.cli import command_line
from tracker.models import Role

COMMANDS = [
    ["event"],
    ["event", "create"],
    ["user"],
    ["user", "add"],
    ["user", "list"],
    ["user", "disable"],
    ["user", "enable"],
    ["user", "unlock"],
    ["user", "password"],
    ["token"],
    ["token", "create"],
    ["token", "revoke"],
    ["token", "list"],
    ["demo"],
    ["db"],
    ["db", "upgrade"],
    ["badges"],
    ["import"],
    ["export"],
]
FRENCH = "fr_FR.UTF-8"
ENGLISH = "en_GB.UTF-8"
# Three words or more in a row: a sentence, not an option name or a metavar.
SENTENCE = re.compile(r"[A-Za-z’']+(?: [A-Za-z’']+){2,}")


def invoke(app, args: list[str], language: str):
    """Run `tracker ARGS` in a shell whose language is `language`: the `tracker` group
    itself (app.cli alone would show a help outside any app context, which the real
    command never does)."""
    env = {"LANG": language, "LC_ALL": None, "LC_MESSAGES": None, "LANGUAGE": None}
    # Click makes each command's --help option once per process, in the process's
    # language; a test switches language within one process, so it forgets them.
    for command in _commands(app.cli):
        command._help_option = None
    return app.test_cli_runner().invoke(
        command_line(lambda: app), args=args, env=env, prog_name="tracker"
    )


def _commands(group: click.Group):
    for command in group.commands.values():
        yield command
        if isinstance(command, click.Group):
            yield from _commands(command)


def sentences(output: str) -> set[str]:
    """The English sentences of a help, its usage line aside (command names)."""
    body = output.split("\n", 1)[1].replace("\n", " ")
    body = re.sub(r"-{1,2}[\w-]+|\b[A-Z]{2,}\b", " ", body)  # option names, metavars
    return set(SENTENCE.findall(body))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_help_is_in_the_shells_language(app, command):
    english = invoke(app, [*command, "--help"], ENGLISH)
    french = invoke(app, [*command, "--help"], FRENCH)
    assert english.exit_code == 0 and french.exit_code == 0, french.output
    assert english.output.startswith("Usage: tracker " + " ".join(command))
    assert "Show this message and exit." in english.output
    assert french.output.startswith("Utilisation\u00a0: tracker " + " ".join(command))
    assert "Affiche ce message et quitte." in french.output
    left = sorted(s for s in sentences(english.output) if s in french.output)
    assert not left, f"English left in the French help: {left}"
    # every option says what it is for, in both languages
    for output in (english.output, french.output):
        lines = output.splitlines()
        for n, line in enumerate(lines):
            if re.match(r"^  -", line) and not line.startswith("  --help"):
                option, *description = re.split(r"\s{2,}", line.strip(), maxsplit=1)
                below = lines[n + 1] if n + 1 < len(lines) else ""
                described = description or re.match(r"^ {6,}\S", below)  # a long option
                assert described, f"{' '.join(command)} {option} has no help"


def test_the_help_is_translated_when_shown_not_when_imported(app):
    """The same process shows one help in French, then in English."""
    assert "Le titre de l’événement." in invoke(app, ["event", "create", "--help"], FRENCH).output
    again = invoke(app, ["event", "create", "--help"], ENGLISH).output
    assert "The event’s title." in again and "événement" not in again


def test_the_installed_command_prints_french_help(tmp_path):
    """`LANG=fr_FR.UTF-8 tracker event create --help`, as a person types it."""
    script = (
        "import sys; from tracker.cli import main; sys.argv = ['tracker', *sys.argv[1:]]; main()"
    )
    env = {"LANG": FRENCH, "PATH": "/usr/bin:/bin", "TRACKER_ENV": "development"}
    result = subprocess.run(
        [sys.executable, "-c", script, "event", "create", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Crée un événement ; les inscriptions ouvrent maintenant" in result.stdout.replace(
        "\u00a0", " "
    )
    assert "Le titre de l’événement." in result.stdout and "[obligatoire]" in result.stdout
    top = subprocess.run(
        [sys.executable, "-c", script, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert "tracker\u00a0: inscriptions et entrées des événements." in top.stdout
    # click names a file when its value is made, at import: in a real process, in French
    absent = subprocess.run(
        [sys.executable, "-c", script, "import", "x", "/nonexistent/liste.csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert "Fichier '/nonexistent/liste.csv' n’existe pas." in absent.stderr


def test_messages_and_errors_in_french(app):
    french = invoke(app, ["db", "upgrade"], FRENCH)
    assert french.exit_code == 0, french.output
    assert french.output == "base de données à la révision head\n"
    created = invoke(
        app,
        [
            "event",
            "create",
            "rencontres-2027",
            "--title",
            "Rencontres",
            "--starts",
            "2027-03-04T09:00",
            "--session",
            "Plénière",
        ],
        FRENCH,
    )
    assert created.exit_code == 0, created.output
    assert re.fullmatch(
        r"événement rencontres-2027 créé \(id \d+\)\n  session \d+\u00a0: Plénière\n",
        created.output,
    )
    wrong = invoke(app, ["event", "create", "x", "--title", "x", "--starts", "demain"], FRENCH)
    assert wrong.exit_code != 0
    assert (
        "Erreur\u00a0: Valeur incorrecte pour --starts\u00a0: « demain » n’est pas une date "
        "et une heure comme 2026-12-10T09:00"
    ).replace("« ", "«\u00a0").replace(" »", "\u00a0»") in wrong.output
    missing = invoke(app, ["event", "create", "x"], FRENCH)
    assert "Erreur\u00a0: Option manquante '--title'." in missing.output
    quota = invoke(
        app,
        [
            "event",
            "create",
            "x",
            "--title",
            "x",
            "--starts",
            "2027-03-04T09:00",
            "--quota",
            "cluster",
        ],
        FRENCH,
    )
    assert "n’est pas de la forme TYPE=N" in quota.output


def test_account_messages_in_french(app, db):
    make_user(app, db, Role.ORGANISER, [], email="orga@example.org")
    db.commit()
    listed = invoke(app, ["user", "list"], FRENCH)
    assert listed.output.split("\t")[2:] == ["actif", "-\n"]
    created = invoke(app, ["token", "create", "orga@example.org", "--name", "Porte A"], FRENCH)
    first = created.output.splitlines()[0]
    assert (
        first == "jeton «\u00a0Porte A\u00a0» pour orga@example.org (organiser)\u00a0; "
        "gardez-le secret\u00a0:"
    )
    revoked = invoke(app, ["token", "revoke", "orga@example.org", "--name", "Porte A"], FRENCH)
    assert revoked.output == "1 jeton révoqué\n"
    unknown = invoke(app, ["token", "revoke", "orga@example.org", "--name", "Door A"], ENGLISH)
    assert unknown.exit_code != 0 and unknown.output.startswith("Error: ")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANGUAGE": "fr:en", "LANG": "C.UTF-8"}, "Utilisation"),
        ({"LANGUAGE": "de:fr", "LANG": "C.UTF-8"}, "Utilisation"),
        ({"LANGUAGE": "en", "LANG": "fr_FR.UTF-8"}, "Usage"),
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "en_GB.UTF-8"}, "Utilisation"),
        ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "Usage"),
    ],
)
def test_the_language_is_read_as_gettext_reads_it(app, env, expected):
    """Our messages and click's words agree: both follow LANGUAGE, LC_ALL, LC_MESSAGES,
    LANG in that order."""
    for command in _commands(app.cli):
        command._help_option = None
    unset = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": None}
    result = app.test_cli_runner().invoke(
        command_line(lambda: app),
        args=["db", "--help"],
        env={**unset, **env},
        prog_name="tracker",
    )
    french = "Schéma de la base de données." in result.output
    assert result.output.startswith(expected)
    assert french == (expected == "Utilisation")
