"""Shell integration: the code `gradexplain init bash|zsh|fish` prints for the rc file.

The text is static, so sourcing it starts no Python process: the user's shell pays for
gradexplain only when `gx`, a wrapped `python script.py` or a TAB completion runs. Everything
shared by the three shells (the help text, the regex of a re-runnable history line, typer's
completion script) is made here once and quoted into each shell's template."""

from __future__ import annotations

import os
from typing import TextIO

SHELLS = ("bash", "zsh", "fish")
PROG = "gradexplain"
COMPLETE_VAR = "_GRADEXPLAIN_COMPLETE"

# A history line gx can send through `gradexplain run`:
#   [VAR=value ...] python[3[.N]] [-u|-B|-O ...] script.py [args and the rest of the line]
# Groups: 1 the assignments, 5 the interpreter options, 7 the script, 8 the rest. POSIX ERE
# (bash, zsh) and PCRE (fish) read it alike; a line with anything else in front of the script
# (`python -m`, `python -c`, `-X dev`, a quoted script name) is not re-run.
RERUN_RE = (r"^(([A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*[[:space:]]+)*)"
            r"python(3(\.[0-9]+)?)?"
            r"(([[:space:]]+-[uBO]+)*)"
            r"[[:space:]]+([^-[:space:]][^[:space:]]*\.py)"
            r"([[:space:]].*)?$")

GX_HELP = """\
gx: explain a PyTorch autograd error with gradexplain.
  python train.py 2>&1 | gx   explain what a run printed (gx FILE explains a log file)
  gx                          after `python train.py ...` failed: run it again through
                              `gradexplain run` (asking first on a terminal) and explain
  gradexplain --help          everything else gradexplain does"""

HISTORY_DEPTH = 10  # gx looks this far back for a command that is not gx itself


def init_command(shell: str, wrap_python: bool, stdout: TextIO) -> int:
    stdout.write(init_script(shell, wrap_python))
    return 0


def init_script(shell: str, wrap_python: bool = False) -> str:
    """The whole text to eval: gx, the optional python wrapper, completions."""
    if shell not in SHELLS:
        from gradexplain.app import UsageError  # only here: this module imports nothing heavy

        raise UsageError(f"unknown shell {shell!r}: use one of {', '.join(SHELLS)}")
    parts = [fill(TEMPLATES[shell], shell)]
    if wrap_python:
        parts.append(WRAPPERS[shell])
    parts.append(completion_script(shell))
    return "\n".join(part.strip("\n") + "\n" for part in parts)


def fill(template: str, shell: str) -> str:
    """Put the pieces the shells share, quoted for this one, into its template."""
    quote = fish_quote if shell == "fish" else sh_quote
    # in PCRE `.` must be told to take newlines, as in ERE: a line continued with `\`
    regex = ("(?s)" if shell == "fish" else "") + RERUN_RE
    return (template.replace("@HELP@", " ".join(map(quote, GX_HELP.splitlines())))
            .replace("@RERUN_RE@", quote(regex))
            .replace("@DEPTH@", str(HISTORY_DEPTH)))


def completion_script(shell: str) -> str:
    """typer's own completion script for the shell: static text that calls `gradexplain`
    (with COMPLETE_VAR set) only when TAB is pressed."""
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)
    if shell == "zsh":
        # `compdef` exists only after compinit; without it the rc file would print an error
        script = f"if (( ${{+functions[compdef]}} )); then\n{script}\nfi"
    return f"# completion of gradexplain's commands (typer)\n{script}\n"


def enable_completion() -> None:
    """A TAB press runs `_GRADEXPLAIN_COMPLETE=complete_SHELL gradexplain`; typer answers it
    only for shells whose completion classes are registered, and the CLI (which offers no
    --install-completion) registers none, so register them for that request only."""
    if COMPLETE_VAR in os.environ:
        from typer._completion_classes import completion_init

        completion_init()


def sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


