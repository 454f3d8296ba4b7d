#!/bin/sh
# Packages for the real-FreeRADIUS end-to-end test in tests/radius.rs (Debian/Ubuntu).
# The test starts its own server as the current user, on loopback, on free ports, from
# tests/freeradius/radiusd.conf.in in a temporary directory: no other setup is needed, and
# the packaged daemon (if the image starts one) does not get in its way.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends freeradius freeradius-utils
freeradius -v | sed -n 1p
command -v radclient
