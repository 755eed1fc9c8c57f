#!/bin/sh
# Entrypoint with the official redis image's behaviour: flags (or a .conf file) alone run
# redis-server, and a redis-server started without a config file gets --protected-mode no so
# other containers on the network can connect (network isolation protects it, as upstream says).
# The working directory /data is redis' default `dir` when none is configured.
set -eu
case "${1:-}" in
    -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ]; then
    shift
    case "${1:-}" in
        *.conf) ;;  # a config file decides protected mode itself
        *)
            case " $* " in
                *" --protected-mode "*) ;;
                *) set -- "$@" --protected-mode no ;;
            esac
            ;;
    esac
    exec redis-server "$@"
fi
exec "$@"