BASH = r"""
# gradexplain shell integration for bash; in ~/.bashrc:  eval "$(gradexplain init bash)"
# Static code: Python starts only when gx runs or TAB completes a gradexplain command.

function gx {
    case ${1-} in
        -h|--help) __gradexplain_gx_help; return 0 ;;
    esac
    if [ "$#" -gt 0 ] || [ -p /dev/stdin ] || [ -f /dev/stdin ]; then
        gradexplain explain "$@"
        return
    fi
    local line run answer
    line=$(__gradexplain_last_command) || {
        printf 'gx: no earlier command in this shell'\''s history to re-run\n' >&2
        __gradexplain_gx_help >&2
        return 2
    }
    run=$(__gradexplain_rerun "$line") || {
        printf 'gx: the last command is not `python script.py ...`: %s\n' "$line" >&2
        __gradexplain_gx_help >&2
        return 2
    }
    if [ -t 0 ]; then
        printf 'Re-run `%s` through gradexplain? [Y/n] ' "$line" >&2
        read -r answer || answer=n
        case $answer in
            ''|[Yy]|[Yy][Ee][Ss]) ;;
            *) return 1 ;;
        esac
    else
        printf 'gx: %s\n' "$run" >&2
    fi
    eval "$run"
}

function __gradexplain_gx_help {
    printf '%s\n' @HELP@
}

function __gradexplain_last_command {
    # the newest history entry that is not gx itself (an interactive bash leaves out the
    # line being run)
    local i line
    for ((i = 1; i <= @DEPTH@; i++)); do
        line=$(fc -ln "-$i" "-$i" 2>/dev/null) || return 1
        line=${line#"${line%%[![:space:]]*}"}
        case $line in
            gx|gx[[:space:]]*) continue ;;
        esac
        [ -n "$line" ] || return 1
        printf '%s\n' "$line"
        return 0
    done
    return 1
}

function __gradexplain_rerun {
    # `python -u train.py 2>&1 | tee log`
    #   -> `PYTHONUNBUFFERED=1 gradexplain run train.py 2>&1 | tee log`
    local re=@RERUN_RE@ env options
    [[ $1 =~ $re ]] || return 1
    env=${BASH_REMATCH[1]}
    options=${BASH_REMATCH[5]}
    case $options in *u*) env+='PYTHONUNBUFFERED=1 ' ;; esac
    case $options in *B*) env+='PYTHONDONTWRITEBYTECODE=1 ' ;; esac
    case $options in
        *O*O*) env+='PYTHONOPTIMIZE=2 ' ;;
        *O*) env+='PYTHONOPTIMIZE=1 ' ;;
    esac
    printf '%sgradexplain run %s%s\n' "$env" "${BASH_REMATCH[7]}" "${BASH_REMATCH[8]}"
}
"""

ZSH = r"""
# gradexplain shell integration for zsh; in ~/.zshrc, after compinit:
#   eval "$(gradexplain init zsh)"
# Static code: Python starts only when gx runs or TAB completes a gradexplain command.

function gx {
    # no `emulate -L zsh` here: the re-run line must see the user's own options
    case ${1-} in
        -h|--help) __gradexplain_gx_help; return 0 ;;
    esac
    if (( $# > 0 )) || [[ -p /dev/stdin || -f /dev/stdin ]]; then
        gradexplain explain "$@"
        return
    fi
    local line run answer
    line=$(__gradexplain_last_command) || {
        print -ru2 -- "gx: no earlier command in this shell's history to re-run"
        __gradexplain_gx_help >&2
        return 2
    }
    run=$(__gradexplain_rerun "$line") || {
        print -ru2 -- "gx: the last command is not \`python script.py ...\`: $line"
        __gradexplain_gx_help >&2
        return 2
    }
    if [[ -t 0 ]]; then
        print -rnu2 -- "Re-run \`$line\` through gradexplain? [Y/n] "
        read -r answer || answer=n
        case $answer in
            ''|[Yy]|[Yy][Ee][Ss]) ;;
            *) return 1 ;;
        esac
    else
        print -ru2 -- "gx: $run"
    fi
    eval "$run"
}

function __gradexplain_gx_help {
    print -rl -- @HELP@
}

function __gradexplain_last_command {
    # the newest history entry that is not gx itself; $history leaves out the line being run
    emulate -L zsh
    zmodload -F zsh/parameter p:history 2>/dev/null
    local n line
    for (( n = HISTCMD - 1; n > 0 && n >= HISTCMD - @DEPTH@; n-- )); do
        (( ${+history[$n]} )) || continue
        line=${history[$n]}
        line=${line#"${line%%[![:space:]]*}"}
        [[ $line == gx || $line == gx[[:space:]]* ]] && continue
        [[ -n $line ]] || return 1
        print -r -- "$line"
        return 0
    done
    return 1
}

function __gradexplain_rerun {
    # `python -u train.py 2>&1 | tee log`
    #   -> `PYTHONUNBUFFERED=1 gradexplain run train.py 2>&1 | tee log`
    emulate -L zsh
    local re=@RERUN_RE@ env options
    [[ $1 =~ $re ]] || return 1
    env=$match[1]
    options=$match[5]
    [[ $options == *u* ]] && env+='PYTHONUNBUFFERED=1 '
    [[ $options == *B* ]] && env+='PYTHONDONTWRITEBYTECODE=1 '
    case $options in
        *O*O*) env+='PYTHONOPTIMIZE=2 ' ;;
        *O*) env+='PYTHONOPTIMIZE=1 ' ;;
    esac
    print -r -- "${env}gradexplain run $match[7]$match[8]"
}
"""

