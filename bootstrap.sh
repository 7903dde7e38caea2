#!/bin/sh
# On a fresh Debian 12 machine "make" itself may be missing: install it,
# then hand over to the Makefile, which installs everything else with apt.
#
#   ./bootstrap.sh run     build and serve the gateway on 127.0.0.1:8080
#   ./bootstrap.sh test    build and run every test suite (what CI runs)
set -eu

cd "$(dirname "$0")"

if ! command -v make >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq make
fi

exec make "$@"
