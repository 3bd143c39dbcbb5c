# shellcheck shell=bash
# hostprep ini: sourced by nova-compute.sh and scheduler.sh, and inlined like common.sh when
# they are sent to a host. A line editor for oslo.config files: configparser would drop every
# comment of Debian's 10,000-line nova.conf, and sed cannot see sections or continuation lines. It reads lines the way oslo_config/iniparser.py does: "[name]" opens a
# section, "#" or ";" in column 0 is a comment, a line starting with a space or tab continues
# the previous value, a blank line ends it, and the key ends at the first "=" or ":". Every
# line it does not own is written back byte for byte.
INI_LINES=()
ini_load() { # <file>
  INI_LINES=()
  mapfile -t INI_LINES <"$1"
  ini_scan
}
ini_write() { # <file> -> the lines, each ending in a newline
  if ((${#INI_LINES[@]})); then printf '%s\n' "${INI_LINES[@]}" >"$1"; else : >"$1"; fi
}
# Fills INI_KIND (blank|section|comment|key|cont|other) and INI_SECT for every line, and for
# key lines INI_KEY and INI_END (the index of the entry's last continuation line); INI_KEYS
# lists the key lines. Cheap tests first: most of a sample nova.conf is comments.
ini_scan() {
  local i line c section='' owner=-1 k
  INI_KIND=() INI_SECT=() INI_KEY=() INI_END=() INI_KEYS=()
  for i in "${!INI_LINES[@]}"; do
    line=${INI_LINES[i]}
    c=${line:0:1}
    INI_SECT[i]=$section
    if [[ $c == [\#\;] ]]; then
      INI_KIND[i]=comment owner=-1
    elif [[ $line != *[![:space:]]* ]]; then
      INI_KIND[i]=blank owner=-1
    elif [[ $c == [[:blank:]] ]]; then
      if ((owner >= 0)); then
        INI_KIND[i]=cont INI_END[owner]=$i
      else
        INI_KIND[i]=other
      fi
    elif [[ $c == '[' ]]; then
      owner=-1
      line=${line%"${line##*[![:space:]]}"}
      if [[ $line == *']' && ${#line} -gt 2 ]]; then section=${line:1:${#line}-2}; fi
      INI_KIND[i]=section INI_SECT[i]=$section
    elif [[ $line == *[=:]* ]]; then
      k=${line%%[=:]*}
      k=${k%"${k##*[![:space:]]}"}
      INI_KIND[i]=key INI_KEY[i]=$k INI_END[i]=$i owner=$i
      INI_KEYS+=("$i")
    else
      INI_KIND[i]=other owner=-1
    fi
  done
}
# REPLY: the value of key line <i> as oslo.config reads it: after the separator, stripped,
# one pair of matching quotes removed; continuation lines joined with newlines.
ini_value() {
  local i=$1 j line v
  line=${INI_LINES[i]}
  v=${line#*[=:]}
  v=${v#"${v%%[![:space:]]*}"}
  v=${v%"${v##*[![:space:]]}"}
  if ((${#v} >= 2)) && [[ ${v:0:1} == "${v: -1}" && ${v:0:1} == [\"\'] ]]; then v=${v:1:${#v}-2}; fi
  for ((j = i + 1; j <= INI_END[i]; j++)); do
    line=${INI_LINES[j]}
    line=${line#"${line%%[![:space:]]*}"}
    v+=$'\n'${line%"${line##*[![:space:]]}"}
  done
  REPLY=$v
}
ini_entries() { # <section or *> <key> -> ENTRIES: indices of its key lines, in file order
  local i
  ENTRIES=()
  for i in "${INI_KEYS[@]}"; do
    if [[ ${INI_KEY[i]} == "$2" && ($1 == '*' || ${INI_SECT[i]} == "$1") ]]; then
      ENTRIES+=("$i")
    fi
  done
}
# Replaces lines <from>..<to> with the given lines; to = from - 1 inserts before <from>.
ini_splice() {
  local from=$1 to=$2
  shift 2
  INI_LINES=("${INI_LINES[@]:0:from}" "$@" "${INI_LINES[@]:to+1}")
}
# REPLY: where a new <key> goes in <section>: right after its commented-out default
# ("#key = ...", as oslo-config-generator writes it; "#    key = ..." is an example inside
# the help text), which is where a reader of Debian's or the sample nova.conf looks for it,
# else after the section's last non-blank line. -1 when the section does not exist.
ini_insert_at() {
  local section=$1 key=$2 i last=-1 re
  re="^#${key}[[:space:]]*[=:]"
  for i in "${!INI_LINES[@]}"; do
    [[ ${INI_SECT[i]} == "$section" ]] || continue
    if [[ ${INI_KIND[i]} == comment && ${INI_LINES[i]} =~ $re ]]; then
      REPLY=$((i + 1))
      return 0
    fi
    if [[ ${INI_KIND[i]} == section && $last -ge 0 ]]; then break; fi
    if [[ ${INI_KIND[i]} != blank ]]; then last=$i; fi
  done
  REPLY=$((last >= 0 ? last + 1 : -1))
}
# Sets <key> in <section> to the values given, one "key = value" line each (several for an
# oslo.config MultiOpt such as reserved_huge_pages); no value removes the key. Existing lines
# that already say exactly that stay as they are. INI_CHANGED=1 when the lines changed.
# shellcheck disable=SC2034 # INI_CHANGED is read by nova-compute.sh; scheduler.sh needs no flag
ini_set() { # <section> <key> [value...]
  local section=$1 key=$2 n i j at
  shift 2
  local values=("$@") lines=()
  INI_CHANGED=0
  for i in "$@"; do lines+=("$key = $i"); done
  ini_entries "$section" "$key"
  n=${#ENTRIES[@]}
  if ((n == $#)); then
    j=0
    for i in "${ENTRIES[@]}"; do
      ini_value "$i"
      [[ $REPLY == "${values[j]}" ]] || break
      j=$((j + 1))
    done
    if ((j == n)); then return 0; fi
  fi
  if ((n > 0)); then
    at=${ENTRIES[0]}
    for ((j = n - 1; j >= 0; j--)); do
      i=${ENTRIES[j]}
      ini_splice "$i" "${INI_END[i]}"
    done
  elif (($# == 0)); then
    return 0
  else
    ini_insert_at "$section" "$key"
    at=$REPLY
    if ((at < 0)); then
      # No such section: add it at the end, after a blank line.
      if ((${#INI_LINES[@]})) && [[ -n ${INI_LINES[-1]} ]]; then INI_LINES+=(""); fi
      INI_LINES+=("[$section]")
      at=${#INI_LINES[@]}
    fi
  fi
  ini_splice "$at" $((at - 1)) "${lines[@]}"
  ini_scan
  INI_CHANGED=1
}