FISH = r"""
# gradexplain shell integration for fish; in ~/.config/fish/config.fish:
#   gradexplain init fish | source
# Static code: Python starts only when gx runs or TAB completes a gradexplain command.

function gx --description 'Explain a PyTorch autograd error (gradexplain)'
    if contains -- "$argv[1]" -h --help
        __gradexplain_gx_help
        return 0
    end
    # the function's own stdin is what an external `test` sees
    if test (count $argv) -gt 0; or command test -p /dev/stdin; or command test -f /dev/stdin
        gradexplain explain $argv
        return $status
    end
    set -l line
    for entry in $history[1..@DEPTH@]
        # $history leaves out the line being run; skip earlier gx calls too
        string match -qr '^\s*gx(\s|$)' -- $entry; and continue
        set line (string trim -- $entry | string collect)
        break
    end
    if test -z "$line"
        echo "gx: no earlier command in this shell's history to re-run" >&2
        __gradexplain_gx_help >&2
        return 2
    end
    set -l re @RERUN_RE@
    if not string match -qr -- $re $line
        printf 'gx: the last command is not `python script.py ...`: %s\n' $line >&2
        __gradexplain_gx_help >&2
        return 2
    end
    # `python -u train.py 2>&1 | tee log`
    #   -> `PYTHONUNBUFFERED=1 gradexplain run train.py 2>&1 | tee log`
    set -l env (string replace -r -- $re '$1' $line | string collect)
    set -l options (string replace -r -- $re '$5' $line | string collect)
    string match -q '*u*' -- $options; and set env "$env""PYTHONUNBUFFERED=1 "
    string match -q '*B*' -- $options; and set env "$env""PYTHONDONTWRITEBYTECODE=1 "
    if string match -q '*O*O*' -- $options
        set env "$env""PYTHONOPTIMIZE=2 "
    else if string match -q '*O*' -- $options
        set env "$env""PYTHONOPTIMIZE=1 "
    end
    set -l run "$env"'gradexplain run '(string replace -r -- $re '$7$8' $line | string collect)
    if isatty stdin
        read -l -P "Re-run `$line` through gradexplain? [Y/n] " answer; or set answer n
        contains -- (string lower -- "$answer") '' y yes; or return 1
    else
        printf 'gx: %s\n' $run >&2
    end
    eval $run
end

function __gradexplain_gx_help
    printf '%s\n' @HELP@
end
"""

TEMPLATES = {"bash": BASH, "zsh": ZSH, "fish": FISH}

# --wrap-python: `python script.py ...` goes through `gradexplain run`; the REPL, -c, -m, any
# other option and a first argument that is not an existing .py file reach python untouched.
# gradexplain run executes the script with the interpreter gradexplain is installed in, so the
# wrapper steps aside when that is not the `python` on PATH (another venv or conda env), when
# gradexplain is not on PATH at all, and when GRADEXPLAIN=0.
SH_WRAPPER = r"""
# --wrap-python: `python script.py ...` runs through `gradexplain run`; `command python`
# or GRADEXPLAIN=0 skips it
function python { __gradexplain_python python "$@"; }
function python3 { __gradexplain_python python3 "$@"; }

function __gradexplain_python {
    local interpreter=$1
    shift
    if [[ ${GRADEXPLAIN-} != 0 && ${1-} == *.py && -f ${1-} ]] \
            && __gradexplain_same_env "$interpreter"; then
        gradexplain run "$@"
    else
        command "$interpreter" "$@"
    fi
}

function __gradexplain_same_env {
    # does gradexplain's launcher name an interpreter in the same folder as this one?
    local tool interpreter first
    tool=$(@WHICH@ gradexplain) && interpreter=$(@WHICH@ "$1") || return 1
    { IFS= read -r first < "$tool"; } 2>/dev/null || return 1
    first=${first#'#!'}
    first=${first%%[[:space:]]*}
    case ${first##*/} in
        python*) [[ ${first%/*} == "${interpreter%/*}" ]] ;;
        *) return 0 ;;  # `#!/usr/bin/env python`, a /bin/sh launcher: trust PATH
    esac
}
"""

FISH_WRAPPER = r"""
# --wrap-python: `python script.py ...` runs through `gradexplain run`; `command python`
# or GRADEXPLAIN=0 skips it
function python
    __gradexplain_python python $argv
end

function python3
    __gradexplain_python python3 $argv
end

function __gradexplain_python
    set -l interpreter $argv[1]
    set -e argv[1]
    if test "$GRADEXPLAIN" != 0; and string match -q -- '*.py' "$argv[1]"; and test -f "$argv[1]"
        and __gradexplain_same_env $interpreter
        gradexplain run $argv
    else
        command $interpreter $argv
    end
end

function __gradexplain_same_env
    # does gradexplain's launcher name an interpreter in the same folder as this one?
    set -l tool (command -s gradexplain); or return 1
    set -l interpreter (command -s $argv[1]); or return 1
    read -l first < $tool 2>/dev/null; or return 1
    set -l launcher (string replace -r '^#!(\S*).*' '$1' -- $first)
    # `#!/usr/bin/env python`, a /bin/sh launcher: trust PATH
    string match -q 'python*' -- (string replace -r '.*/' '' -- $launcher); or return 0
    set -l folders (string replace -r '/[^/]*$' '' -- $launcher $interpreter)
    test "$folders[1]" = "$folders[2]"
end
"""

WRAPPERS = {"bash": SH_WRAPPER.replace("@WHICH@", "type -P"),
            "zsh": SH_WRAPPER.replace("@WHICH@", "whence -p"),
            "fish": FISH_WRAPPER}
